/**
 * The WebAssembly backend: the AssemblyScript kernels (shared/assembly/train.ts)
 * over one WebAssembly.Memory holding the whole arena. Runs wherever
 * WebAssembly with SIMD does: Node, a page, a Web Worker. f32 throughout.
 * With `threads` > 1 the heavy kernels (matmuls, attention, GELU) are split
 * across worker threads over a shared memory (threads.ts); every split falls
 * on the kernels' own block boundaries, so results are bit-identical to one
 * thread's.
 *
 *   bytes [0, 32 KiB)          the module's statics
 *   bytes [32 KiB, 64 KiB)     thread control block
 *   bytes [192 KiB, 256 KiB)   AdamW's hyperparameters, then the clip's partial sums of squares (f64)
 *   bytes [256 KiB, 4.25 MiB)  scratch, 1 MiB per thread: the matmuls' packed blocks, attention's dS block
 *   bytes [4.25 MiB, …)        the arena (slot s at ARENA_BASE + 4·s)
 */
import { base64urlDecode } from '../../bytes';
import { clipScale } from '../adamw';
import type { Backend } from '../backend';
import { TrainError } from '../errors';
import type { AdamWHyper, Kernels } from '../kernels';
import { NONE } from '../kernels';
import type { Arena } from '../layout';
import type { Exports } from './exports';
import { TRAIN_KERNELS_SHARED_WASM, TRAIN_KERNELS_WASM } from './kernels.wasm';
import { partOf, type Spawn, ThreadPool, type ThreadKernel } from './threads';

const CONTROL = 32768;
/** Four threads fill the scratch region; beyond that two cores' worth of bandwidth is the limit anyway. */
export const MAX_THREADS = 4;
/** Each thread's scratch (at least the module's SCRATCH_BYTES), SCRATCH_STRIDE apart from SCRATCH. */
const SCRATCH = 262144;
const SCRATCH_STRIDE = 1 << 20;
const ARENA_BASE = SCRATCH + MAX_THREADS * SCRATCH_STRIDE;
/** AdamW's hyperparameters as 8 f32s (worker threads take i32 arguments only). */
const ADAMW_HP = 196608;
/** Partial Σg² of the clip, one f64 per chunk of gradients: up to 8160 of them. */
const PARTIALS = ADAMW_HP + 256;
const MAX_PARTIALS = (SCRATCH - PARTIALS) / 8;
/**
 * Gradients per partial sum of squares: fixed by the parameter count alone, so that the norm comes out the
 * same on any number of threads; 64 Ki values (256 KiB) make a share worth a wake-up.
 */
const sumChunk = (n: number) => Math.max(65536, Math.ceil(n / MAX_PARTIALS / 4) * 4);
/** Attention's blocks of dS hold at least 4 rows of T floats within the module's 256 KiB: T ≤ 16384; kept at 8192. */
const MAX_T = 8192;
const PAGE = 65536;
/** WebAssembly (wasm32) memory ends at 4 GiB; one page stays unused so the last byte address fits an i32 pair. */
export const WASM_MAX_BYTES = 2 ** 32 - PAGE;

/** Bytes of WebAssembly memory a backend over this arena allocates (statics, threads' scratch, arena). */
export function wasmMemoryBytes(arena: Arena): number {
  return Math.ceil((ARENA_BASE + 4 * arena.size) / PAGE) * PAGE;
}
/**
 * Below this many multiply-adds a kernel stays on the calling thread: a wake-up and join through
 * Atomics costs some 10–50 µs, a 2-row block of work ~1 µs.
 */
const MIN_PARALLEL_MACS = 1 << 18;

const scratchOf = (thread: number) => SCRATCH + thread * SCRATCH_STRIDE;

const compiled: (WebAssembly.Module | null)[] = [null, null];

/** ~10 KB each: compiled synchronously once per realm (fine in Node and workers, and under Chromium's main-thread limit). */
export function trainKernelsModule(shared = false): WebAssembly.Module {
  const k = shared ? 1 : 0;
  compiled[k] ??= new WebAssembly.Module(
    base64urlDecode(shared ? TRAIN_KERNELS_SHARED_WASM : TRAIN_KERNELS_WASM) as Uint8Array<ArrayBuffer>,
  );
  return compiled[k]!;
}

/** Slot offsets → byte addresses, and the kernel calls themselves, split across threads when a pool is given. */
class WasmKernels implements Kernels {
  private readonly threads: number;

