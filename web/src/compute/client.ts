/**
 * The page's handle on a compute worker: typed, promise-based, validated.
 *
 *   const worker = await ComputeWorker.create('wasm');
 *   await worker.loadModel(hash, bytes);
 *   const outputs = await worker.run(hash, { x: tensor });
 *   worker.dispose();
 */
import * as v from 'valibot';
import type { Backend } from '@shared/protocol';
import type { TensorMap } from '@shared/tensor';
import { MAX_WASM_THREADS, WORKER_INIT_TIMEOUT_MS } from './constants';
import { ComputeError } from './errors';
import {
  WorkerResponseSchema,
  transferablesOf,
  type WorkerRequest,
  type WorkerResponse,
  type WorkerResponseOf,
} from './messages';

/** Spread-able request without its id; the client numbers requests. */
type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve(response: WorkerResponse): void;
  reject(error: ComputeError): void;
}

export interface ComputeWorkerOptions {
  /** WASM threads; default: all cores but one, at most MAX_WASM_THREADS, 1 without cross-origin isolation. */
  numThreads?: number;
  /** Overrides worker construction (tests); default is the bundled ./worker.ts. */
  spawn?: () => Worker;
}

export interface RunOptions {
  /** Move the inputs' buffers to the worker instead of copying them; the caller's tensors become empty. */
  transfer?: boolean;
}

export interface RunResult {
  outputs: TensorMap;
  /** Time inside the worker: feeding, running and reading back. */
  ms: number;
}

export function defaultThreadCount(): number {
  const isolated =
    typeof crossOriginIsolated === 'boolean' && crossOriginIsolated && typeof SharedArrayBuffer === 'function';
  if (!isolated) return 1;
  const cores = navigator.hardwareConcurrency || 1;
  return Math.max(1, Math.min(MAX_WASM_THREADS, cores - 1));
}

export class ComputeWorker {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private failure: ComputeError | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly backend: Backend,
  ) {
    worker.onmessage = (event: MessageEvent<unknown>) => this.receive(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.fail(
        new ComputeError(
          'worker-crashed',
          `the compute worker stopped (${event.message || 'script error'}); reload the page to start a new one`,
        ),
      );
    };
    worker.onmessageerror = () =>
      this.fail(new ComputeError('bad-message', 'a message from the compute worker could not be read'));
  }

  /** Threads the runtime uses: as requested once ready, as the runtime settled it after the first model loads. */
  numThreads = 1;
  ortVersion = '';

  /** Starts a worker and its runtime on `backend`. Rejects with `backend-unavailable` if the browser cannot. */
  static async create(backend: Backend, options: ComputeWorkerOptions = {}): Promise<ComputeWorker> {
    const spawn =
      options.spawn ??
      (() => new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: `compute-${backend}` }));
    const client = new ComputeWorker(spawn(), backend);
    try {
      const ready = await client.request(
        { type: 'init', backend, numThreads: options.numThreads ?? defaultThreadCount() },
        'ready',
        [],
        WORKER_INIT_TIMEOUT_MS,
      );
      client.numThreads = ready.numThreads;
      client.ortVersion = ready.ortVersion;
      return client;
    } catch (e) {
      client.dispose();
      throw e;
    }
  }

  /** Loads a model under its content hash; loading the same hash again is a no-op. */
  async loadModel(hash: string, bytes: Uint8Array): Promise<{ inputNames: string[]; outputNames: string[] }> {
    // Copy: the model bytes usually stay cached on the page.
    const { inputNames, outputNames, numThreads } = await this.request(
      { type: 'load', hash, bytes: bytes.slice() },
      'loaded',
    );
    this.numThreads = numThreads;
    return { inputNames, outputNames };
  }

  async run(hash: string, inputs: TensorMap, options: RunOptions = {}): Promise<RunResult> {
    const { outputs, ms } = await this.request(
      { type: 'run', hash, inputs },
      'result',
      options.transfer ? transferablesOf(inputs) : [],
    );
    return { outputs, ms };
  }

  /** One untimed warm-up run, then up to `runs` timed runs within `budgetMs`; returns each run's ms. */
  async bench(hash: string, inputs: TensorMap, runs: number, budgetMs: number): Promise<number[]> {
    return (await this.request({ type: 'bench', hash, inputs, runs, budgetMs }, 'bench-result')).timesMs;
  }

  async unloadModel(hash: string): Promise<void> {
    await this.request({ type: 'unload', hash }, 'unloaded');
  }

  /** Stops the worker; pending calls reject with `disposed`. */
  dispose(): void {
    this.worker.terminate();
    this.fail(new ComputeError('disposed', 'the compute worker was stopped'));
  }

  private request<T extends WorkerResponse['type']>(
    body: RequestBody,
    expect: T,
    transfer: Transferable[] = [],
    timeoutMs?: number,
  ): Promise<WorkerResponseOf<T>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<WorkerResponseOf<T>>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(id);
              reject(
                new ComputeError(
                  'timeout',
                  `the ${this.backend} runtime did not start within ${timeoutMs / 1000} s; check the network tab for a failed .wasm download, then reload`,
                ),
              );
            }, timeoutMs);
      this.pending.set(id, {
        resolve: (response) => {
          clearTimeout(timer);
          if (response.type === 'error') reject(new ComputeError(response.code, response.message));
          else if (response.type !== expect)
            reject(new ComputeError('bad-message', `worker answered ${response.type} to ${body.type}`));
          else resolve(response as WorkerResponseOf<T>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.worker.postMessage({ ...body, id }, transfer);
    });
  }

  private receive(data: unknown): void {
    const parsed = v.safeParse(WorkerResponseSchema, data);
    if (!parsed.success)
      return this.fail(
        new ComputeError('bad-message', `unreadable message from the compute worker: ${parsed.issues[0].message}`),
      );
    const response = parsed.output;
    if (response.id === null) {
      // The worker could not tell which request it was: fail them all rather than hang.
      return this.fail(
        new ComputeError(
          response.type === 'error' ? response.code : 'bad-message',
          response.type === 'error' ? response.message : 'reply without id',
        ),
      );
    }
    const pending = this.pending.get(response.id);
    this.pending.delete(response.id);
    pending?.resolve(response);
  }

  private fail(error: ComputeError): void {
    this.failure ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
