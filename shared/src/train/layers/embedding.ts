/**
 * Token + position embedding: out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:].
 * The backward scatter-adds into both tables (a token seen twice sums).
 */
import type { Vec } from './types';

export function encoderForward(out: Vec, tokens: Int32Array, wte: Vec, wpe: Vec, B: number, T: number, C: number) {
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      const ix = tokens[b * T + t]! * C;
      const p = t * C;
      for (let i = 0; i < C; i++) out[o + i] = wte[ix + i]! + wpe[p + i]!;
    }
}

export function encoderBackward(dwte: Vec, dwpe: Vec, dout: Vec, tokens: Int32Array, B: number, T: number, C: number) {
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      const ix = tokens[b * T + t]! * C;
      const p = t * C;
      for (let i = 0; i < C; i++) {
        const d = dout[o + i]!;
        dwte[ix + i] = dwte[ix + i]! + d;
        dwpe[p + i] = dwpe[p + i]! + d;
      }
    }
}
