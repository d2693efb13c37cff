/**
 * Decoding of the conditioned kind (layout and model in conditioned.ts): run
 * by apply, against the base, which gives each value its context.
 */

import { BUCKETS } from './buckets';
import { ByteReader } from './bytes';
import { CHUNK_BITS, exponentField, GAP_ALPHABET, VALUE_ALPHABET } from './conditioned';
import { MIN_SCALE_BITS } from './constants';
import { CorruptPatchError } from './errors';
import { decodeTable, type DecodeTable, RANS_L, readTable } from './rans';
import { DTYPES, type DType, type TensorData } from './types';

/** A context with no change left: its countdown never reaches 0 (positions are below 2^31 − 1). */
const NEVER = 0x7fffffff;

/**
 * Every context's two decode tables in flat arrays, so the hot loop reads
 * them with no object or closure in between: table t (gaps of context c at
 * t = c, values at t = C + c) has scale bits scale[t] (0: a single symbol,
 * fixed[t], nothing coded) and its slots at offset[t] in symbol and step.
 */
interface ContextTables {
  /** Per context: changes not yet placed. */
  readonly left: Int32Array;
  readonly scale: Int32Array;
  readonly fixed: Int32Array;
  readonly offset: Int32Array;
  readonly symbol: Uint16Array;
  readonly step: Int32Array;
  readonly streamStart: number;
}

/**
 * A context's table, coding `count` symbols. Its scale may not exceed what
 * normalize picks for that many (at most 2^(⌈log2 count⌉ + 1) slots), so the
 * decode tables a forged patch can make up are bounded by its changes, which
 * are bounded by the base.
 */
function readContextTable(r: ByteReader, alphabet: number, count: number): DecodeTable | number {
  const present = r.varint();
  if (present === 1) {
    const s = r.varint();
    if (s >= alphabet) throw new CorruptPatchError('conditioned table symbol out of range');
    return s;
  }
  const t = readTable(r, alphabet);
  if (t.scaleBits > Math.max(MIN_SCALE_BITS, 33 - Math.clz32(count)))
    throw new CorruptPatchError('conditioned table larger than its symbols need');
  let got = 0;
  for (let s = 0; s < alphabet; s++) if (t.freq[s]! > 0) got++;
  if (got !== present) throw new CorruptPatchError('conditioned table symbol count does not match');
  return decodeTable(t);
}

function readTables(coded: Uint8Array, C: number, changes: number, name: string): ContextTables {
  const r = new ByteReader(coded);
  const contexts = r.varint();
  if (contexts > C) throw new CorruptPatchError(`tensor ${name}: ${contexts} contexts`);
  const left = new Int32Array(C);
  const tables: (DecodeTable | number | null)[] = new Array(2 * C).fill(null);
  let c = -1;
  let total = 0;
  for (let i = 0; i < contexts; i++) {
    c += r.varint() + 1;
    if (c >= C) throw new CorruptPatchError(`tensor ${name}: context out of range`);
    const n = r.varint();
    total += n;
    if (n === 0 || total > changes) throw new CorruptPatchError(`tensor ${name}: context change counts do not add up`);
    left[c] = n;
    tables[c] = readContextTable(r, GAP_ALPHABET, n);
    tables[C + c] = readContextTable(r, VALUE_ALPHABET, n);
  }
  if (total !== changes) throw new CorruptPatchError(`tensor ${name}: context change counts do not add up`);
  const scale = new Int32Array(2 * C);
  const fixed = new Int32Array(2 * C);
  const offset = new Int32Array(2 * C);
  let slots = 0;
  for (const t of tables) if (t !== null && typeof t !== 'number') slots += t.symbol.length;
  const symbol = new Uint16Array(slots);
  const step = new Int32Array(slots);
  slots = 0;
  tables.forEach((t, i) => {
    if (t === null) return;
    if (typeof t === 'number') {
      fixed[i] = t;
      return;
    }
    scale[i] = t.scaleBits;
    offset[i] = slots;
    symbol.set(t.symbol, slots);
    step.set(t.step, slots);
    slots += t.symbol.length;
  });
  return { left, scale, fixed, offset, symbol, step, streamStart: r.pos };
}

/** rANS state while decoding: x, then the read position; in an Int32Array so that it is never boxed (see BackwardCoder). */
type DecodeState = Int32Array;

/** Decodes a symbol from table `t` (readTables), and returns it. */
function decodeSymbol(tables: ContextTables, t: number, st: DecodeState, coded: Uint8Array, name: string): number {
  const k = tables.scale[t]!;
  if (k === 0) return tables.fixed[t]!;
  let x = st[0]!;
  const at = tables.offset[t]! + (x & ((1 << k) - 1));
  const step = tables.step[at]!;
  x = (step >>> 16) * (x >>> k) + (step & 0xffff);
  if (x < RANS_L) renormalize(x, st, coded, name);
  else st[0] = x;
  return tables.symbol[at]!;
}

/** `bits` uniform raw bits, in chunks of at most CHUNK_BITS, high chunk first. */
function decodeLow(bits: number, st: DecodeState, coded: Uint8Array, name: string): number {
  let low = 0;
  while (bits > 0) {
    const k = bits > CHUNK_BITS ? bits - CHUNK_BITS : bits;
    const x = st[0]!;
    low = low * (1 << k) + (x & ((1 << k) - 1));
    if (x >>> k < RANS_L) renormalize(x >>> k, st, coded, name);
    else st[0] = x >>> k;
    bits -= k;
  }
  return low;
}

