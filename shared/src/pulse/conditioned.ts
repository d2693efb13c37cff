/**
 * The `conditioned` tensor kind (types.ts ConditionedTensorPatch): positions
 * and values coded given the base the receiver already holds.
 *
 * A bf16 weight that an optimiser moves by a small step changes when its f32
 * master crosses a rounding boundary, so it changes with probability about
 * step / ulp(old value): the old value's exponent, which the receiver has,
 * says most of what can be known about where changes fall and how far they
 * go (bench:rl grail-regime, lr 1e-6: 5% of values at exponent −9 change,
 * 0.3% at −6, every one below −14). Each old biased exponent is a context:
 * its changes are coded as gaps counted over the base values of that context
 * only, and its values as ulp symbols, each context with its own tables.
 *
 * This file plans and encodes (in diff); conditioned-apply.ts decodes (in
 * apply), walking the base once: each context counts down the values to
 * skip before its next change, so positions cost one table lookup per value
 * and an rANS step per change. JS only (no kernel): the whole kind runs
 * where a kernel would have to take the base too (SPEC PULSE19).
 *
 * Coded bytes: contexts with changes · per context, ascending: gap from the
 * previous context · its changes · gap table · value table; then one rANS
 * stream (4-byte state, then bytes in decode order) to the end. A table is
 * 1 · its only symbol (nothing coded), or its symbol count · writeTable.
 * Stream order: each context's first gap, ascending; then per change in
 * position order its value symbol, its raw bits (as ≤ 16-bit uniform
 * chunks, high first) and the gap to its context's next change, if any.
 */

import { BUCKET_SYMBOLS, BUCKETS, DIRECT_BUCKETS } from './buckets';
import { ByteWriter } from './bytes';
import { BUCKET_MANTISSA_BITS } from './constants';
import { type EncodeTable, normalize, RANS_L, writeTable } from './rans';
import { DTYPES, type DType, type TensorData } from './types';

export const GAP_ALPHABET = BUCKET_SYMBOLS;
/** 2 · bucket of the zig-zagged magnitude delta + sign flip, as the ulp kind's delta stream. */
export const VALUE_ALPHABET = 2 * BUCKET_SYMBOLS;
/** Widest uniform chunk of raw bits per rANS step (state · 2^16 stays below 2^31). */
export const CHUNK_BITS = 16;
/**
 * Each context has two tables, so they are kept smaller than the streams'
 * (ENCODE_MAX_SCALE_BITS = 12): the grail-regime patches' ~50 tables of 2^12
 * slots (1.2 MB) miss cache on most changes. Measured there (median patch,
 * apply of step 5->6, loaded 2-core box): 2^12 91,830 B 43 ms, 2^10 91,729 B
 * 37 ms, 2^9 91,764 B 36 ms, 2^8 91,899 B 34 ms; 2^10 also writes smaller tables.
 */
const CONTEXT_MAX_SCALE_BITS = 10;

/** Bucket of v ≥ 0, inlined as in payload.ts. */
function bucket(v: number): number {
  if (v < DIRECT_BUCKETS) return v;
  const e0 = 31 - Math.clz32(v + 1) - BUCKET_MANTISSA_BITS;
  return (e0 << BUCKET_MANTISSA_BITS) + ((v + 1) >>> e0) - 1;
}

function entropyBits(hist: Uint32Array, from: number, to: number): { bits: number; total: number; present: number } {
  let total = 0;
  let present = 0;
  for (let s = from; s < to; s++) {
    total += hist[s]!;
    if (hist[s]! > 0) present++;
  }
  let bits = 0;
  for (let s = from; s < to; s++) {
    const c = hist[s]!;
    if (c > 0) bits -= c * Math.log2(c / total);
  }
  return { bits, total, present };
}

/** What the encoder works out for one tensor: its size estimate, and what encodeConditioned needs. */
export interface ConditionedPlan {
  /** Estimated coded size: per-context order-0 entropy of gap and value symbols, raw bits, tables. */
  readonly bits: number;
  readonly contexts: number;
  readonly ctx: Uint8Array;
  readonly gapSym: Uint8Array;
  readonly gapLow: Uint32Array;
  readonly valSym: Uint8Array;
  readonly valLow: Uint32Array;
  readonly gapHist: Uint32Array;
  readonly valHist: Uint32Array;
  readonly changesIn: Uint32Array;
}

/** A value's biased exponent is (bits >>> shift) & mask; C contexts, one per exponent. */
export function exponentField(dtype: DType): { width: number; shift: number; mask: number; C: number } {
  const { width, exponentBits } = DTYPES[dtype];
  return { width, shift: width - 1 - exponentBits, mask: (1 << exponentBits) - 1, C: 1 << exponentBits };
}

