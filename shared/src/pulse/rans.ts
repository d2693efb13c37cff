/**
 * Static-table rANS (range asymmetric numeral systems), byte-renormalised.
 *
 * The state x lives in [2^23, 2^31), so every operation is exact int32 maths:
 * decoding a symbol is one table lookup, one multiply and at most two byte
 * reads, instead of one coder step per bit. Frequencies are counted in a
 * first pass and sent in the header (see writeTable); the encoder then codes
 * the symbols in reverse, so the decoder reads its stream forwards.
 *
 * A stream: 4 bytes of final encoder state (big-endian), then the bytes the
 * encoder emitted, in the order the decoder consumes them. A valid stream
 * ends with the decoder back at the encoder's initial state and exactly at
 * the end of its bytes; anything else is corrupt.
 */

import type { ByteReader, ByteWriter } from './bytes';
import { ENCODE_MAX_SCALE_BITS, FREQ_CAP_SHIFT, MAX_SCALE_BITS, MIN_SCALE_BITS } from './constants';
import { CorruptPatchError } from './errors';

/** Lower bound of the state interval; also the encoder's initial state. */
export const RANS_L = 1 << 23;

/** Frequencies of a table that sum to 2^scaleBits. */
export interface FreqTable {
  readonly scaleBits: number;
  readonly freq: Uint32Array;
}

/**
 * A table the encoder codes with: its frequencies' cumulative starts too.
 * Tables read from a patch have none: the kernel decoder builds its slots from
 * the frequencies alone, and decodeTable keeps a running sum, so decode does
 * not make an array it never reads (the quick bench f32 scaled stream's
 * alphabet is ~2,300 symbols).
 */
export interface EncodeTable extends FreqTable {
  readonly cum: Uint32Array;
}

function maxFreq(scaleBits: number): number {
  return (1 << scaleBits) - (1 << (scaleBits - FREQ_CAP_SHIFT));
}

