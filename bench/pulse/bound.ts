/**
 * Entropy bound of a patch: per tensor, log2 C(N, n) bits for which n of N
 * positions changed (uniformly random positions) plus n times the empirical
 * order-0 entropy of the value deltas. Deltas are measured both as
 * ordered-integer ulp differences and as (sign flip, magnitude ulp
 * difference) pairs; the smaller bound is reported, so it is the stricter one.
 * A coder with richer context than order-0 may go below it: the
 * conditional bound (conditionalBoundBytes) is the same sum taken per context
 * of the old value's biased exponent, the context PULSE's conditioned kind
 * codes with (SPEC PULSE19), so that kind is measured against it.
 *
 * The plug-in entropy of a sample whose values are mostly unique is biased
 * low (it cannot exceed log2 n); the 'coverage' variant measures the deltas
 * with the Chao–Shen estimator instead and is reported beside it.
 */

import { DTYPES, findChangesCpu, type Model } from '@shared/pulse';

function log2Binomial(N: number, n: number): number {
  const k = Math.min(n, N - n);
  let bits = 0;
  for (let i = 0; i < k; i++) bits += Math.log2((N - i) / (k - i));
  return bits;
}

/** Plug-in (empirical order-0) entropy of a sample, in bits for the whole sample. */
export function entropyBits(counts: Map<number, number>, total: number): number {
  let bits = 0;
  for (const c of counts.values()) bits -= c * Math.log2(c / total);
  return bits;
}

/**
 * Coverage-adjusted (Chao–Shen 2003) entropy of a sample, in bits for the
 * whole sample. The plug-in estimate cannot exceed log2(sample size): when
 * most values occur once (f32 ulp deltas, spread over 2^15 and more) it
 * says less than any code could spend, because it never pays for the values
 * it did not see. Chao–Shen scales each probability by the estimated
 * coverage 1 − (singletons / n) and corrects for unseen values
 * (Horvitz–Thompson). When few values are singletons (bf16, f16 deltas) it
 * is the plug-in estimate.
 */
export function coverageEntropyBits(counts: Map<number, number>, total: number): number {
  let singletons = 0;
  for (const c of counts.values()) if (c === 1) singletons++;
  const coverage = 1 - Math.min(singletons, total - 1) / total;
  let bits = 0;
  for (const c of counts.values()) {
    const p = (coverage * c) / total;
    bits -= (p * Math.log2(p)) / (1 - (1 - p) ** total);
  }
  return bits * total;
}

/** A `width`-bit float pattern as an unsigned integer in value order (−0 just below +0). */
export function ordered(bits: number, width: number): number {
  const sign = width === 16 ? 0x8000 : 0x80000000;
  const mask = width === 16 ? 0xffff : 0xffffffff;
  return bits & sign ? (~bits & mask) >>> 0 : (bits | sign) >>> 0;
}

/** The bit pattern at position `o` in value order: ordered's inverse. */
export function unordered(o: number, width: number): number {
  const sign = width === 16 ? 0x8000 : 0x80000000;
  const mask = width === 16 ? 0xffff : 0xffffffff;
  return o >= sign ? o - sign : (~o & mask) >>> 0;
}

/** The bound with each tensor's deltas measured by `estimate` (entropyBits: the plug-in bound; coverageEntropyBits). */
export function boundBytes(base: Model, next: Model, estimate: 'plug-in' | 'coverage' = 'plug-in'): number {
  return contextBoundBytes(base, next, estimate, null);
}

/**
 * The bound given each old value's biased exponent: per context, log2 C(N_c, n_c) for which of its N_c values
 * changed plus n_c times the order-0 entropy of its deltas (the smaller of the two measures, per context).
 * What the receiver holds makes this a fair bound for a coder that reads the base (PULSE19).
 */
export function conditionalBoundBytes(base: Model, next: Model, estimate: 'plug-in' | 'coverage' = 'plug-in'): number {
  return contextBoundBytes(base, next, estimate, 'exponent');
}

function contextBoundBytes(
  base: Model,
  next: Model,
  estimate: 'plug-in' | 'coverage',
  context: 'exponent' | null,
): number {
  const entropy = estimate === 'plug-in' ? entropyBits : coverageEntropyBits;
  let bits = 0;
  next.tensors.forEach((t, ti) => {
    const old = base.tensors[ti]!;
    const positions = findChangesCpu(old.data, t.data);
    const { width, exponentBits } = DTYPES[t.dtype];
    const magMask = width === 16 ? 0x7fff : 0x7fffffff;
    const shift = width - 1 - exponentBits;
    const contextOf = (o: number): number => (context === null ? 0 : (o >>> shift) & ((1 << exponentBits) - 1));
    const elements = new Map<number, number>();
    if (context === null) elements.set(0, old.data.length);
    else for (const o of old.data) elements.set(contextOf(o), (elements.get(contextOf(o)) ?? 0) + 1);
    const perContext = new Map<number, { n: number; ordered: Map<number, number>; signMag: Map<number, number> }>();
    for (const p of positions) {
      const o = old.data[p]!;
      const v = t.data[p]!;
      const c = contextOf(o);
      let e = perContext.get(c);
      if (e === undefined) perContext.set(c, (e = { n: 0, ordered: new Map(), signMag: new Map() }));
      e.n++;
      const od = ordered(v, width) - ordered(o, width);
      e.ordered.set(od, (e.ordered.get(od) ?? 0) + 1);
      const flip = (o ^ v) >>> (width - 1);
      const sm = ((v & magMask) - (o & magMask)) * 2 + flip;
      e.signMag.set(sm, (e.signMag.get(sm) ?? 0) + 1);
    }
    for (const [c, e] of perContext)
      bits += log2Binomial(elements.get(c)!, e.n) + Math.min(entropy(e.ordered, e.n), entropy(e.signMag, e.n));
  });
  return Math.ceil(bits / 8);
}
