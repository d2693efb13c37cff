/**
 * Integers in [0, 2^31 − 1] as (bucket symbol, raw low bits), like the
 * length codes of deflate or zstd: x = v + 1 with leading one at bit k; small
 * x are their own bucket, larger ones keep the BUCKET_MANTISSA_BITS bits below
 * the leading one in the symbol and send the k − BUCKET_MANTISSA_BITS lowest
 * bits raw. The entropy coder sees a small alphabet whose frequent symbols
 * are exact values (ulp deltas ±1, ±2) or narrow ranges (gaps).
 */

import { BUCKET_MANTISSA_BITS } from './constants';

const M = BUCKET_MANTISSA_BITS;
/** Values below this are their own symbol. */
export const DIRECT_BUCKETS = (1 << (M + 1)) - 1;
const DIRECT = (1 << (M + 1)) - 1;

/** Symbols needed for values up to 2^31 − 1 (x up to 2^31, k = 31). */
export const BUCKET_SYMBOLS = bucketOf(0x7fffffff) + 1;

/** The bucket of v ≥ 0 (v < 2^31). */
export function bucketOf(v: number): number {
  const x = v + 1;
  if (x <= DIRECT) return v;
  const extra = 31 - Math.clz32(x) - M;
  return (extra << M) + (x >>> extra) - 1;
}

/** Raw bits that follow bucket `s`. */
export function bucketExtraBits(s: number): number {
  return s < DIRECT ? 0 : ((s + 1) >>> M) - 1;
}

/** Per bucket: the smallest value it holds (at most 2^31 − 1) and its raw-bit count. */
export interface BucketTables {
  readonly base: Int32Array;
  readonly extra: Uint8Array;
}

function buildBucketTables(): BucketTables {
  const base = new Int32Array(BUCKET_SYMBOLS);
  const extra = new Uint8Array(BUCKET_SYMBOLS);
  for (let s = 0; s < BUCKET_SYMBOLS; s++) {
    const e = bucketExtraBits(s);
    extra[s] = e;
    // x = top · 2^e + raw, top = (s + 1) mod 2^M + 2^M.
    base[s] = e === 0 ? s : (((s + 1) & ((1 << M) - 1)) + (1 << M)) * 2 ** e - 1;
  }
  return { base, extra };
}

export const BUCKETS: BucketTables = buildBucketTables();
