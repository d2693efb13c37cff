/**
 * The reference kernels over a JS typed array: Float64Array for the float64
 * reference, Float32Array for the f32 JS path (f32 storage, double-precision
 * arithmetic between loads and stores). Offsets become subarray views.
 */
import { adamwUpdate, clipScale } from './adamw';
import type { AdamWHyper, Kernels } from './kernels';
import { NONE } from './kernels';
import { attentionBackward, attentionForward } from './layers/attention';
import { crossentropyBackward, crossentropyBackwardWeighted, crossentropyForward } from './layers/crossentropy';
import { encoderBackward, encoderForward } from './layers/embedding';
import { geluBackward, geluForward } from './layers/gelu';
import { layernormBackward, layernormForward } from './layers/layernorm';
import { matmulBackward, matmulForward } from './layers/matmul';
import { residualBackward, residualForward } from './layers/residual';
import type { Vec } from './layers/types';

export class JsKernels implements Kernels {
  constructor(
    readonly f: Vec,
    readonly i: Int32Array,
  ) {}

  private v(at: number): Vec {
    return this.f.subarray(at);
  }

  private ints(at: number): Int32Array {
    return this.i.subarray(at);
  }

  encoderForward(out: number, tokens: number, wte: number, wpe: number, B: number, T: number, C: number) {
    encoderForward(this.v(out), this.ints(tokens), this.v(wte), this.v(wpe), B, T, C);
  }
  encoderBackward(dwte: number, dwpe: number, dout: number, tokens: number, B: number, T: number, C: number) {
    encoderBackward(this.v(dwte), this.v(dwpe), this.v(dout), this.ints(tokens), B, T, C);
  }
  layernormForward(out: number, mean: number, rstd: number, inp: number, w: number, b: number, N: number, C: number) {
    layernormForward(this.v(out), this.v(mean), this.v(rstd), this.v(inp), this.v(w), this.v(b), N, C);
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
    const v = (x: number) => this.v(x);
    layernormBackward(v(dinp), v(dw), v(db), v(dout), v(inp), v(w), v(mean), v(rstd), N, C);
  }
  matmulForward(out: number, inp: number, w: number, bias: number, N: number, Cin: number, Cout: number) {
    matmulForward(this.v(out), this.v(inp), this.v(w), bias === NONE ? null : this.v(bias), N, Cin, Cout);
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
    const v = (x: number) => this.v(x);
    matmulBackward(v(dinp), v(dw), dbias === NONE ? null : v(dbias), v(dout), v(inp), v(w), N, Cin, Cout);
  }
  attentionForward(out: number, att: number, qkv: number, B: number, T: number, C: number, NH: number) {
    attentionForward(this.v(out), this.v(att), this.v(qkv), B, T, C, NH);
  }
  attentionBackward(dqkv: number, dout: number, qkv: number, att: number, B: number, T: number, C: number, NH: number) {
    attentionBackward(this.v(dqkv), this.v(dout), this.v(qkv), this.v(att), B, T, C, NH);
  }
  geluForward(out: number, inp: number, n: number) {
    geluForward(this.v(out), this.v(inp), n);
  }
  geluBackward(dinp: number, inp: number, dout: number, n: number) {
    geluBackward(this.v(dinp), this.v(inp), this.v(dout), n);
  }
  residualForward(out: number, a: number, b: number, n: number) {
    residualForward(this.v(out), this.v(a), this.v(b), n);
  }
  residualBackward(da: number, db: number, dout: number, n: number) {
    residualBackward(this.v(da), this.v(db), this.v(dout), n);
  }
  crossentropyForward(losses: number, probs: number, logits: number, targets: number, N: number, V: number) {
    crossentropyForward(this.v(losses), this.v(probs), this.v(logits), this.ints(targets), N, V);
  }
  crossentropyBackward(dlogits: number, probs: number, targets: number, N: number, V: number) {
    crossentropyBackward(this.v(dlogits), this.v(probs), this.ints(targets), N, V);
  }
  crossentropyBackwardWeighted(dlogits: number, probs: number, targets: number, dlosses: number, N: number, V: number) {
    crossentropyBackwardWeighted(this.v(dlogits), this.v(probs), this.ints(targets), this.v(dlosses), N, V);
  }
  zero(at: number, n: number) {
    this.f.fill(0, at, at + n);
  }
  meanInto(dst: number, at: number, n: number) {
    let s = 0;
    for (let k = at; k < at + n; k++) s += this.f[k]!;
    this.f[dst] = s / n;
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
    let ss = 0;
    for (let k = grads; k < grads + n; k++) ss += this.f[k]! * this.f[k]!;
    this.f[norm] = Math.sqrt(ss);
    adamwUpdate(this.v(params), this.v(grads), this.v(m), this.v(v), n, hp, t, clipScale(ss, maxNorm));
  }
}
