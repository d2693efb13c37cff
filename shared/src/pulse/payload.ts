/**
 * The entropy-coded body of a container. Every value becomes one symbol in
 * one of a few rANS streams plus raw low bits in a shared side stream:
 *
 *   gap stream      per change in a sparse tensor: bucket of the gap to the previous change
 *   delta stream    per change in an ulp tensor: 2 · bucket(zig-zagged magnitude delta) + sign flip
 *   head stream     per raw change or full value: sign and exponent bits
 *
 * Gaps share one table across the container; deltas and heads have one per
 * dtype (their statistics differ). Tables are counted over the whole
 * container, so small tensors ride on the statistics of large ones.
 *
 * Body layout: for each non-empty stream in the order gaps, then per dtype
 * code 1..3 (delta, head): table · byte length · stream; then raw-bit length ·
 * raw bits, exactly to the end. Whether a stream is empty follows from the
 * header, so it costs nothing.
 */

import { BitReader, BitWriter } from './bits';
import { BUCKET_SYMBOLS, BUCKETS, bucketOf } from './buckets';
import type { ByteReader, ByteWriter } from './bytes';
import { CorruptPatchError } from './errors';
import { decodeTable, normalize, ransEncode, RansDecoder, readTable, writeTable, type DecodeTable } from './rans';
import { allocData, DTYPES, type DType, type TensorPatch } from './types';

/** Stream 0 holds gaps; dtype code c has its delta stream at 2c − 1 and its head stream at 2c. */
const STREAM_COUNT = 7;
const GAP_STREAM = 0;
const deltaStream = (dtype: DType): number => 2 * DTYPES[dtype].code - 1;
const headStream = (dtype: DType): number => 2 * DTYPES[dtype].code;
const DTYPE_BY_CODE: readonly (DType | null)[] = [null, 'bf16', 'f16', 'f32'];

function alphabetOf(stream: number): number {
  if (stream === GAP_STREAM) return BUCKET_SYMBOLS;
  if (stream % 2 === 1) return 2 * BUCKET_SYMBOLS;
  const info = DTYPES[DTYPE_BY_CODE[stream / 2]!];
  return 1 << (1 + info.exponentBits);
}

/** Symbols per stream, as promised by the header (encoder and decoder count the same way). */
function streamCounts(items: readonly { dtype: DType; kind: TensorPatch['kind']; count: number }[]): number[] {
  const counts = new Array<number>(STREAM_COUNT).fill(0);
  for (const { dtype, kind, count } of items) {
    if (kind !== 'full') counts[GAP_STREAM]! += count;
    counts[kind === 'ulp' ? deltaStream(dtype) : headStream(dtype)]! += count;
  }
  return counts;
}

/** Collects one stream's symbols and their histogram during the first pass. */
class SymbolSink {
  readonly symbols: Uint16Array;
  readonly counts: Uint32Array;
  length = 0;
  constructor(capacity: number, alphabet: number) {
    this.symbols = new Uint16Array(capacity);
    this.counts = new Uint32Array(alphabet);
  }
}

