/**
 * Result comparison. A disagreement always says why, so the dashboard can show it.
 *
 * Floats: an element passes when |a−b| ≤ atol·scale + rtol·max(|a|,|b|), where
 * scale is the smaller of the two tensors' largest finite magnitudes. The atol
 * term is relative to the tensor, not absolute, because an output that cancels
 * to near zero carries the rounding error of its large addends; the smaller
 * scale is used so an adversary cannot loosen the bound by inflating values.
 * NaN matches NaN (an honest model that yields NaN does so everywhere), ±Inf
 * matches only the same infinity, and finite vs non-finite is a disagreement.
 * Integers compare exactly. dtype, rank, dims and output count must match.
 */
import type { Tolerance } from './adapterClass';
import type { ResultTensor, UnitOutputs } from './tensor';

export type Disagreement =
  | { kind: 'output-count'; a: number; b: number }
  | { kind: 'dtype'; output: number; a: string; b: string }
  | { kind: 'shape'; output: number; a: readonly number[]; b: readonly number[] }
  | { kind: 'non-finite'; output: number; index: number; a: number; b: number }
  | { kind: 'value'; output: number; index: number; a: number | bigint; b: number | bigint; excess: number };

export type Comparison = { agree: true; maxExcessRatio: number } | { agree: false; reason: Disagreement };

function maxFiniteAbs(data: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < data.length; i++) {
    const x = Math.abs(data[i]!);
    if (x > m && x !== Infinity) m = x;
  }
  return m;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Compares two tensors. `maxExcessRatio` is the worst |a−b| / allowed over all
 * elements (≤ 1 when they agree): how close an agreement came to the line.
 */
export function compareTensors(a: ResultTensor, b: ResultTensor, tolerance: Tolerance, output = 0): Comparison {
  if (a.dtype !== b.dtype) return { agree: false, reason: { kind: 'dtype', output, a: a.dtype, b: b.dtype } };
  if (!sameDims(a.dims, b.dims) || a.data.length !== b.data.length) {
    return { agree: false, reason: { kind: 'shape', output, a: a.dims, b: b.dims } };
  }
  if (a.dtype === 'float32' || a.dtype === 'float64') {
    const x = a.data;
    const y = b.data as Float32Array | Float64Array;
    const scale = Math.min(maxFiniteAbs(x), maxFiniteAbs(y));
    const floor = tolerance.atol * scale;
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const p = x[i]!;
      const q = y[i]!;
      if (p === q) continue; // also equal infinities
      if (Number.isNaN(p) && Number.isNaN(q)) continue;
      if (!Number.isFinite(p) || !Number.isFinite(q))
        return { agree: false, reason: { kind: 'non-finite', output, index: i, a: p, b: q } };
      const allowed = floor + tolerance.rtol * Math.max(Math.abs(p), Math.abs(q));
      const diff = Math.abs(p - q);
      if (diff > allowed)
        return {
          agree: false,
          reason: { kind: 'value', output, index: i, a: p, b: q, excess: allowed > 0 ? diff / allowed : Infinity },
        };
      if (allowed > 0) worst = Math.max(worst, diff / allowed);
    }
    return { agree: true, maxExcessRatio: worst };
  }
  const x = a.data as ArrayLike<number | bigint>;
  const y = b.data as ArrayLike<number | bigint>;
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i])
      return { agree: false, reason: { kind: 'value', output, index: i, a: x[i]!, b: y[i]!, excess: Infinity } };
  }
  return { agree: true, maxExcessRatio: 0 };
}

/** Compares every output of a unit; the first disagreement wins. */
export function compareOutputs(a: UnitOutputs, b: UnitOutputs, tolerance: Tolerance): Comparison {
  if (a.length !== b.length) return { agree: false, reason: { kind: 'output-count', a: a.length, b: b.length } };
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const c = compareTensors(a[i]!, b[i]!, tolerance, i);
    if (!c.agree) return c;
    worst = Math.max(worst, c.maxExcessRatio);
  }
  return { agree: true, maxExcessRatio: worst };
}

export function describeDisagreement(d: Disagreement): string {
  switch (d.kind) {
    case 'output-count':
      return `output count ${d.a} vs ${d.b}`;
    case 'dtype':
      return `output ${d.output}: dtype ${d.a} vs ${d.b}`;
    case 'shape':
      return `output ${d.output}: dims [${d.a.join(',')}] vs [${d.b.join(',')}]`;
    case 'non-finite':
      return `output ${d.output}[${d.index}]: ${d.a} vs ${d.b}`;
    case 'value':
      return `output ${d.output}[${d.index}]: ${String(d.a)} vs ${String(d.b)} (${Number.isFinite(d.excess) ? d.excess.toPrecision(3) + '× tolerance' : 'exact mismatch'})`;
  }
}
