/**
 * The WebAssembly backend: the AssemblyScript kernels (shared/assembly/train.ts)
 * over one WebAssembly.Memory holding the whole arena. Runs wherever
 * WebAssembly with SIMD does: Node, a page, a Web Worker. f32 throughout.
 *
 *   bytes [0, 64 KiB)   reserved: the module's statics and the attention scratch row
 *   bytes [64 KiB, …)   the arena (slot s at ARENA_BASE + 4·s)
 */
import { base64urlDecode } from '../../bytes';
import type { Backend } from '../backend';
import { TrainError } from '../errors';
import type { AdamWHyper, Kernels } from '../kernels';
import { NONE } from '../kernels';
import type { Arena } from '../layout';
import { TRAIN_KERNELS_WASM } from './kernels.wasm';

/** One page below the arena for AssemblyScript's static data and the T-float attention scratch. */
const ARENA_BASE = 65536;
const SCRATCH = 32768;
/** The scratch row holds T floats: 32 KiB − 32 KiB of statics leaves room for T ≤ 8192. */
const MAX_T = 8192;
const PAGE = 65536;

interface Exports {
  matmulForward(out: number, inp: number, w: number, bias: number, N: number, Cin: number, Cout: number): void;
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
  ): void;
  encoderForward(out: number, tokens: number, wte: number, wpe: number, B: number, T: number, C: number): void;
  encoderBackward(dwte: number, dwpe: number, dout: number, tokens: number, B: number, T: number, C: number): void;
  layernormForward(
    out: number,
    mean: number,
    rstd: number,
    inp: number,
    w: number,
    b: number,
    N: number,
    C: number,
  ): void;
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
  ): void;
  attentionForward(out: number, att: number, qkv: number, B: number, T: number, C: number, NH: number): void;
  attentionBackward(
    dqkv: number,
    dout: number,
    qkv: number,
    att: number,
    B: number,
    T: number,
    C: number,
    NH: number,
    scratch: number,
  ): void;
  geluForward(out: number, inp: number, n: number): void;
  geluBackward(dinp: number, inp: number, dout: number, n: number): void;
  residualForward(out: number, a: number, b: number, n: number): void;
  residualBackward(da: number, db: number, dout: number, n: number): void;
  crossentropyForward(losses: number, probs: number, logits: number, targets: number, N: number, V: number): void;
  crossentropyBackward(dlogits: number, probs: number, targets: number, N: number, V: number): void;
  sumSquares(at: number, n: number): number;
  sumOf(at: number, n: number): number;
  adamw(
    p: number,
    g: number,
    m: number,
    v: number,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    wd: number,
    c1: number,
    c2: number,
    gradScale: number,
  ): void;
  zero(at: number, n: number): void;
}

let compiled: WebAssembly.Module | null = null;

/** ~10 KB: compiled synchronously once per realm (fine in Node and workers, and under Chromium's main-thread limit). */
export function trainKernelsModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(base64urlDecode(TRAIN_KERNELS_WASM) as Uint8Array<ArrayBuffer>);
  return compiled;
}

/** Slot offsets → byte addresses, and the kernel calls themselves. */
class WasmKernels implements Kernels {
  constructor(private readonly x: Exports) {}
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
    this.x.matmulForward(p(out), p(inp), p(w), bias === NONE ? 0 : p(bias), N, Cin, Cout);
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
    this.x.matmulBackward(p(dinp), p(dw), dbias === NONE ? 0 : p(dbias), p(dout), p(inp), p(w), N, Cin, Cout);
  }
  attentionForward(out: number, att: number, qkv: number, B: number, T: number, C: number, NH: number) {
    const p = WasmKernels.p;
    this.x.attentionForward(p(out), p(att), p(qkv), B, T, C, NH);
  }
  attentionBackward(dqkv: number, dout: number, qkv: number, att: number, B: number, T: number, C: number, NH: number) {
    const p = WasmKernels.p;
    this.x.attentionBackward(p(dqkv), p(dout), p(qkv), p(att), B, T, C, NH, SCRATCH);
  }
  geluForward(out: number, inp: number, n: number) {
    this.x.geluForward(WasmKernels.p(out), WasmKernels.p(inp), n);
  }
  geluBackward(dinp: number, inp: number, dout: number, n: number) {
    const p = WasmKernels.p;
    this.x.geluBackward(p(dinp), p(inp), p(dout), n);
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
    this.x.crossentropyForward(p(losses), p(probs), p(logits), p(targets), N, V);
  }
  crossentropyBackward(dlogits: number, probs: number, targets: number, N: number, V: number) {
    const p = WasmKernels.p;
    this.x.crossentropyBackward(p(dlogits), p(probs), p(targets), N, V);
  }
  zero(at: number, n: number) {
    this.x.zero(WasmKernels.p(at), n);
  }
  sumSquares(at: number, n: number): number {
    return this.x.sumSquares(WasmKernels.p(at), n);
  }
  mean(at: number, n: number): number {
    return this.x.sumOf(WasmKernels.p(at), n) / n;
  }
  adamw(params: number, grads: number, m: number, v: number, n: number, hp: AdamWHyper, t: number, gradScale: number) {
    const p = WasmKernels.p;
    const c1 = 1 - hp.beta1 ** t;
    const c2 = 1 - hp.beta2 ** t;
    this.x.adamw(
      p(params),
      p(grads),
      p(m),
      p(v),
      n,
      hp.lr,
      hp.beta1,
      hp.beta2,
      hp.eps,
      hp.weightDecay,
      c1,
      c2,
      gradScale,
    );
  }
}

export class WasmBackend implements Backend {
  readonly name = 'wasm-simd';
  readonly kernels: Kernels;
  readonly memory: WebAssembly.Memory;
  /** f32 and i32 views of the arena (valid for the backend's lifetime: memory never grows after creation). */
  readonly f: Float32Array;
  readonly i: Int32Array;

  constructor(readonly arena: Arena) {
    if (arena.T > MAX_T) throw new TrainError('backend', `sequence length ${arena.T} exceeds ${MAX_T}`);
    const bytes = ARENA_BASE + 4 * arena.size;
    if (bytes > 2 ** 32 - PAGE) throw new TrainError('backend', 'arena exceeds WebAssembly memory (4 GiB)');
    const pages = Math.ceil(bytes / PAGE);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(trainKernelsModule(), { env: { memory: this.memory } });
    this.kernels = new WasmKernels(instance.exports as unknown as Exports);
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
}