export function encodePayload(w: ByteWriter, tensors: readonly TensorPatch[]): void {
  const counts = streamCounts(tensors.map((t) => ({ dtype: t.dtype, kind: t.kind, count: t.kind === 'full' ? t.data.length : t.positions.length })));
  const sinks = counts.map((c, s) => (c > 0 ? new SymbolSink(c, alphabetOf(s)) : null));
  let rawBits = 0;
  for (const t of tensors) rawBits += (t.kind === 'full' ? t.data.length : t.positions.length) * DTYPES[t.dtype].width;
  const raw = new BitWriter(Math.ceil(rawBits / 8) + 16);
  const { base, extra } = BUCKETS;

  for (const t of tensors) {
    const info = DTYPES[t.dtype];
    const mantissaBits = info.width - 1 - info.exponentBits;
    if ((t.kind === 'full' ? t.data.length : t.positions.length) === 0) continue; // its streams may not exist
    if (t.kind === 'full') {
      const heads = sinks[headStream(t.dtype)]!;
      encodeRawValues(heads, raw, t.data, mantissaBits);
      continue;
    }
    const gaps = sinks[GAP_STREAM]!;
    const gapSyms = gaps.symbols;
    const gapCounts = gaps.counts;
    const positions = t.positions;
    const n = positions.length;
    let g = gaps.length;
    let prev = -1;
    if (t.kind === 'raw') {
      const heads = sinks[headStream(t.dtype)]!;
      const headSyms = heads.symbols;
      const headCounts = heads.counts;
      let h = heads.length;
      const mantissaMask = (1 << mantissaBits) - 1;
      for (let i = 0; i < n; i++) {
        const p = positions[i]!;
        const gap = p - prev - 1;
        prev = p;
        const gs = bucketOf(gap);
        gapSyms[g++] = gs;
        gapCounts[gs]!++;
        if (extra[gs]! > 0) raw.write(gap - base[gs]!, extra[gs]!);
        const v = t.bits[i]!;
        const hs = v >>> mantissaBits;
        headSyms[h++] = hs;
        headCounts[hs]!++;
        raw.write(v & mantissaMask, mantissaBits);
      }
      heads.length = h;
      gaps.length = g;
      continue;
    }
    const deltas = sinks[deltaStream(t.dtype)]!;
    const deltaSyms = deltas.symbols;
    const deltaCounts = deltas.counts;
    let d = deltas.length;
    const half = info.width === 16 ? 0x4000 : 0x40000000;
    const flips = t.signFlips;
    const mags = t.magnitudeDeltas;
    for (let i = 0; i < n; i++) {
      const p = positions[i]!;
      const gap = p - prev - 1;
      prev = p;
      const gs = bucketOf(gap);
      gapSyms[g++] = gs;
      gapCounts[gs]!++;
      if (extra[gs]! > 0) raw.write(gap - base[gs]!, extra[gs]!);
      const flip = flips[i]!;
      const md = mags[i]!;
      const signed = md >= half ? md - half * 2 : md;
      // Zig-zag; without a flip the delta is never 0, so shift by one.
      const zz = (signed >= 0 ? signed * 2 : -signed * 2 - 1) - (flip ^ 1);
      const bs = bucketOf(zz);
      const ds = 2 * bs + flip;
      deltaSyms[d++] = ds;
      deltaCounts[ds]!++;
      if (extra[bs]! > 0) raw.write(zz - base[bs]!, extra[bs]!);
    }
    deltas.length = d;
    gaps.length = g;
  }

  for (const sink of sinks) {
    if (sink === null) continue;
    const table = normalize(sink.counts);
    writeTable(w, table);
    const stream = ransEncode(table, sink.symbols, sink.length);
    w.varint(stream.length);
    w.raw(stream);
  }
  const rawBytes = raw.finish();
  w.varint(rawBytes.length);
  w.raw(rawBytes);
}

function encodeRawValues(heads: SymbolSink, raw: BitWriter, data: ArrayLike<number>, mantissaBits: number): void {
  const headSyms = heads.symbols;
  const headCounts = heads.counts;
  const mantissaMask = (1 << mantissaBits) - 1;
  let h = heads.length;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    const hs = v >>> mantissaBits;
    headSyms[h++] = hs;
    headCounts[hs]!++;
    raw.write(v & mantissaMask, mantissaBits);
  }
  heads.length = h;
}

/** What the header promised for one tensor; sizes were checked against limits before this runs. */
export interface TensorLayout {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly kind: TensorPatch['kind'];
  readonly elements: number;
  readonly changes: number;
}

interface StreamReader {
  readonly table: DecodeTable;
  readonly dec: RansDecoder;
}