function ceilLog2(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

/**
 * Quantises symbol counts to frequencies summing to 2^scaleBits: every
 * counted symbol keeps a frequency ≥ 1 and none exceeds the cap (the excess
 * goes to a neighbouring symbol, which then merely wastes a sliver of range).
 */
export function normalize(counts: Uint32Array, maxScaleBits = ENCODE_MAX_SCALE_BITS): EncodeTable {
  const n = counts.length;
  let total = 0;
  let present = 0;
  for (let s = 0; s < n; s++) {
    total += counts[s]!;
    if (counts[s]! > 0) present++;
  }
  if (total === 0 || n < 2) throw new RangeError('normalize needs at least one count in an alphabet of ≥ 2 symbols');
  const scaleBits = Math.min(maxScaleBits, Math.max(MIN_SCALE_BITS, ceilLog2(total), ceilLog2(present) + 1));
  const scale = 1 << scaleBits;
  const freq = new Uint32Array(n);
  let sum = 0;
  let largest = 0;
  for (let s = 0; s < n; s++) {
    const c = counts[s]!;
    if (c === 0) continue;
    const f = Math.max(1, Math.round((c * scale) / total));
    freq[s] = f;
    sum += f;
    if (c > counts[largest]! || counts[largest] === 0) largest = s;
  }
  // Fix the sum: the largest symbol absorbs the rounding while it can, then the others give 1 at a time.
  let diff = scale - sum;
  if (diff > 0 || freq[largest]! + diff >= 1) {
    freq[largest] = freq[largest]! + diff;
    diff = 0;
  }
  while (diff < 0) {
    for (let s = 0; s < n && diff < 0; s++) {
      if (freq[s]! > 1) {
        freq[s] = freq[s]! - 1;
        diff++;
      }
    }
  }
  const cap = maxFreq(scaleBits);
  if (freq[largest]! > cap) {
    const excess = freq[largest]! - cap;
    freq[largest] = cap;
    const other = largest === 0 ? 1 : largest - 1;
    freq[other] = freq[other]! + excess;
  }
  return withCum(scaleBits, freq);
}

function withCum(scaleBits: number, freq: Uint32Array): EncodeTable {
  const cum = new Uint32Array(freq.length);
  let c = 0;
  for (let s = 0; s < freq.length; s++) {
    cum[s] = c;
    c += freq[s]!;
  }
  return { scaleBits, freq, cum };
}

/** Table layout: scaleBits u8 · symbols present · per present symbol: gap from the previous one, freq − 1. */
export function writeTable(w: ByteWriter, t: FreqTable): void {
  w.u8(t.scaleBits);
  let present = 0;
  for (let s = 0; s < t.freq.length; s++) if (t.freq[s]! > 0) present++;
  w.varint(present);
  let prev = -1;
  for (let s = 0; s < t.freq.length; s++) {
    const f = t.freq[s]!;
    if (f === 0) continue;
    w.varint(s - prev - 1);
    w.varint(f - 1);
    prev = s;
  }
}

/** Reads and validates a table for an alphabet of `alphabet` symbols; any inconsistency is a CorruptPatchError. */
export function readTable(r: ByteReader, alphabet: number): FreqTable {
  const scaleBits = r.u8();
  if (scaleBits < MIN_SCALE_BITS || scaleBits > MAX_SCALE_BITS)
    throw new CorruptPatchError(`rANS table scale 2^${scaleBits} out of range`);
  const present = r.varint();
  if (present < 2 || present > alphabet) throw new CorruptPatchError(`rANS table with ${present} symbols`);
  const scale = 1 << scaleBits;
  const cap = maxFreq(scaleBits);
  const freq = new Uint32Array(alphabet);
  let s = -1;
  let sum = 0;
  for (let i = 0; i < present; i++) {
    s += r.varint() + 1;
    if (s >= alphabet) throw new CorruptPatchError('rANS table symbol out of range');
    const f = r.varint() + 1;
    if (f > cap) throw new CorruptPatchError('rANS table frequency above the cap');
    freq[s] = f;
    sum += f;
    if (sum > scale) throw new CorruptPatchError('rANS table frequencies exceed the scale');
  }
  if (sum !== scale) throw new CorruptPatchError('rANS table frequencies do not sum to the scale');
  return { scaleBits, freq };
}

/**
 * Encodes `symbols[0..count)` (each with a nonzero frequency in `t`) and
 * returns the stream. Works backwards into a buffer: at most 2 bytes
 * per symbol (scaleBits ≤ 14 < 16) plus the 4-byte state.
 */
export function ransEncode(t: EncodeTable, symbols: Uint16Array, count: number, scratch?: Uint8Array): Uint8Array {
  const { scaleBits, freq, cum } = t;
  const xmaxShift = 31 - scaleBits;
  // x / f as a multiply by a reciprocal biased up by 2^-40 (a divide measured ~1.5x slower): for x < 2^31
  // and f ≤ 2^14 the product overshoots x / f by less than 2^-9/f + 2^-21 < 1/f, and never undershoots,
  // so its floor is the exact quotient.
  const rcp = new Float64Array(freq.length);
  const xmax = new Int32Array(freq.length);
  for (let s = 0; s < freq.length; s++) {
    if (freq[s]! === 0) continue;
    rcp[s] = (1 + 2 ** -40) / freq[s]!;
    xmax[s] = freq[s]! << xmaxShift;
  }
  // With a scratch buffer (≥ 2 · count + 4 bytes) the stream is a view of it, valid until the buffer is reused.
  const out = scratch !== undefined && scratch.length >= 2 * count + 4 ? scratch : new Uint8Array(2 * count + 4);
  let pos = out.length;
  let x = RANS_L;
  for (let i = count - 1; i >= 0; i--) {
    const s = symbols[i]!;
    const m = xmax[s]!;
    while (x >= m) {
      out[--pos] = x & 0xff;
      x >>>= 8;
    }
    const q = Math.floor(x * rcp[s]!);
    x = (q << scaleBits) + (x - q * freq[s]!) + cum[s]!;
  }
  for (let k = 0; k < 4; k++) {
    out[--pos] = x & 0xff;
    x >>>= 8;
  }
  return out.subarray(pos);
}

/** A decode table: per slot of [0, 2^scaleBits), its symbol and (freq << 16 | slot − cum). */
export interface DecodeTable {
  readonly scaleBits: number;
  readonly mask: number;
  readonly symbol: Uint16Array;
  readonly step: Int32Array;
}

export function decodeTable(t: FreqTable): DecodeTable {
  const scale = 1 << t.scaleBits;
  const symbol = new Uint16Array(scale);
  const step = new Int32Array(scale);
  let c = 0;
  for (let s = 0; s < t.freq.length; s++) {
    const f = t.freq[s]!;
    for (let j = 0; j < f; j++) {
      symbol[c + j] = s;
      step[c + j] = (f << 16) | j;
    }
    c += f;
  }
  return { scaleBits: t.scaleBits, mask: scale - 1, symbol, step };
}

/** Decoder of one stream in `bytes[start, end)`. State is public so a hot loop can hold it in locals (payload.ts decodeHeads). */
export class RansDecoder {
  x: number;
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    if (end - start < 4) throw new CorruptPatchError('rANS stream too short');
    this.x = ((bytes[start]! << 24) | (bytes[start + 1]! << 16) | (bytes[start + 2]! << 8) | bytes[start + 3]!) >>> 0;
    if (this.x < RANS_L || this.x >= 0x80000000) throw new CorruptPatchError('rANS state out of range');
    this.pos = start + 4;
  }

  decode(t: DecodeTable): number {
    let x = this.x;
    const slot = x & t.mask;
    const step = t.step[slot]!;
    x = (step >>> 16) * (x >>> t.scaleBits) + (step & 0xffff);
    if (x < RANS_L) {
      let pos = this.pos;
      do {
        if (pos >= this.end) throw new CorruptPatchError('rANS stream is truncated');
        x = (x << 8) | this.bytes[pos++]!;
      } while (x < RANS_L);
      this.pos = pos;
    }
    this.x = x;
    return t.symbol[slot]!;
  }

  /** True when the stream ended exactly where the encoder started: every byte used, state back at its initial value. */
  finished(): boolean {
    return this.pos === this.end && this.x === RANS_L;
  }
}
