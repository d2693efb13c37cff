/**
 * LayerNorm over the last axis (eps = LAYERNORM_EPS, biased variance, as in
 * GPT-2): out = (x - mean) * rstd * w + b, keeping mean and rstd per row for
 * the backward.
 */
import { LAYERNORM_EPS } from '../config';
import type { Vec } from './types';

export function layernormForward(out: Vec, mean: Vec, rstd: Vec, inp: Vec, w: Vec, b: Vec, N: number, C: number) {
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let m = 0;
    for (let i = 0; i < C; i++) m += inp[x + i]!;
    m /= C;
    let v = 0;
    for (let i = 0; i < C; i++) {
      const d = inp[x + i]! - m;
      v += d * d;
    }
    v /= C;
    const s = 1 / Math.sqrt(v + LAYERNORM_EPS);
    for (let i = 0; i < C; i++) out[x + i] = (inp[x + i]! - m) * s * w[i]! + b[i]!;
    mean[n] = m;
    rstd[n] = s;
  }
}

/** Accumulates into dinp, dw and db (callers zero gradients once per step). */
export function layernormBackward(
  dinp: Vec,
  dw: Vec,
  db: Vec,
  dout: Vec,
  inp: Vec,
  w: Vec,
  mean: Vec,
  rstd: Vec,
  N: number,
  C: number,
) {
  for (let n = 0; n < N; n++) {
    const x = n * C;
    const m = mean[n]!;
    const s = rstd[n]!;
    // Two reductions first: mean of dnorm and of dnorm * norm.
    let dnormMean = 0;
    let dnormNormMean = 0;
    for (let i = 0; i < C; i++) {
      const norm = (inp[x + i]! - m) * s;
      const dnorm = w[i]! * dout[x + i]!;
      dnormMean += dnorm;
      dnormNormMean += dnorm * norm;
    }
    dnormMean /= C;
    dnormNormMean /= C;
    for (let i = 0; i < C; i++) {
      const norm = (inp[x + i]! - m) * s;
      const d = dout[x + i]!;
      const dnorm = w[i]! * d;
      db[i] = db[i]! + d;
      dw[i] = dw[i]! + norm * d;
      dinp[x + i] = dinp[x + i]! + (dnorm - dnormMean - norm * dnormNormMean) * s;
    }
  }
}