export function decodePayload(layouts: readonly TensorLayout[], r: ByteReader, bytes: Uint8Array): TensorPatch[] {
  const counts = streamCounts(layouts.map((l) => ({ dtype: l.dtype, kind: l.kind, count: l.kind === 'full' ? l.elements : l.changes })));
  const streams: (StreamReader | null)[] = counts.map((c, s) => {
    if (c === 0) return null;
    const table = decodeTable(readTable(r, alphabetOf(s)));
    const length = r.varint();
    const start = r.pos;
    r.take(length);
    return { table, dec: new RansDecoder(bytes, start, start + length) };
  });
  const rawLength = r.varint();
  if (rawLength !== r.remaining) throw new CorruptPatchError('body length does not match the container');
  const raw = new BitReader(r.take(rawLength));
  const { base, extra } = BUCKETS;

  const out: TensorPatch[] = [];
  for (const l of layouts) {
    const info = DTYPES[l.dtype];
    const mantissaBits = info.width - 1 - info.exponentBits;
    const header = { name: l.name, dtype: l.dtype, shape: l.shape };
    if (l.kind === 'full' && l.elements === 0) {
      out.push({ ...header, kind: 'full', data: allocData(l.dtype, 0) });
      continue;
    }
    if (l.kind !== 'full' && l.changes === 0) {
      const positions = new Uint32Array(0);
      out.push(l.kind === 'raw' ? { ...header, kind: 'raw', positions, bits: new Uint32Array(0) } : { ...header, kind: 'ulp', positions, signFlips: new Uint8Array(0), magnitudeDeltas: new Uint32Array(0) });
      continue;
    }
    if (l.kind === 'full') {
      const { table, dec } = streams[headStream(l.dtype)]!;
      const data = allocData(l.dtype, l.elements);
      for (let i = 0; i < data.length; i++) data[i] = dec.decode(table) * 2 ** mantissaBits + raw.read(mantissaBits);
      out.push({ ...header, kind: 'full', data });
      continue;
    }
    const gapTable = streams[GAP_STREAM]!.table;
    const gapDec = streams[GAP_STREAM]!.dec;
    const n = l.changes;
    const elements = l.elements;
    const positions = new Uint32Array(n);
    let prev = -1;
    if (l.kind === 'raw') {
      const { table, dec } = streams[headStream(l.dtype)]!;
      const bits = new Uint32Array(n);
      const scale = 2 ** mantissaBits;
      for (let i = 0; i < n; i++) {
        const gs = gapDec.decode(gapTable);
        const p = prev + 1 + base[gs]! + (extra[gs]! > 0 ? raw.read(extra[gs]!) : 0);
        if (p >= elements) throw new CorruptPatchError(`tensor ${l.name}: position ${p} out of range`);
        positions[i] = p;
        prev = p;
        bits[i] = dec.decode(table) * scale + raw.read(mantissaBits);
      }
      out.push({ ...header, kind: 'raw', positions, bits });
      continue;
    }
    const { table, dec } = streams[deltaStream(l.dtype)]!;
    const half = info.width === 16 ? 0x4000 : 0x40000000;
    const magMask = info.width === 16 ? 0x7fff : 0x7fffffff;
    const signFlips = new Uint8Array(n);
    const magnitudeDeltas = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const gs = gapDec.decode(gapTable);
      const p = prev + 1 + base[gs]! + (extra[gs]! > 0 ? raw.read(extra[gs]!) : 0);
      if (p >= elements) throw new CorruptPatchError(`tensor ${l.name}: position ${p} out of range`);
      positions[i] = p;
      prev = p;
      const ds = dec.decode(table);
      const flip = ds & 1;
      const bs = ds >>> 1;
      const zz = base[bs]! + (extra[bs]! > 0 ? raw.read(extra[bs]!) : 0) + (flip ^ 1);
      const signed = zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
      if (signed >= half || signed < -half) throw new CorruptPatchError(`tensor ${l.name}: ulp delta out of range`);
      signFlips[i] = flip;
      magnitudeDeltas[i] = signed & magMask;
    }
    out.push({ ...header, kind: 'ulp', positions, signFlips, magnitudeDeltas });
  }
  for (const s of streams) if (s !== null && !s.dec.finished()) throw new CorruptPatchError('rANS stream has trailing bytes');
  if (!raw.consumedAll()) throw new CorruptPatchError('raw-bit stream has trailing bytes');
  return out;
}
