/**
 * Training-engine harness: the tiny preset trained for a few seeded steps by the WASM backend in a Web
 * Worker (1 thread, and 2 threads over a SharedArrayBuffer — the page is cross-origin isolated) and by
 * the JS f32 reference on the page, and the WebGPU linear-layer kernels against the WASM ones.
 * e2e/train-engine.spec.ts compares them with Node's run. WebGPU sizes stay tiny: SwiftShader.
 */
import {
  ADAMW_DEFAULTS,
  arenaFor,
  evalLoss,
  WasmBackend,
  JsBackend,
  newTrainState,
  PRESETS,
  restoreInto,
  trainStep,
} from '@shared/train';
import { mulberry32 } from '@shared/random';
import { evalLossGpu, trainStepGpu, WebGpuBackend } from '../src/engine/webgpu/kernels';
import { GpuMatmul } from '../src/engine/webgpu/matmul';
import { HARNESS_B, HARNESS_SEED, HARNESS_STEPS, harnessBatches } from './train-engine-data';
import type { TrainWorkerReply, TrainWorkerRequest } from './train-engine.worker';

export interface GpuMatmulCase {
  readonly shape: readonly [number, number, number];
  /** max |gpu − wasm| / max |wasm| over out, dinp, dw and dbias. */
  readonly relDiff: number;
  readonly maxAbs: number;
}

export interface TrainHarnessReport {
  readonly isolated: boolean;
  readonly workers: TrainWorkerReply[];
  readonly jsLosses: number[];
  readonly gpu: { tile: number; cases: GpuMatmulCase[]; error: string | null };
  readonly gpuStep: GpuStepReport;
}

export interface GpuStepReport {
  /** Losses of steps 1 and 2, then the validation loss of batch 1 after both. */
  readonly wasmLosses: number[];
  readonly gpuLosses: number[];
  /** Step 1's gradients: max |gpu − wasm| / max |wasm|. */
  readonly gradRelDiff: number;
  readonly ms: number;
  readonly error: string | null;
}

/** Tiny preset at 1 × 32 tokens: SwiftShader runs a whole step in about a second. */
const GPU_STEP_T = 32;

async function gpuStep(): Promise<GpuStepReport> {
  const config = PRESETS.tiny;
  const arena = arenaFor(config, 1, GPU_STEP_T);
  const batches = harnessBatches(config, 1, GPU_STEP_T, 2, HARNESS_SEED);
  const state = newTrainState(config, ADAMW_DEFAULTS, HARNESS_SEED);
  const P = arena.params.size;
  const wasm = new WasmBackend(arena);
  restoreInto(wasm, state);
  const wasmLosses = [trainStep(wasm, batches[0]!, ADAMW_DEFAULTS, 1)];
  const wasmGrads = wasm.f.slice(arena.gradsAt, arena.gradsAt + P);
  wasmLosses.push(trainStep(wasm, batches[1]!, ADAMW_DEFAULTS, 2));
  wasmLosses.push(evalLoss(wasm, batches[0]!));
  try {
    const gpu = await WebGpuBackend.create(arena);
    restoreInto(gpu, state);
    const t0 = performance.now();
    const gpuLosses = [await trainStepGpu(gpu, batches[0]!, ADAMW_DEFAULTS, 1)];
    const ms = performance.now() - t0;
    const gpuGrads = await gpu.readAsync(arena.gradsAt, P);
    gpuLosses.push(await trainStepGpu(gpu, batches[1]!, ADAMW_DEFAULTS, 2));
    gpuLosses.push(await evalLossGpu(gpu, batches[0]!));
    gpu.destroy();
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < P; i++) {
      worst = Math.max(worst, Math.abs(gpuGrads[i]! - wasmGrads[i]!));
      scale = Math.max(scale, Math.abs(wasmGrads[i]!));
    }
    return { wasmLosses, gpuLosses, gradRelDiff: worst / scale, ms, error: null };
  } catch (err) {
    return { wasmLosses, gpuLosses: [], gradRelDiff: NaN, ms: 0, error: String(err) };
  }
}

/** Matmul shapes (N, Cin, Cout): the tiny preset's qkv and MLP projection, and a ragged one. */
const GPU_SHAPES: readonly (readonly [number, number, number])[] = [
  [37, 20, 11],
  [64, 128, 384],
  [64, 512, 128],
];

