/**
 * npm run bench:train — the training engine against TensorFlow.js on the same network, weights, data
 * order and AdamW maths. Node, WebAssembly with SIMD. The engine runs on 1 thread and on --threads
 * (default 2, worker_threads); tfjs-backend-wasm has no threads in Node, so TF.js runs on 1. The
 * Chromium variant (threads on both sides, tfjs-backend-webgpu) is not written yet.
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
import {
  ADAMW_DEFAULTS,
  type AdamWHyper,
  arenaFor,
  type Batch,
  evalLoss,
  newTrainState,
  PRESETS,
  type PresetName,
  restoreInto,
  Tokenizer,
  TokenLoader,
  trainStep,
  WasmBackend,
} from '@shared/train';
import { spawnNode } from '../web/src/engine/wasm/threads.node.ts';
import { brownText } from './train/corpus';
import { TfjsGpt } from './train/tfjs-gpt';

const args = process.argv.slice(2);
const flag = (n: string) => args.includes(`--${n}`);
const opt = (n: string, d: string) => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : d;
};
const QUICK = flag('quick');
const JSON_OUT = flag('json');
const STEPS_SET = args.includes('--steps') ? Number(opt('steps', '50')) : null;
const stepsFor = (preset: PresetName) => STEPS_SET ?? (QUICK && preset === 'small' ? 8 : 50);
const THREADS = Number(opt('threads', '2'));
const SEED = 1234;
/** Batch shapes: the context fills T; B keeps a step around half a second for the small preset on one core. */
const SHAPES: Record<PresetName, { B: number; T: number }> = { tiny: { B: 8, T: 64 }, small: { B: 4, T: 128 } };
/** Brown files to learn the tokenizer on and train from: 60 of 500 (~700 KB) keep BPE training to seconds. */
const CORPUS_FILES = 60;
const HP: AdamWHyper = { ...ADAMW_DEFAULTS, lr: 1e-3 };

const log = (s: string) => {
  if (!JSON_OUT) console.log(s);
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function trainCase(preset: PresetName, text: string) {
  const config = PRESETS[preset];
  const { B, T } = SHAPES[preset];
  const tok = Tokenizer.train(text, config.vocab);
  const tokens = tok.encode(text);
  const loader = new TokenLoader(tokens, config, T, { seed: SEED, validationShare: 0.05, shard: 0, shards: 1 });
  const steps = stepsFor(preset);
  const batches: Batch[] = Array.from({ length: steps }, () => loader.next(B));
  const val = loader.validation(B, 0)!;
  const state = newTrainState(config, HP, SEED);

  const runEngine = (threads: number) => {
    const engine = new WasmBackend(arenaFor(config, B, T), { threads, spawn: spawnNode });
    restoreInto(engine, state);
    const ms: number[] = [];
    batches.forEach((batch, k) => {
      const t0 = performance.now();
      trainStep(engine, batch, HP, k + 1);
      ms.push(performance.now() - t0);
    });
    const loss = evalLoss(engine, val);
    engine.dispose();
    return { ms, loss, layout: engine.arena.params };
  };
  const single = runEngine(1);
  const threaded = THREADS > 1 ? runEngine(THREADS) : single;
  // Threads split work on the kernels' block boundaries: the run must be bit-identical to one thread's.
  if (threaded.loss !== single.loss) throw new Error(`threaded loss ${threaded.loss} != ${single.loss}`);
  const lossEngine = single.loss;
  const engineMs = threaded.ms;

  const twin = new TfjsGpt(tf, config, single.layout, state.params, HP);
  const tfMs: number[] = [];
  for (const [k, batch] of batches.entries()) {
    const t0 = performance.now();
    await twin.step(batch.inputs as Int32Array, batch.targets, B, T);
    tfMs.push(performance.now() - t0);
    if (k === 0) log(`  ${preset}: TF.js first step ${tfMs[0]!.toFixed(0)} ms`);
  }
  const lt = tf.tidy(() => twin.loss(val.inputs as Int32Array, val.targets, B, T));
  const lossTfjs = (await lt.data())[0]!;
  lt.dispose();
  twin.dispose();
  // The first step of each includes compilation and warm-up.
  const engineTokensPerS = (B * T) / (median(engineMs.slice(1)) / 1000);
  const tfjsTokensPerS = (B * T) / (median(tfMs.slice(1)) / 1000);
  const engine1 = (B * T) / (median(single.ms.slice(1)) / 1000);
  return {
    case: `train-${preset}`,
    backend: 'wasm',
    preset,
    steps,
    batch: B,
    context: T,
    engineThreads: THREADS,
    tfjsThreads: 1,
    engineTokensPerS: Math.round(engineTokensPerS),
    engineTokensPerS1Thread: Math.round(engine1),
    tfjsTokensPerS: Math.round(tfjsTokensPerS),
    ratio: Number((engineTokensPerS / tfjsTokensPerS).toFixed(2)),
    lossEngine: Number(lossEngine.toFixed(6)),
    lossTfjs: Number(lossTfjs.toFixed(6)),
    lossDiff: Number(Math.abs(lossEngine - lossTfjs).toExponential(2)),
  };
}

async function matmulCase(n: number) {
  const repeats = n >= 1024 ? 5 : 11;
  const flops = 2 * n * n * n;
  const arena = { ...arenaFor(PRESETS.tiny, 1, 1), size: 3 * n * n };
  const engine = new WasmBackend(arena);
  for (let i = 0; i < 2 * n * n; i++) engine.f[i] = Math.sin(i) * 0.5;
  const engineMs: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const t0 = performance.now();
    engine.kernels.matmulForward(2 * n * n, 0, n * n, -1, n, n, n);
    engineMs.push(performance.now() - t0);
  }
  const a = tf.tensor2d(engine.f.slice(0, n * n), [n, n]);
  const b = tf.tensor2d(engine.f.slice(n * n, 2 * n * n), [n, n]);
  const tfMs: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const t0 = performance.now();
    // TF.js's fastest form (no transposed operand); the engine's is A·Bᵀ (its weights are (out, in)).
    const c = tf.matMul(a, b);
    await c.data();
    tfMs.push(performance.now() - t0);
    c.dispose();
  }
  a.dispose();
  b.dispose();
  const e = flops / median(engineMs.slice(1)) / 1e6;
  const t = flops / median(tfMs.slice(1)) / 1e6;
  return {
    case: `matmul-${n}`,
    backend: 'wasm',
    engineMatmulGflops: Number(e.toFixed(1)),
    tfjsMatmulGflops: Number(t.toFixed(1)),
    ratio: Number((e / t).toFixed(2)),
  };
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
  const row = await matmulCase(n);
  emit(row);
  log(
    `${row.case.padEnd(12)} engine ${row.engineMatmulGflops} GFLOP/s  TF.js ${row.tfjsMatmulGflops} GFLOP/s  ×${row.ratio}`,
  );
}
const text = brownText(CORPUS_FILES);
for (const preset of opt('presets', 'tiny,small').split(',') as PresetName[]) {
  if (!(preset in PRESETS)) throw new Error(`unknown preset ${preset}`);
  const row = await trainCase(preset, text);
  emit(row);
  log(
    `${row.case.padEnd(12)} engine ${row.engineTokensPerS} tok/s (${row.engineTokensPerS1Thread} on 1 thread)  ` +
      `TF.js ${row.tfjsTokensPerS} tok/s  ×${row.ratio}` +
      `   val loss after ${row.steps} steps: engine ${row.lossEngine}  TF.js ${row.lossTfjs}  (|Δ| ${row.lossDiff})`,
  );
}
