/**
 * Causal multi-head self-attention over a packed qkv (B, T, 3C): for head h,
 * q, k and v are the h-th slices of width hs = C / NH in the three thirds.
 * att[b, h, t, :] is the softmax of q·k / √hs over positions 0..t (zeros
 * after t), kept for the backward; out[b, t, h·hs..] = Σ att · v.
 */
import type { Vec } from './types';

export function attentionForward(out: Vec, att: Vec, qkv: Vec, B: number, T: number, C: number, NH: number) {
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  const C3 = 3 * C;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < NH; h++) {
        const q = (b * T + t) * C3 + h * hs;
        const a = ((b * NH + h) * T + t) * T;
        let max = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = (b * T + t2) * C3 + C + h * hs;
          let s = 0;
          for (let i = 0; i < hs; i++) s += qkv[q + i]! * qkv[k + i]!;
          s *= scale;
          att[a + t2] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const e = Math.exp(att[a + t2]! - max);
          att[a + t2] = e;
          sum += e;
        }
        for (let t2 = 0; t2 < T; t2++) att[a + t2] = t2 <= t ? att[a + t2]! / sum : 0;
        const o = (b * T + t) * C + h * hs;
        for (let i = 0; i < hs; i++) out[o + i] = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const v = (b * T + t2) * C3 + 2 * C + h * hs;
          const w = att[a + t2]!;
          for (let i = 0; i < hs; i++) out[o + i] = out[o + i]! + w * qkv[v + i]!;
        }
      }
}

/**
 * Accumulates into dqkv. The softmax backward uses the O(T) form
 * dpre[t2] = att[t2] · (datt[t2] − Σ att · datt) rather than the O(T²) Jacobian.
 */
export function attentionBackward(
  dqkv: Vec,
  dout: Vec,
  qkv: Vec,
  att: Vec,
  B: number,
  T: number,
  C: number,
  NH: number,
) {
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  const C3 = 3 * C;
  const datt = new Float64Array(T);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < NH; h++) {
        const q = (b * T + t) * C3 + h * hs;
        const a = ((b * NH + h) * T + t) * T;
        const o = (b * T + t) * C + h * hs;
        let dot = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const v = (b * T + t2) * C3 + 2 * C + h * hs;
          const w = att[a + t2]!;
          let s = 0;
          for (let i = 0; i < hs; i++) {
            const d = dout[o + i]!;
            s += d * qkv[v + i]!;
            dqkv[v + i] = dqkv[v + i]! + w * d;
          }
          datt[t2] = s;
          dot += w * s;
        }
        for (let t2 = 0; t2 <= t; t2++) {
          const k = (b * T + t2) * C3 + C + h * hs;
          const dpre = att[a + t2]! * (datt[t2]! - dot) * scale;
          for (let i = 0; i < hs; i++) {
            dqkv[q + i] = dqkv[q + i]! + dpre * qkv[k + i]!;
            dqkv[k + i] = dqkv[k + i]! + dpre * qkv[q + i]!;
          }
        }
      }
}