/**
 * Per context, a cheap guess of the positions' coded size from every
 * `stride`-th base value and each change's old exponent: the conditional
 * entropy of the changed flags. Lets diff skip the full plan (a pass over the
 * whole base) where the context cannot pay.
 */
export function conditionedPositionGuessBits(
  dtype: DType,
  base: TensorData,
  oldExponents: Uint8Array,
  stride: number,
): number {
  const { shift, mask, C } = exponentField(dtype);
  const sampled = new Float64Array(C);
  for (let i = 0; i < base.length; i += stride) sampled[(base[i]! >>> shift) & mask]! += stride;
  const changed = new Float64Array(C);
  for (let i = 0; i < oldExponents.length; i++) changed[oldExponents[i]!]!++;
  let bits = 0;
  for (let c = 0; c < C; c++) {
    const n = changed[c]!;
    const N = Math.max(sampled[c]!, n);
    if (n === 0 || n === N) continue;
    const p = n / N;
    bits -= N * (p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
  }
  return bits;
}

/** The plan of a tensor's changes (positions ascending, ulp columns as in UlpTensorPatch) against its base. */
export function planConditioned(
  dtype: DType,
  base: TensorData,
  positions: Uint32Array,
  flips: Uint8Array,
  mags: Uint32Array,
): ConditionedPlan {
  const { width, shift, mask, C } = exponentField(dtype);
  const half = width === 16 ? 0x4000 : 0x40000000;
  const n = positions.length;
  const N = base.length;
  const ctx = new Uint8Array(n);
  const gapSym = new Uint8Array(n);
  const gapLow = new Uint32Array(n);
  const valSym = new Uint8Array(n);
  const valLow = new Uint32Array(n);
  const gapHist = new Uint32Array(C * GAP_ALPHABET);
  const valHist = new Uint32Array(C * VALUE_ALPHABET);
  const changesIn = new Uint32Array(C);
  // Per context: values of it seen so far, and the count at its last change + 1.
  const seen = new Int32Array(C);
  const next = new Int32Array(C);
  const { base: bucketBase, extra } = BUCKETS;
  let rawBits = 0;
  let j = 0;
  let i = 0;
  for (; j < n; j++) {
    // Count the unchanged values up to the next change (no compare per value), then code the change.
    const p = positions[j]!;
    for (; i < p; i++) seen[(base[i]! >>> shift) & mask]!++;
    const c = (base[i]! >>> shift) & mask;
    i++;
    const idx = seen[c]!;
    seen[c] = idx + 1;
    const gap = idx - next[c]!;
    next[c] = idx + 1;
    changesIn[c]!++;
    ctx[j] = c;
    let b = bucket(gap);
    gapSym[j] = b;
    gapLow[j] = gap - bucketBase[b]!;
    gapHist[c * GAP_ALPHABET + b]!++;
    rawBits += extra[b]!;
    const flip = flips[j]!;
    const md = mags[j]!;
    const signed = md >= half ? md - 2 * half : md;
    const zz = (signed >= 0 ? signed * 2 : -signed * 2 - 1) - (flip ^ 1);
    b = bucket(zz);
    valSym[j] = 2 * b + flip;
    valLow[j] = zz - bucketBase[b]!;
    valHist[c * VALUE_ALPHABET + 2 * b + flip]!++;
    rawBits += extra[b]!;
  }
  let bits = rawBits + 32 + 8;
  let contexts = 0;
  for (let c = 0; c < C; c++) {
    if (changesIn[c] === 0) continue;
    contexts++;
    for (const [hist, alphabet] of [
      [gapHist, GAP_ALPHABET],
      [valHist, VALUE_ALPHABET],
    ] as const) {
      const e = entropyBits(hist, c * alphabet, (c + 1) * alphabet);
      // Table: its symbol count, then ~1 byte per gap and ~1.5 per frequency (rANS.ts writeTable).
      bits += e.present === 1 ? 16 : e.bits + 8 * (2 + 2.5 * e.present);
    }
    bits += 8 * 4; // context gap and change count
  }
  return { bits, contexts, ctx, gapSym, gapLow, valSym, valLow, gapHist, valHist, changesIn };
}

/** A table of one context: null where it has a single symbol (nothing coded). */
function tableOf(hist: Uint32Array, from: number, alphabet: number): EncodeTable | null {
  const counts = hist.subarray(from, from + alphabet);
  let present = 0;
  for (let s = 0; s < alphabet; s++) if (counts[s]! > 0) present++;
  return present < 2 ? null : normalize(counts, CONTEXT_MAX_SCALE_BITS);
}

function writeContextTable(
  w: ByteWriter,
  hist: Uint32Array,
  from: number,
  alphabet: number,
  t: EncodeTable | null,
): void {
  if (t === null) {
    w.varint(1);
    let s = 0;
    while (hist[from + s] === 0) s++;
    w.varint(s);
    return;
  }
  let present = 0;
  for (let s = 0; s < alphabet; s++) if (t.freq[s]! > 0) present++;
  w.varint(present);
  writeTable(w, t);
}

/**
 * rANS state and output of the encoder, which works backwards into `out`.
 * The state lives in an Int32Array: as a field or a closure variable, a value
 * above 2^30 (most states) is boxed on every write.
 */
class BackwardCoder {
  private readonly st = Int32Array.of(RANS_L, 0);
  constructor(readonly out: Uint8Array) {
    this.st[1] = out.length;
  }

  symbol(t: EncodeTable, s: number): void {
    const f = t.freq[s]!;
    const k = t.scaleBits;
    const x = this.renormalise(f << (31 - k));
    const q = Math.floor(x / f);
    this.st[0] = (q << k) + (x - q * f) + t.cum[s]!;
  }

  /** `bits` uniform bits of v, high chunk decoded first. */
  raw(v: number, bits: number): void {
    if (bits > CHUNK_BITS) {
      this.chunk(v % 2 ** CHUNK_BITS, CHUNK_BITS);
      this.chunk(Math.floor(v / 2 ** CHUNK_BITS), bits - CHUNK_BITS);
    } else if (bits > 0) this.chunk(v, bits);
  }

  private chunk(v: number, k: number): void {
    this.st[0] = (this.renormalise(1 << (31 - k)) << k) + v;
  }

  /** Shifts bytes of the state out (backwards) until it is under `xmax`, and returns the state. */
  private renormalise(xmax: number): number {
    const st = this.st;
    let x = st[0]!;
    if (x >= xmax) {
      let pos = st[1]!;
      do {
        this.out[--pos] = x & 0xff;
        x >>>= 8;
      } while (x >= xmax);
      st[1] = pos;
    }
    return x;
  }

  finish(): Uint8Array {
    let x = this.st[0]!;
    let pos = this.st[1]!;
    for (let k = 0; k < 4; k++) {
      this.out[--pos] = x & 0xff;
      x >>>= 8;
    }
    return this.out.subarray(pos);
  }
}

/** The coded bytes of a planned tensor (layout at the top of this file). */
export function encodeConditioned(dtype: DType, plan: ConditionedPlan): Uint8Array {
  const { C } = exponentField(dtype);
  const { ctx, gapSym, gapLow, valSym, valLow, gapHist, valHist, changesIn } = plan;
  const { extra } = BUCKETS;
  const w = new ByteWriter();
  w.varint(plan.contexts);
  const gapTables: (EncodeTable | null)[] = [];
  const valTables: (EncodeTable | null)[] = [];
  let prev = -1;
  for (let c = 0; c < C; c++) {
    if (changesIn[c] === 0) continue;
    w.varint(c - prev - 1);
    prev = c;
    w.varint(changesIn[c]!);
    gapTables[c] = tableOf(gapHist, c * GAP_ALPHABET, GAP_ALPHABET);
    valTables[c] = tableOf(valHist, c * VALUE_ALPHABET, VALUE_ALPHABET);
    writeContextTable(w, gapHist, c * GAP_ALPHABET, GAP_ALPHABET, gapTables[c]!);
    writeContextTable(w, valHist, c * VALUE_ALPHABET, VALUE_ALPHABET, valTables[c]!);
  }
  const n = ctx.length;
  // ≤ 2 bytes per symbol or chunk: a gap and a value symbol and up to 2 chunks each per change.
  const coder = new BackwardCoder(new Uint8Array(12 * n + 16));
  const following = new Int32Array(C).fill(-1);
  const gap = (k: number): void => {
    const c = ctx[k]!;
    const b = gapSym[k]!;
    coder.raw(gapLow[k]!, extra[b]!);
    const t = gapTables[c]!;
    if (t !== null) coder.symbol(t, b);
  };
  for (let k = n - 1; k >= 0; k--) {
    const c = ctx[k]!;
    const f = following[c]!;
    if (f >= 0) gap(f);
    following[c] = k;
    const s = valSym[k]!;
    coder.raw(valLow[k]!, extra[s >>> 1]!);
    const t = valTables[c]!;
    if (t !== null) coder.symbol(t, s);
  }
  for (let c = C - 1; c >= 0; c--) if (following[c]! >= 0) gap(following[c]!);
  w.raw(coder.finish());
  return w.result().slice();
}
