/**
 * Worker threads for the WASM backend, in portable form: a pool of workers
 * that instantiate the same kernels module over one shared memory, each
 * waiting on its own slot of a control block with Atomics. The caller runs
 * its own share of a kernel and then waits for the others (so the caller
 * must be allowed to block: Node, or a Web Worker — never a page's main
 * thread). Starting a worker is platform code (`Spawn`): worker_threads in
 * Node, a Blob-URL Worker in a cross-origin-isolated page; both run
 * WORKER_SOURCE below.
 *
 * Control slot of worker k (Int32 words): seq · done · kernel · argc · args[ARGS_MAX] · … · ready (last word)
 *
 * A browser starts a nested worker only while its creator's event loop
 * runs, so a pool must be awaited (`ready()`) before the first kernel:
 * blocking at once would wait forever for a worker that never starts.
 */

/** Kernels a worker may run, by index in the control slot. */
export const THREAD_KERNELS = [
  'matmulForward',
  'matmulBackwardInput',
  'matmulBackwardWeight',
  'attentionForward',
  'attentionBackward',
  'geluForward',
  'geluBackward',
  'crossentropyForward',
  'sumSquaresChunks',
  'adamw',
  'zero',
] as const;
export type ThreadKernel = (typeof THREAD_KERNELS)[number];

/** Words per control slot: 4 header words and up to 12 kernel arguments, padded to 128 bytes (no false sharing within a line pair). */
export const SLOT_WORDS = 32;
const ARGS_MAX = 12;
const READY = SLOT_WORDS - 1;

export interface WorkerInit {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  /** 1-based: thread 0 is the caller. */
  readonly index: number;
  /** Byte offset of the control block in memory. */
  readonly control: number;
  readonly names: readonly string[];
}

export type Spawn = (init: WorkerInit) => { terminate(): void };

/** The worker's whole program, as source text so every platform can start it without a bundler. */
export const WORKER_SOURCE = `
const run = (init) => {
  const x = new WebAssembly.Instance(init.module, { env: { memory: init.memory } }).exports;
  const fns = init.names.map((n) => x[n]);
  const m = new Int32Array(init.memory.buffer);
  const base = (init.control >> 2) + (init.index - 1) * ${SLOT_WORDS};
  Atomics.store(m, base + ${SLOT_WORDS - 1}, 1);
  let seen = 0;
  for (;;) {
    Atomics.wait(m, base, seen);
    const seq = Atomics.load(m, base);
    if (seq < 0) return;
    if (seq === seen) continue;
    seen = seq;
    const argc = m[base + 3];
    const args = [];
    for (let k = 0; k < argc; k++) args.push(m[base + 4 + k]);
    fns[m[base + 2]](...args);
    Atomics.store(m, base + 1, seq);
    Atomics.notify(m, base + 1);
  }
};
if (typeof require === 'function') run(require('node:worker_threads').workerData);
else self.onmessage = (e) => run(e.data);
`;

export class ThreadPool {
  private readonly m: Int32Array;
  private readonly handles: { terminate(): void }[] = [];
  private readonly pending: number[] = [];

  constructor(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    private readonly control: number,
    /** Worker threads besides the caller. */
    readonly workers: number,
    spawn: Spawn,
  ) {
    this.m = new Int32Array(memory.buffer);
    for (let index = 1; index <= workers; index++)
      this.handles.push(spawn({ module, memory, index, control, names: THREAD_KERNELS }));
  }

  /** Resolves once every worker has instantiated the module and waits for work. */
  async ready(): Promise<void> {
    for (let w = 1; w <= this.workers; w++)
      while (Atomics.load(this.m, this.base(w) + READY) !== 1) await new Promise((r) => setTimeout(r, 1));
  }

  private base(worker: number): number {
    return (this.control >> 2) + (worker - 1) * SLOT_WORDS;
  }

  /** Starts a kernel on worker 1..workers; args are i32 (byte addresses above 2 GiB wrap, as wasm reads them). */
  post(worker: number, kernel: ThreadKernel, args: readonly number[]): void {
    const b = this.base(worker);
    const m = this.m;
    m[b + 2] = THREAD_KERNELS.indexOf(kernel);
    m[b + 3] = Math.min(args.length, ARGS_MAX);
    for (let k = 0; k < args.length && k < ARGS_MAX; k++) m[b + 4 + k] = args[k]! | 0;
    const seq = Atomics.add(m, b, 1) + 1;
    Atomics.notify(m, b);
    this.pending.push(worker, seq);
  }

  /** Waits for every posted kernel. */
  join(): void {
    const m = this.m;
    while (this.pending.length > 0) {
      const seq = this.pending.pop()!;
      const b = this.base(this.pending.pop()!);
      for (let done = Atomics.load(m, b + 1); done !== seq; done = Atomics.load(m, b + 1)) Atomics.wait(m, b + 1, done);
    }
  }

  terminate(): void {
    for (let w = 1; w <= this.workers; w++) {
      Atomics.store(this.m, this.base(w), -1);
      Atomics.notify(this.m, this.base(w));
    }
    for (const h of this.handles) h.terminate();
  }
}

/** [start, end) of part k of n items split into `parts`, boundaries on multiples of `align`. */
export function partOf(n: number, parts: number, k: number, align: number): [number, number] {
  const per = Math.ceil(n / parts / align) * align;
  return [Math.min(n, k * per), Math.min(n, (k + 1) * per)];
}
