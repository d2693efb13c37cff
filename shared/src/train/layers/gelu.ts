/** GELU, tanh form (GPT-2's): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
import type { Vec } from './types';

export const GELU_SCALE = Math.sqrt(2 / Math.PI);
export const GELU_CUBE = 0.044715;

export function geluForward(out: Vec, inp: Vec, n: number) {
  for (let i = 0; i < n; i++) {
    const x = inp[i]!;
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALE * (x + GELU_CUBE * x * x * x)));
  }
}

/** Accumulates into dinp. */
export function geluBackward(dinp: Vec, inp: Vec, dout: Vec, n: number) {
  for (let i = 0; i < n; i++) {
    const x = inp[i]!;
    const u = GELU_SCALE * (x + GELU_CUBE * x * x * x);
    const th = Math.tanh(u);
    const sech2 = 1 - th * th;
    const g = 0.5 * (1 + th) + 0.5 * x * sech2 * GELU_SCALE * (1 + 3 * GELU_CUBE * x * x);
    dinp[i] = dinp[i]! + g * dout[i]!;
  }
}
