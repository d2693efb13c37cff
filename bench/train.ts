/**
 * npm run bench:train — the training engine against TensorFlow.js on the same network, weights, data
 * order and AdamW maths. Node, WebAssembly with SIMD. The engine runs on 1 thread and on --threads
 * (default 2, worker_threads); tfjs-backend-wasm has no threads in Node, so TF.js runs on 1. The
 * Chromium variant, with 2 threads on both sides and WebGPU too, is bench/train-chromium.ts
 * (npm run bench:train-chromium).
 *   --quick        matmul 256/512/1024; tiny preset 50 steps, small preset 8 steps (TF.js takes ~25 s a
 *                  small-preset step here, so 50 would not fit the 10-minute budget)
 *   (default)      matmul up to 2048; 50 steps of both presets
 *   --json         one JSON object per case on stdout
 *   --steps N      training steps for every case (losses are compared after the same seeded steps)
 *   --threads N    the engine's threads for engineTokensPerS (1..4, default 2)
 *   --presets a,b  which presets to train (default tiny,small); --no-matmul skips the matmul rows
 * Figures are medians over steps (training) or repeats (matmul); ratios are against TF.js in this run.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { arenaFor, evalLoss, PRESETS, type PresetName, restoreInto, trainStep, WasmBackend } from '@shared/train';
import { spawnNode } from '../web/src/engine/wasm/threads.node.ts';
import {
  CORPUS_FILES,
  HP,
  matmulLine,
  matmulOperands,
  matmulRepeats,
  matmulRow,
  tfjsMatmulMs,
  tokensPerS,
  trainCase,
  trainLine,
  trainRow,
  trainTwin,
} from './train/case';
import { brownText } from './train/corpus';
import { args, flag, opt } from './lib/args';

const QUICK = flag('quick');
const JSON_OUT = flag('json');
const STEPS_SET = args.includes('--steps') ? Number(opt('steps', '50')) : null;
const stepsFor = (preset: PresetName) => STEPS_SET ?? (QUICK && preset === 'small' ? 8 : 50);
const THREADS = Number(opt('threads', '2'));

const log = (s: string) => {
  if (!JSON_OUT) console.log(s);
};

async function runTrainCase(preset: PresetName, text: string) {
  const c = trainCase(preset, text, stepsFor(preset));
  const runEngine = (threads: number) => {
    const engine = new WasmBackend(arenaFor(c.config, c.B, c.T), { threads, spawn: spawnNode });
    restoreInto(engine, c.state);
    const ms: number[] = [];
    c.batches.forEach((batch, k) => {
      const t0 = performance.now();
      trainStep(engine, batch, HP, k + 1);
      ms.push(performance.now() - t0);
    });
    const loss = evalLoss(engine, c.val);
    engine.dispose();
    return { ms, loss, threads, layout: engine.arena.params };
  };
  const single = runEngine(1);
  const threaded = THREADS > 1 ? runEngine(THREADS) : single;
  // Threads split work on the kernels' block boundaries: the run must be bit-identical to one thread's.
  if (threaded.loss !== single.loss) throw new Error(`threaded loss ${threaded.loss} != ${single.loss}`);
  const twin = await trainTwin(tf, c, single.layout, (ms) => log(`  ${preset}: TF.js first step ${ms.toFixed(0)} ms`));
  return {
    ...trainRow(c, 'wasm', threaded, { ...twin, threads: 1 }),
    engineTokensPerS1Thread: Math.round(tokensPerS(c.B, c.T, single.ms)),
  };
}

function engineMatmulMs(n: number): number[] {
  const arena = { ...arenaFor(PRESETS.tiny, 1, 1), size: 3 * n * n };
  const engine = new WasmBackend(arena);
  engine.f.set(matmulOperands(n));
  const ms: number[] = [];
  for (let r = 0; r <= matmulRepeats(n); r++) {
    const t0 = performance.now();
    engine.kernels.matmulForward(2 * n * n, 0, n * n, -1, n, n, n);
    ms.push(performance.now() - t0);
  }
  return ms;
}

setWasmPaths(`${dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`);
await tf.setBackend('wasm');
await tf.ready();
log(
  `TF.js ${tf.version.tfjs} on ${tf.getBackend()} (SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')}, threads 1); engine: wasm-simd, 1 thread`,
);

const emit = (row: object) => {
  if (JSON_OUT) console.log(JSON.stringify(row));
};
for (const n of flag('no-matmul') ? [] : QUICK ? [256, 512, 1024] : [256, 512, 1024, 2048]) {
  const row = matmulRow(n, 'wasm', engineMatmulMs(n), await tfjsMatmulMs(tf, n, matmulRepeats(n)));
  emit(row);
  log(matmulLine(row));
}
const text = brownText(CORPUS_FILES);
for (const preset of opt('presets', 'tiny,small').split(',') as PresetName[]) {
  if (!(preset in PRESETS)) throw new Error(`unknown preset ${preset}`);
  const row = await runTrainCase(preset, text);
  emit(row);
  log(trainLine(row, ` (${row.engineTokensPerS1Thread} on 1 thread)`));
}