  /** The whole memory as floats (scalar results are stored through it). */
  private readonly f: Float32Array;
  /** The clip's partial sums of squares. */
  private readonly partials: Float64Array;

  constructor(
    private readonly x: Exports,
    private readonly pool: ThreadPool | null,
    memory: WebAssembly.Memory,
  ) {
    this.f = new Float32Array(memory.buffer);
    this.partials = new Float64Array(memory.buffer, PARTIALS, MAX_PARTIALS);
    this.threads = pool === null ? 1 : pool.workers + 1;
  }

  /** Runs part(k) for k = 0..threads−1: parts 1.. on workers, part 0 here, then joins. */
  private parallel(kernel: ThreadKernel, part: (k: number) => number[] | null) {
    const pool = this.pool!;
    for (let k = 1; k < this.threads; k++) {
      const args = part(k);
      if (args !== null) pool.post(k, kernel, args);
    }
    const own = part(0);
    if (own !== null) (this.x[kernel] as (...a: number[]) => void)(...own);
    pool.join();
  }

  private split(macs: number): boolean {
    return this.pool !== null && macs >= MIN_PARALLEL_MACS;
  }
  private static p(slot: number): number {
    return ARENA_BASE + 4 * slot;
  }
  encoderForward(out: number, tokens: number, wte: number, wpe: number, B: number, T: number, C: number) {
    const p = WasmKernels.p;
    this.x.encoderForward(p(out), p(tokens), p(wte), p(wpe), B, T, C);
  }
  encoderBackward(dwte: number, dwpe: number, dout: number, tokens: number, B: number, T: number, C: number) {
    const p = WasmKernels.p;
    this.x.encoderBackward(p(dwte), p(dwpe), p(dout), p(tokens), B, T, C);
  }
  layernormForward(out: number, mean: number, rstd: number, inp: number, w: number, b: number, N: number, C: number) {
    const p = WasmKernels.p;
    this.x.layernormForward(p(out), p(mean), p(rstd), p(inp), p(w), p(b), N, C);
  }
  layernormBackward(
    dinp: number,
    dw: number,
    db: number,
    dout: number,
    inp: number,
    w: number,
    mean: number,
    rstd: number,
    N: number,
    C: number,
  ) {
    const p = WasmKernels.p;
    this.x.layernormBackward(p(dinp), p(dw), p(db), p(dout), p(inp), p(w), p(mean), p(rstd), N, C);
  }
  matmulForward(out: number, inp: number, w: number, bias: number, N: number, Cin: number, Cout: number) {
    const p = WasmKernels.p;
    const b = bias === NONE ? 0 : p(bias);
    if (!this.split(N * Cin * Cout)) return this.x.matmulForward(p(out), p(inp), p(w), b, N, Cin, Cout);
    // Rows in multiples of 4: the kernel's 2-row blocks fall the same way as on one thread.
    this.parallel('matmulForward', (k) => {
      const [r0, r1] = partOf(N, this.threads, k, 4);
      return r1 > r0 ? [p(out + r0 * Cout), p(inp + r0 * Cin), p(w), b, r1 - r0, Cin, Cout] : null;
    });
  }
  matmulBackward(
    dinp: number,
    dw: number,
    dbias: number,
    dout: number,
    inp: number,
    w: number,
    N: number,
    Cin: number,
    Cout: number,
  ) {
    const p = WasmKernels.p;
    const db = dbias === NONE ? 0 : p(dbias);
    if (!this.split(N * Cin * Cout))
      return this.x.matmulBackward(p(dinp), p(dw), db, p(dout), p(inp), p(w), N, Cin, Cout, SCRATCH);
    this.parallel('matmulBackwardInput', (k) => {
      const [r0, r1] = partOf(N, this.threads, k, 4);
      return r1 > r0 ? [p(dinp + r0 * Cin), p(dout + r0 * Cout), p(w), r1 - r0, Cin, Cout, scratchOf(k)] : null;
    });
    this.parallel('matmulBackwardWeight', (k) => {
      const [o0, o1] = partOf(Cout, this.threads, k, 4);
      return o1 > o0
        ? [p(dw + o0 * Cin), db === 0 ? 0 : db + 4 * o0, p(dout + o0), p(inp), N, Cin, o1 - o0, Cout, scratchOf(k)]
        : null;
    });
  }
  attentionForward(out: number, att: number, qkv: number, B: number, T: number, C: number, NH: number) {
    const p = WasmKernels.p;
    if (!this.split(B * T * T * C)) return this.x.attentionForward(p(out), p(att), p(qkv), B, T, C, NH, 0, NH, SCRATCH);
    this.parallel('attentionForward', (k) => {
      const [h0, h1] = partOf(NH, this.threads, k, 1);
      return h1 > h0 ? [p(out), p(att), p(qkv), B, T, C, NH, h0, h1, scratchOf(k)] : null;
    });
  }
  attentionBackward(dqkv: number, dout: number, qkv: number, att: number, B: number, T: number, C: number, NH: number) {
    const p = WasmKernels.p;
    if (!this.split(B * T * T * C))
      return this.x.attentionBackward(p(dqkv), p(dout), p(qkv), p(att), B, T, C, NH, 0, NH, SCRATCH);
    this.parallel('attentionBackward', (k) => {
      const [h0, h1] = partOf(NH, this.threads, k, 1);
      return h1 > h0 ? [p(dqkv), p(dout), p(qkv), p(att), B, T, C, NH, h0, h1, scratchOf(k)] : null;
    });
  }
  geluForward(out: number, inp: number, n: number) {
    const p = WasmKernels.p;
    // ~20 flops an element (the exp polynomial): weigh it like a 16-wide dot product.
    if (!this.split(16 * n)) return this.x.geluForward(p(out), p(inp), n);
    this.parallel('geluForward', (k) => {
      const [i0, i1] = partOf(n, this.threads, k, 4);
      return i1 > i0 ? [p(out + i0), p(inp + i0), i1 - i0] : null;
    });
  }
  geluBackward(dinp: number, inp: number, dout: number, n: number) {
    const p = WasmKernels.p;
    if (!this.split(16 * n)) return this.x.geluBackward(p(dinp), p(inp), p(dout), n);
    this.parallel('geluBackward', (k) => {
      const [i0, i1] = partOf(n, this.threads, k, 4);
      return i1 > i0 ? [p(dinp + i0), p(inp + i0), p(dout + i0), i1 - i0] : null;
    });
  }
  residualForward(out: number, a: number, b: number, n: number) {
    const p = WasmKernels.p;
    this.x.residualForward(p(out), p(a), p(b), n);
  }
  residualBackward(da: number, db: number, dout: number, n: number) {
    const p = WasmKernels.p;
    this.x.residualBackward(p(da), p(db), p(dout), n);
  }
  crossentropyForward(losses: number, probs: number, logits: number, targets: number, N: number, V: number) {
    const p = WasmKernels.p;
    // ~20 flops a logit (the exp polynomial), like GELU.
    if (!this.split(16 * N * V)) return this.x.crossentropyForward(p(losses), p(probs), p(logits), p(targets), N, V);
    this.parallel('crossentropyForward', (k) => {
      const [r0, r1] = partOf(N, this.threads, k, 1);
      return r1 > r0 ? [p(losses + r0), p(probs + r0 * V), p(logits + r0 * V), p(targets + r0), r1 - r0, V] : null;
    });
  }
  crossentropyBackward(dlogits: number, probs: number, targets: number, N: number, V: number) {
    const p = WasmKernels.p;
    this.x.crossentropyBackward(p(dlogits), p(probs), p(targets), N, V);
  }
  crossentropyBackwardWeighted(dlogits: number, probs: number, targets: number, dlosses: number, N: number, V: number) {
    const p = WasmKernels.p;
    this.x.crossentropyBackwardWeighted(p(dlogits), p(probs), p(targets), p(dlosses), N, V);
  }
  zero(at: number, n: number) {
    const p = WasmKernels.p;
    // Memory bandwidth, not arithmetic: worth splitting only for a few MiB.
    if (!this.split(n / 4)) return this.x.zero(p(at), n);
    this.parallel('zero', (k) => {
      const [i0, i1] = partOf(n, this.threads, k, 4);
      return i1 > i0 ? [p(at + i0), i1 - i0] : null;
    });
  }
  meanInto(dst: number, at: number, n: number) {
    this.f[WasmKernels.p(dst) >> 2] = this.x.sumOf(WasmKernels.p(at), n) / n;
  }
  clipAdamw(
    params: number,
    grads: number,
    m: number,
    v: number,
    n: number,
    hp: AdamWHyper,
    t: number,
    maxNorm: number,
    norm: number,
  ) {
    const p = WasmKernels.p;
    const chunk = sumChunk(n);
    const chunks = Math.ceil(n / chunk);
    if (!this.split(n)) this.x.sumSquaresChunks(PARTIALS, p(grads), n, chunk);
    else
      this.parallel('sumSquaresChunks', (k) => {
        const [c0, c1] = partOf(chunks, this.threads, k, 1);
        const [i0, i1] = [c0 * chunk, Math.min(n, c1 * chunk)];
        return c1 > c0 ? [PARTIALS + 8 * c0, p(grads + i0), i1 - i0, chunk] : null;
      });
    let ss = 0;
    for (const s of this.partials.subarray(0, chunks)) ss += s;
    this.f[p(norm) >> 2] = Math.sqrt(ss);
    this.f.set(
      [hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay, 1 - hp.beta1 ** t, 1 - hp.beta2 ** t, clipScale(ss, maxNorm)],
      ADAMW_HP >> 2,
    );
    if (!this.split(n)) return this.x.adamw(p(params), p(grads), p(m), p(v), n, ADAMW_HP);
    this.parallel('adamw', (k) => {
      const [i0, i1] = partOf(n, this.threads, k, 4);
      return i1 > i0 ? [p(params + i0), p(grads + i0), p(m + i0), p(v + i0), i1 - i0, ADAMW_HP] : null;
    });
  }
}

