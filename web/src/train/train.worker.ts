/**
 * The requester's training worker: one Train job's loop (shared/src/jobs/train/session.ts) off the page's
 * thread, on the WASM backend (with worker threads when the page is cross-origin isolated) or WebGPU.
 * It only turns messages into session calls and session events into messages.
 */
import {
  checkFits,
  GreedySampler,
  prepareData,
  readCheckpoint,
  type TrainEngine,
  type TrainEvent,
  TrainSession,
  type TrainSpec,
  WasmTrainEngine,
} from '@shared/jobs';
import { arenaFor, TrainError, WasmBackend } from '@shared/train';
import { spawnBrowser, threadsAvailable } from '../engine/wasm/threads.browser';
import type { FromTrainWorker, ToTrainWorker } from './messages';
import { webGpuAdapter, WebGpuTrainEngine } from './webgpu-engine';

/** Two threads: the machines this is tested on have two cores, and a volunteer's page keeps one for itself. */
const MAX_TRAIN_THREADS = 2;

const post = (m: FromTrainWorker) => self.postMessage(m);
let session: TrainSession | null = null;

async function engineFor(spec: TrainSpec): Promise<{ engine: TrainEngine; note: string }> {
  const arena = arenaFor(spec.model, spec.batch, spec.model.context);
  const gpu = spec.backend === 'wasm' ? null : await webGpuAdapter();
  const useGpu = spec.backend === 'webgpu' || (spec.backend === 'auto' && gpu !== null && !gpu.software);
  if (useGpu) {
    if (gpu === null) throw new TrainError('backend', 'WebGPU has no adapter in this browser: choose the WASM backend');
    checkFits(spec.model, spec.batch, 'webgpu', { wasmMaxBytes: 0, gpuMaxBufferBytes: gpu.maxBytes });
    return {
      engine: await WebGpuTrainEngine.create(arena),
      note: gpu.software ? 'software adapter' : 'hardware adapter',
    };
  }
  checkFits(spec.model, spec.batch, 'wasm');
  const threads = threadsAvailable() ? Math.min(MAX_TRAIN_THREADS, navigator.hardwareConcurrency || 1) : 1;
  const backend = await WasmBackend.create(arena, threads > 1 ? { threads, spawn: spawnBrowser } : {});
  const note =
    spec.backend === 'auto'
      ? gpu === null
        ? 'no WebGPU adapter'
        : 'WebGPU adapter is software: WASM is faster'
      : 'chosen';
  return { engine: new WasmTrainEngine(backend), note };
}

async function start(m: Extract<ToTrainWorker, { type: 'start' }>) {
  const from = m.checkpoint === null ? undefined : readCheckpoint(m.checkpoint, m.spec.model);
  post({
    type: 'preparing',
    message: from
      ? `encoding ${m.text.length.toLocaleString()} characters with the checkpoint's tokenizer`
      : `learning a ${m.spec.model.vocab}-token BPE tokenizer on ${m.text.length.toLocaleString()} characters`,
  });
  const data = prepareData(m.spec.model, m.text, from?.tokenizer);
  const { engine, note } = await engineFor(m.spec);
  let failure: TrainEvent | null = null;
  const s = new TrainSession(
    m.spec,
    {
      engine,
      sampler: new GreedySampler(m.spec.model),
      data,
      emit: (event) => {
        // On WebGPU a failure is held until the run ends: if the device was lost, the page falls back instead.
        if (event.type === 'failed' && engine instanceof WebGpuTrainEngine) failure = event;
        else post({ type: 'event', event });
      },
      now: () => performance.now(),
      yieldNow: () => new Promise((r) => setTimeout(r, 0)),
    },
    from,
  );
  session = s;
  post({ type: 'started', backend: engine.name, step: s.step, note });
  await s.run();
  if (failure !== null) {
    // device.lost settles on its own task; give it one before deciding what the failure was.
    await new Promise((r) => setTimeout(r, 0));
    const lost = engine instanceof WebGpuTrainEngine ? engine.lost : null;
    post(lost !== null ? { type: 'device-lost', message: lost } : { type: 'event', event: failure });
  }
  engine.dispose();
}

self.onmessage = (e: MessageEvent<ToTrainWorker>) => {
  const m = e.data;
  if (m.type === 'start')
    start(m).catch((err: unknown) =>
      post({
        type: 'error',
        code: err instanceof TrainError ? err.code : 'internal',
        message: err instanceof Error ? err.message : String(err),
      }),
    );
  else if (m.type === 'pause') session?.pause();
  else if (m.type === 'resume') session?.resume();
  else if (m.type === 'cancel') session?.cancel();
};