/** Forward and backward of one linear layer on WebGPU and on the WASM kernels, same data and slots. */
async function gpuMatmulCases(): Promise<TrainHarnessReport['gpu']> {
  const cases: GpuMatmulCase[] = [];
  let tile = 0;
  try {
    for (const [N, Cin, Cout] of GPU_SHAPES) {
      // Slots: inp | w | bias | dout | out | dinp | dw | dbias
      const sizes = [N * Cin, Cout * Cin, Cout, N * Cout, N * Cout, N * Cin, Cout * Cin, Cout];
      const at = sizes.map((_, k) => sizes.slice(0, k).reduce((a, b) => a + b, 0));
      const total = sizes.reduce((a, b) => a + b, 0);
      const u = mulberry32(N * 7 + Cin);
      const data = Float32Array.from({ length: total }, (_, i) => (i < at[4]! ? u() * 2 - 1 : 0));
      const [inp, w, bias, dout, out, dinp, dw, dbias] = at as [
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      const wasm = new WasmBackend({ ...arenaFor(PRESETS.tiny, 1, 1), size: total });
      wasm.writeFloats(0, data);
      wasm.kernels.matmulForward(out, inp, w, bias, N, Cin, Cout);
      wasm.kernels.matmulBackward(dinp, dw, dbias, dout, inp, w, N, Cin, Cout);
      const gpu = await GpuMatmul.create(total);
      tile = gpu.tile;
      gpu.write(0, data);
      gpu.matmulForward(out, inp, w, bias, N, Cin, Cout);
      gpu.matmulBackward(dinp, dw, dbias, dout, inp, w, N, Cin, Cout);
      const got = await gpu.read(0, total);
      gpu.destroy();
      let worst = 0;
      let scale = 0;
      for (let i = at[4]!; i < total; i++) {
        worst = Math.max(worst, Math.abs(got[i]! - wasm.f[i]!));
        scale = Math.max(scale, Math.abs(wasm.f[i]!));
      }
      cases.push({ shape: [N, Cin, Cout], relDiff: worst / scale, maxAbs: scale });
    }
    return { tile, cases, error: null };
  } catch (err) {
    return { tile, cases, error: String(err) };
  }
}

function inWorker(request: TrainWorkerRequest): Promise<TrainWorkerReply> {
  const worker = new Worker(new URL('./train-engine.worker.ts', import.meta.url), { type: 'module' });
  return new Promise((resolve) => {
    // A stuck worker (threads that never start) reports instead of hanging the test.
    const timer = setTimeout(() => {
      worker.terminate();
      resolve({
        backend: '',
        losses: [],
        checksum: '',
        ms: 0,
        error: `no answer from the ${request.threads}-thread worker in 60 s`,
      });
    }, 60_000);
    worker.onmessage = (e: MessageEvent<TrainWorkerReply>) => {
      clearTimeout(timer);
      worker.terminate();
      resolve(e.data);
    };
    worker.onerror = (e) => resolve({ backend: '', losses: [], checksum: '', ms: 0, error: e.message });
    worker.postMessage(request);
  });
}

async function run(): Promise<TrainHarnessReport> {
  const workers = [await inWorker({ threads: 1 }), await inWorker({ threads: 2 })];
  const config = PRESETS.tiny;
  const b = new JsBackend(arenaFor(config, HARNESS_B, config.context), 'f32');
  restoreInto(b, newTrainState(config, ADAMW_DEFAULTS, HARNESS_SEED));
  const jsLosses = harnessBatches(config, HARNESS_B, config.context, HARNESS_STEPS, HARNESS_SEED).map((batch, k) =>
    trainStep(b, batch, ADAMW_DEFAULTS, k + 1),
  );
  const gpu = await gpuMatmulCases();
  const report = {
    isolated: globalThis.crossOriginIsolated === true,
    workers,
    jsLosses,
    gpu,
    gpuStep: await gpuStep(),
  };
  document.getElementById('log')!.textContent = JSON.stringify(report, null, 2);
  return report;
}

declare global {
  interface Window {
    trainHarness?: { run: () => Promise<TrainHarnessReport> };
  }
}

window.trainHarness = { run };