export interface WasmOptions {
  /** Threads including the caller (1..MAX_THREADS); more than 1 needs `spawn` and SharedArrayBuffer. */
  readonly threads?: number;
  readonly spawn?: Spawn;
}

export class WasmBackend implements Backend {
  readonly name: string;
  readonly kernels: Kernels;
  readonly memory: WebAssembly.Memory;
  /** f32 and i32 views of the arena (valid for the backend's lifetime: memory never grows after creation). */
  readonly f: Float32Array;
  readonly i: Int32Array;
  private readonly pool: ThreadPool | null;

  constructor(
    readonly arena: Arena,
    options: WasmOptions = {},
  ) {
    const threads = options.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)
      throw new TrainError('backend', `threads must be within 1..${MAX_THREADS}, got ${threads}`);
    if (threads > 1 && options.spawn === undefined) throw new TrainError('backend', 'threads need a spawn function');
    if (arena.T > MAX_T) throw new TrainError('backend', `sequence length ${arena.T} exceeds ${MAX_T}`);
    const bytes = ARENA_BASE + 4 * arena.size;
    if (bytes > WASM_MAX_BYTES) throw new TrainError('backend', 'arena exceeds WebAssembly memory (4 GiB)');
    const pages = Math.ceil(bytes / PAGE);
    const shared = threads > 1;
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
    const module = trainKernelsModule(shared);
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    const x = instance.exports as unknown as Exports;
    if ((x.SCRATCH_BYTES.value as number) > SCRATCH_STRIDE)
      throw new TrainError('backend', 'kernel scratch outgrew SCRATCH_STRIDE');
    this.pool = shared ? new ThreadPool(module, this.memory, CONTROL, threads - 1, options.spawn!) : null;
    this.kernels = new WasmKernels(x, this.pool, this.memory);
    this.name = threads > 1 ? `wasm-simd-${threads}t` : 'wasm-simd';
    this.f = new Float32Array(this.memory.buffer, ARENA_BASE, arena.size);
    this.i = new Int32Array(this.memory.buffer, ARENA_BASE, arena.size);
  }

  writeFloats(at: number, data: ArrayLike<number>) {
    this.f.set(data, at);
  }
  readFloats(at: number, n: number): Float64Array {
    return Float64Array.from(this.f.subarray(at, at + n));
  }
  writeInts(at: number, data: ArrayLike<number>) {
    this.i.set(data, at);
  }

  /**
   * The way to make a threaded backend in a browser (and harmless elsewhere): resolves once its worker
   * threads run, since a worker cannot start while its creator blocks.
   */
  static async create(arena: Arena, options: WasmOptions = {}): Promise<WasmBackend> {
    const b = new WasmBackend(arena, options);
    await b.pool?.ready();
    return b;
  }

  /** Stops the worker threads (a single-threaded backend has none). */
  dispose(): void {
    this.pool?.terminate();
  }
}