function renormalize(x: number, st: DecodeState, coded: Uint8Array, name: string): void {
  let pos = st[1]!;
  do {
    if (pos >= coded.length) throw new CorruptPatchError(`tensor ${name}: rANS stream is truncated`);
    x = (x << 8) | coded[pos++]!;
  } while (x < RANS_L);
  st[0] = x;
  st[1] = pos;
}

/**
 * Writes a conditioned tensor's changes into `data`, which holds the base
 * values (read for each value's context just before it is replaced). Any
 * inconsistency — counts, tables, a stream that runs out or does not end
 * exactly, a change beyond the tensor, a delta out of range — is a
 * CorruptPatchError.
 *
 * The rANS state is in an Int32Array and the tables in flat arrays: with the
 * state in closure variables (boxed: most states exceed 2^30) and tables as
 * objects, the grail-regime patch (115k changes in 4.8M values) took 44 ms
 * to apply where the walk alone takes ~8.
 */
export function applyConditioned(
  name: string,
  dtype: DType,
  data: TensorData,
  changes: number,
  coded: Uint8Array,
): void {
  const { width, shift, mask, C } = exponentField(dtype);
  const half = width === 16 ? 0x4000 : 0x40000000;
  const magMask = width === 16 ? 0x7fff : 0x7fffffff;
  const signBit = 2 ** (width - 1);
  const tables = readTables(coded, C, changes, name);
  const remaining = tables.left;
  const start = tables.streamStart;
  if (coded.length - start < 4) throw new CorruptPatchError(`tensor ${name}: rANS stream too short`);
  const first =
    ((coded[start]! << 24) | (coded[start + 1]! << 16) | (coded[start + 2]! << 8) | coded[start + 3]!) >>> 0;
  if (first < RANS_L || first >= 0x80000000) throw new CorruptPatchError(`tensor ${name}: rANS state out of range`);
  const st: DecodeState = Int32Array.of(first, start + 4);
  const { base: bucketBase, extra } = BUCKETS;
  // Countdown per context: values of it to skip before its next change. The first gaps come first in the stream.
  const countdown = new Int32Array(C).fill(NEVER);
  for (let c = 0; c < C; c++) {
    if (remaining[c] === 0) continue;
    const b = decodeSymbol(tables, c, st, coded, name);
    countdown[c] = bucketBase[b]! + decodeLow(extra[b]!, st, coded, name);
  }
  const n = data.length;
  const { scale, fixed, offset, symbol, step } = tables;
  const end = coded.length;
  // The walk's rANS state in locals (no helper shares them, so they stay unboxed in registers).
  let x = st[0]!;
  let pos = st[1]!;
  // The walk stops at the last change: what follows is the base as it was.
  let unplaced = changes;
  for (let i = 0; i < n && unplaced > 0; i++) {
    const o = data[i]!;
    const c = (o >>> shift) & mask;
    const k = countdown[c]!;
    if (k !== 0) {
      countdown[c] = k - 1;
      continue;
    }
    const r = remaining[c]! - 1;
    remaining[c] = r;
    unplaced--;
    countdown[c] = NEVER;
    // The value (table C + c), then, unless it was the context's last change, the gap to its next (table c).
    for (let t = C + c; t >= 0; t = t >= C && r > 0 ? c : -1) {
      let sym = fixed[t]!;
      const bits = scale[t]!;
      if (bits !== 0) {
        const at = offset[t]! + (x & ((1 << bits) - 1));
        const st = step[at]!;
        x = (st >>> 16) * (x >>> bits) + (st & 0xffff);
        while (x < RANS_L) {
          if (pos >= end) throw new CorruptPatchError(`tensor ${name}: rANS stream is truncated`);
          x = (x << 8) | coded[pos++]!;
        }
        sym = symbol[at]!;
      }
      const b = t >= C ? sym >>> 1 : sym;
      let e = extra[b]!;
      let low = 0;
      while (e > 0) {
        const chunk = e > CHUNK_BITS ? e - CHUNK_BITS : e;
        low = low * (1 << chunk) + (x & ((1 << chunk) - 1));
        x >>>= chunk;
        while (x < RANS_L) {
          if (pos >= end) throw new CorruptPatchError(`tensor ${name}: rANS stream is truncated`);
          x = (x << 8) | coded[pos++]!;
        }
        e -= chunk;
      }
      if (t < C) {
        countdown[c] = bucketBase[b]! + low;
        continue;
      }
      const flip = sym & 1;
      const zz = bucketBase[b]! + low + (flip ^ 1);
      const signed = zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
      if (signed >= half || signed < -half) throw new CorruptPatchError(`tensor ${name}: ulp delta out of range`);
      const md = signed < 0 ? signed + 2 * half : signed;
      data[i] = ((o ^ (flip * signBit)) & signBit) + (((o & magMask) + md) & magMask);
    }
  }
  for (let c = 0; c < C; c++)
    if (remaining[c]! > 0) throw new CorruptPatchError(`tensor ${name}: changes beyond its ${n} elements`);
  if (x !== RANS_L || pos !== end)
    throw new CorruptPatchError(`tensor ${name}: rANS stream does not end with its changes`);
}
