/**
 * Linear layer: out[n, o] = bias[o] + sum_i inp[n, i] * w[o, i], with w stored
 * (out, in) row-major as in llm.c and PyTorch. The backward computes both
 * gradient products: dinp = dout · w and dw = doutᵀ · inp (plus dbias).
 * Pass bias = null for none.
 */
import type { Vec } from './types';

export function matmulForward(out: Vec, inp: Vec, w: Vec, bias: Vec | null, N: number, Cin: number, Cout: number) {
  for (let n = 0; n < N; n++) {
    const x = n * Cin;
    for (let o = 0; o < Cout; o++) {
      const r = o * Cin;
      let s = bias === null ? 0 : bias[o]!;
      for (let i = 0; i < Cin; i++) s += inp[x + i]! * w[r + i]!;
      out[n * Cout + o] = s;
    }
  }
}

/** Accumulates into dinp, dw and dbias. */
export function matmulBackward(
  dinp: Vec,
  dw: Vec,
  dbias: Vec | null,
  dout: Vec,
  inp: Vec,
  w: Vec,
  N: number,
  Cin: number,
  Cout: number,
) {
  for (let n = 0; n < N; n++) {
    const x = n * Cin;
    for (let o = 0; o < Cout; o++) {
      const d = dout[n * Cout + o]!;
      const r = o * Cin;
      for (let i = 0; i < Cin; i++) dinp[x + i] = dinp[x + i]! + d * w[r + i]!;
    }
  }
  for (let o = 0; o < Cout; o++) {
    const r = o * Cin;
    let sb = 0;
    for (let n = 0; n < N; n++) {
      const d = dout[n * Cout + o]!;
      sb += d;
      const x = n * Cin;
      for (let i = 0; i < Cin; i++) dw[r + i] = dw[r + i]! + d * inp[x + i]!;
    }
    if (dbias !== null) dbias[o] = dbias[o]! + sb;
  }
}
