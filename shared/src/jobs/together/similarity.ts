/**
 * Sparse geometry of contributions: norms and cosines computed on the kept values only (positions are
 * ascending over the whole vector, so a dot product is one merge of two sorted lists).
 */
import { chunkCount, type Contribution, keptIn, valueOf } from './compress';

/** The kept values in position order, as f64. */
export function keptValues(c: Contribution): Float64Array {
  const out = new Float64Array(c.positions.length);
  let at = 0;
  for (let ch = 0, m = chunkCount(c.n, c.chunk); ch < m; ch++)
    for (let j = 0, k = keptIn(c.n, c.chunk, c.topK, ch); j < k; j++, at++) out[at] = valueOf(c, ch, c.symbols[at]!);
  return out;
}

export interface Sparse {
  readonly positions: Uint32Array;
  readonly values: Float64Array;
  readonly norm: number;
}

export function sparseOf(c: Contribution): Sparse {
  const values = keptValues(c);
  let s = 0;
  for (const v of values) s += v * v;
  return { positions: c.positions, values, norm: Math.sqrt(s) };
}

export function cosine(a: Sparse, b: Sparse): number {
  if (a.norm === 0 || b.norm === 0) return 0;
  let i = 0;
  let j = 0;
  let dot = 0;
  const pa = a.positions;
  const pb = b.positions;
  while (i < pa.length && j < pb.length) {
    const x = pa[i]!;
    const y = pb[j]!;
    if (x === y) dot += a.values[i++]! * b.values[j++]!;
    else if (x < y) i++;
    else j++;
  }
  return dot / (a.norm * b.norm);
}
