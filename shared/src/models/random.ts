import { mulberry32 } from '../random';

export { mulberry32 };

/** `count` float32 values uniform in [lo, hi). */
export function uniformFloats(seed: number, count: number, lo = -1, hi = 1): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = lo + (hi - lo) * next();
  return out;
}
