/// <reference lib="webworker" />
/**
 * The compute worker: one onnxruntime-web instance on one backend, holding
 * sessions by model hash. Requests are handled one at a time, in order —
 * onnxruntime sessions do not take concurrent runs, and a provider's units
 * queue anyway.
 */
import * as v from 'valibot';
import type { Backend } from '@shared/protocol';
import type { Tensor, TensorMap } from '@shared/tensor';
import { isDType } from '@shared/tensor';
import { ComputeError } from './errors';
import { WorkerRequestSchema, transferablesOf, type WorkerRequest, type WorkerResponse } from './messages';
import { configureOrt, executionProviders, ort } from './ort-runtime';

declare const self: DedicatedWorkerGlobalScope;

let backend: Backend | undefined;
const sessions = new Map<string, ort.InferenceSession>();
let queue: Promise<void> = Promise.resolve();

self.onmessage = (event: MessageEvent<unknown>) => {
  const parsed = v.safeParse(WorkerRequestSchema, event.data);
  if (!parsed.success) {
    const rawId = (event.data as { id?: unknown } | null)?.id;
    const id = typeof rawId === 'number' && Number.isInteger(rawId) && rawId >= 0 ? rawId : null;
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.');
    reply({
      type: 'error',
      id,
      code: 'bad-message',
      message: `bad request${path ? ` at ${path}` : ''}: ${issue.message}`,
    });
    return;
  }
  const request = parsed.output;
  queue = queue.then(() => handle(request)).catch((e: unknown) => reply(errorReply(request.id, e)));
};

function reply(message: WorkerResponse, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

function errorReply(id: number, e: unknown): WorkerResponse {
  if (e instanceof ComputeError) return { type: 'error', id, code: e.code, message: e.message };
  return { type: 'error', id, code: 'inference-failed', message: e instanceof Error ? e.message : String(e) };
}

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.type) {
    case 'init':
      return init(request.id, request.backend, request.numThreads);
    case 'load':
      return load(request.id, request.hash, request.bytes);
    case 'run': {
      const started = performance.now();
      const outputs = await run(request.hash, request.inputs);
      return reply(
        { type: 'result', id: request.id, outputs, ms: performance.now() - started },
        transferablesOf(outputs),
      );
    }
    case 'bench':
      return bench(request.id, request.hash, request.inputs, request.runs, request.budgetMs);
    case 'unload': {
      const session = sessions.get(request.hash);
      sessions.delete(request.hash);
      await session?.release();
      return reply({ type: 'unloaded', id: request.id });
    }
  }
}

async function init(id: number, wanted: Backend, numThreads: number): Promise<void> {
  if (backend)
    throw new ComputeError('bad-message', `worker already runs on ${backend}; create another worker for ${wanted}`);
  if (wanted === 'webgpu') {
    const gpu = (self.navigator as Navigator & { gpu?: GPU }).gpu;
    if (!gpu)
      throw new ComputeError(
        'backend-unavailable',
        'WebGPU is not available in this browser; use the WASM backend, or try a recent Chrome or Edge',
      );
    const adapter = await gpu.requestAdapter();
    if (!adapter)
      throw new ComputeError(
        'backend-unavailable',
        'WebGPU has no adapter here (GPU blocklisted or disabled); use the WASM backend',
      );
  }
  // On WebGPU the CPU only runs the few ops the EP lacks; pthreads there would cost workers and memory for nothing.
  configureOrt(wanted === 'webgpu' ? 1 : numThreads);
  backend = wanted;
  reply({
    type: 'ready',
    id,
    backend: wanted,
    numThreads: ort.env.wasm.numThreads ?? 1,
    ortVersion: ort.env.versions.web ?? 'unknown',
  });
}

async function load(id: number, hash: string, bytes: Uint8Array): Promise<void> {
  if (!backend) throw new ComputeError('bad-message', 'worker is not initialised; send init first');
  if (!sessions.has(hash)) {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        executionProviders: executionProviders(backend),
        graphOptimizationLevel: 'all',
      });
    } catch (e) {
      throw describeLoadFailure(e);
    }
    sessions.set(hash, session);
  }
  const session = sessions.get(hash)!;
  reply({
    type: 'loaded',
    id,
    hash,
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    numThreads: ort.env.wasm.numThreads ?? 1,
  });
}

function describeLoadFailure(e: unknown): ComputeError {
  const detail = e instanceof Error ? e.message : String(e);
  if (/fetch|wasm|WebAssembly|failed to load|no available backend/i.test(detail) && !/model|graph|node/i.test(detail)) {
    return new ComputeError(
      'runtime-load-failed',
      `onnxruntime could not start on ${backend} (${detail}); reload the page, and if it persists use the other backend`,
    );
  }
  return new ComputeError(
    'model-load-failed',
    `the model does not load on ${backend}: ${detail}; check it runs in onnxruntime (opset ≤ 21, no custom ops)`,
  );
}

async function run(hash: string, inputs: TensorMap): Promise<TensorMap> {
  const session = sessions.get(hash);
  if (!session)
    throw new ComputeError(
      'model-not-loaded',
      `model ${hash.slice(0, 16)}… is not loaded in this worker; load it first`,
    );
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
  let results: ort.InferenceSession.ReturnType;
  try {
    results = await session.run(feeds);
  } catch (e) {
    throw new ComputeError(
      'inference-failed',
      `inference failed on ${backend}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const outputs: TensorMap = {};
  for (const [name, value] of Object.entries(results)) {
    // Outputs live on the CPU (ort's default output location), so getData copies nothing we must free.
    const data = (await value.getData()) as Tensor['data'];
    if (!isDType(value.type))
      throw new ComputeError('inference-failed', `output "${name}" has type ${value.type}, which results cannot carry`);
    outputs[name] = { dtype: value.type, dims: [...value.dims], data } as Tensor;
    value.dispose();
  }
  return outputs;
}

async function bench(id: number, hash: string, inputs: TensorMap, runs: number, budgetMs: number): Promise<void> {
  await run(hash, inputs); // warm-up: shader compilation, buffer allocation
  const timesMs: number[] = [];
  const started = performance.now();
  while (timesMs.length < runs && (timesMs.length === 0 || performance.now() - started < budgetMs)) {
    const t0 = performance.now();
    await run(hash, inputs);
    timesMs.push(performance.now() - t0);
  }
  reply({ type: 'bench-result', id, timesMs });
}
