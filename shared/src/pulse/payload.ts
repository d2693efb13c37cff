/**
 * The entropy-coded body of a container. Every value becomes one symbol in
 * one of a few rANS streams plus raw low bits in a shared side stream:
 *
 *   gap stream      per change in a sparse tensor: bucket of the gap to the previous change
 *   run stream      instead of gaps, in tensors where most changes are adjacent (RUN_MODE):
 *                   per run of changed positions, bucket(unchanged before it), bucket(length − 1)
 *   delta stream    per change in an ulp tensor: 2 · bucket(zig-zagged magnitude delta) + sign flip
 *   head stream     per raw change or full value: sign and exponent bits
 *   scaled stream   per change in a scaled tensor: its symbol (scaled.ts); its raw bits are its own byte string
 *
 * Gaps share one table across the container; deltas and heads have one per
 * dtype (their statistics differ). Tables are counted over the whole
 * container, so small tensors ride on the statistics of large ones.
 *
 * Each tensor codes all its positions, then all its values (tight loops; the
 * raw bits follow the same order).
 *
 * Body layout (stream numbers in streams.ts): per conditioned tensor (format 4), in tensor order, byte
 * length · its coded bytes (conditioned.ts; nothing else of it is in the streams); for each non-empty stream in the order gaps, then per dtype
 * code 1..3 (delta, head), then runs, then per dtype code the scaled deltas: table · byte length · stream;
 * then per scaled tensor with changes: byte length · its raw bits; then
 * raw-bit length · raw bits, exactly to the end. Whether a stream is empty
 * follows from the header, so it costs nothing.
 */

import { BitReader, BitWriter } from './bits';
import { BUCKETS, bucketOf, DIRECT_BUCKETS } from './buckets';
import { BUCKET_MANTISSA_BITS } from './constants';
import type { ByteReader, ByteWriter } from './bytes';
import { CorruptPatchError, InvalidModelError } from './errors';
import {
  decodeTable,
  normalize,
  RANS_L,
  ransEncode,
  RansDecoder,
  readTable,
  writeTable,
  type DecodeTable,
} from './rans';
import {
  allocData,
  decodedColumns,
  DTYPES,
  type DType,
  type StreamedTensorPatch,
  type TensorPatch,
  type UlpTensorPatch,
} from './types';
import { decodeWithKernels, encodeWithKernels, type StreamSpan } from './payload-wasm';
import type { TensorLayout } from './layout';

export type { TensorLayout };
import {
  alphabetOf,
  deltaStream,
  GAP_STREAM,
  headStream,
  RUN_STREAM,
  scaledStream,
  streamCounts,
  writeScaledLow,
  type CodedLayout,
} from './streams';

/**
 * Positions are run-coded when there are fewer than half as many runs of
 * adjacent changes as changes (runs average > 2 long): then two run symbols
 * replace more than four gap symbols, and a tensor whose every value changed
 * costs a handful of symbols instead of one per value. Below that, gaps are
 * fewer symbols and their single table fits better.
 */
export function usesRuns(positions: Uint32Array): boolean {
  return runsIfValid(positions, 0x7fffffff) * 2 < positions.length;
}

/**
 * One pass over a sparse tensor's positions: the number of runs of adjacent
 * positions, or −1 unless they strictly increase and stay below `elements`.
 */
export function runsIfValid(positions: Uint32Array, elements: number): number {
  const n = positions.length;
  if (n === 0) return 0;
  let prev = positions[0]!;
  let runs = 1;
  for (let i = 1; i < n; i++) {
    const p = positions[i]!;
    if (p <= prev) return -1;
    if (p !== prev + 1) runs++;
    prev = p;
  }
  return prev < elements ? runs : -1;
}

/** Collects one stream's symbols and their histogram during the first pass. */
export class SymbolSink {
  readonly counts: Uint32Array;
  length = 0;
  constructor(
    readonly symbols: Uint16Array,
    alphabet: number,
  ) {
    this.counts = new Uint32Array(alphabet);
  }
}

/**
 * Scratch reused by every encode in this realm (encode is synchronous, so
 * calls never overlap): symbol buffers, the raw-bit buffer and the rANS
 * output. Allocating them per call made each encode add megabytes of
 * external memory, and V8 answers that with full GCs (~5 ms a call at 5%
 * changed on the dev box). Grown on demand, never shrunk below what the
 * largest recent patch needed.
 */
const scratch = { symbols: new Uint16Array(0), raw: new Uint8Array(0), rans: new Uint8Array(0) };

/** Larger needs (a big snapshot) get a buffer of their own, so a tab does not keep gigabytes of scratch alive. */
const SCRATCH_KEEP_BYTES = 32 << 20;

function scratchOf(key: 'raw' | 'rans', bytes: number): Uint8Array {
  if (scratch[key].length >= bytes) return scratch[key];
  const buffer = new Uint8Array(Math.max(bytes, Math.min(SCRATCH_KEEP_BYTES, scratch[key].length * 1.5)));
  if (buffer.length <= SCRATCH_KEEP_BYTES) scratch[key] = buffer;
  return buffer;
}

/** `runs[i]` says whether tensor i (sparse) codes its positions as runs; the container wrote it in the header. */
export function encodePayload(w: ByteWriter, all: readonly TensorPatch[], allRuns: readonly boolean[]): void {
  const tensors: StreamedTensorPatch[] = [];
  const runs: boolean[] = [];
  all.forEach((t, i) => {
    if (t.kind === 'conditioned') {
      w.varint(t.coded.length);
      w.raw(t.coded);
    } else {
      tensors.push(t);
      runs.push(allRuns[i]!);
    }
  });
  const layouts = tensors.map(
    (t, i): CodedLayout => ({
      dtype: t.dtype,
      kind: t.kind,
      count: t.kind === 'full' ? t.data.length : t.positions.length,
      runs: runs[i]!,
    }),
  );
  const counts = streamCounts(layouts);
  if (encodeWithKernels(w, tensors, runs, counts)) return;
  let totalSymbols = 0;
  for (const c of counts) totalSymbols += c;
  let symbols = scratch.symbols;
  if (symbols.length < totalSymbols) {
    symbols = new Uint16Array(Math.max(totalSymbols, Math.min(SCRATCH_KEEP_BYTES / 2, symbols.length * 1.5)));
    if (symbols.length <= SCRATCH_KEEP_BYTES / 2) scratch.symbols = symbols;
  }
  let offset = 0;
  const sinks = counts.map((c, s) => {
    if (c === 0) return null;
    const sink = new SymbolSink(symbols.subarray(offset, offset + c), alphabetOf(s));
    offset += c;
    return sink;
  });
  let rawBits = 0;
  for (const l of layouts) rawBits += l.count * 32;
  const raw = new BitWriter(0, scratchOf('raw', Math.ceil(rawBits / 8) + 16));

  tensors.forEach((t, ti) => {
    const n = layouts[ti]!.count;
    if (n === 0) return; // its streams may not exist
    const info = DTYPES[t.dtype];
    const mantissaBits = info.width - 1 - info.exponentBits;
    if (t.kind === 'full') {
      encodeHeads(sinks[headStream(t.dtype)]!, raw, t.data, mantissaBits);
      return;
    }
    if (runs[ti]) encodeRuns(sinks[RUN_STREAM]!, raw, t.positions);
    else encodeGaps(sinks[GAP_STREAM]!, raw, t.positions);
    if (t.kind === 'raw') encodeHeads(sinks[headStream(t.dtype)]!, raw, t.bits, mantissaBits);
    else if (t.kind === 'scaled') takeSymbols(sinks[scaledStream(t.dtype)]!, t.symbols);
    else encodeDeltas(sinks[deltaStream(t.dtype)]!, raw, t, info.width === 16 ? 0x4000 : 0x40000000);
  });

  for (const sink of sinks) {
    if (sink === null) continue;
    const table = normalize(sink.counts);
    writeTable(w, table);
    const stream = ransEncode(table, sink.symbols, sink.length, scratchOf('rans', 2 * sink.length + 4));
    w.varint(stream.length);
    w.raw(stream);
  }
  writeScaledLow(w, tensors);
  const rawBytes = raw.finish();
  w.varint(rawBytes.length);
  w.raw(rawBytes);
}

function takeSymbols(sink: SymbolSink, symbols: Uint16Array): void {
  sink.symbols.set(symbols, sink.length);
  sink.length += symbols.length;
  const counts = sink.counts;
  for (let i = 0; i < symbols.length; i++) counts[symbols[i]!]!++;
}

/*
 * The hot loops below hold the raw-bit writer's state and the bucket maths in locals (a method call per
 * field measured ~2x slower); fields wider than 24 bits, which the 32-bit accumulator cannot take, go
 * through BitWriter.write.
 */

function encodeGaps(sink: SymbolSink, raw: BitWriter, positions: Uint32Array): void {
  const { base, extra } = BUCKETS;
  const syms = sink.symbols;
  const counts = sink.counts;
  const n = positions.length;
  let g = sink.length;
  let prev = -1;
  raw.reserve(4 * n + 8); // ≤ 31 raw bits per gap
  let out = raw.bytes;
  let len = raw.length;
  let acc = raw.acc;
  let pending = raw.pending;
  for (let i = 0; i < n; i++) {
    const p = positions[i]!;
    const gap = p - prev - 1;
    prev = p;
    let s: number;
    if (gap < DIRECT_BUCKETS) s = gap;
    else {
      const e0 = 31 - Math.clz32(gap + 1) - BUCKET_MANTISSA_BITS;
      s = (e0 << BUCKET_MANTISSA_BITS) + ((gap + 1) >>> e0) - 1;
    }
    syms[g++] = s;
    counts[s]!++;
    const e = extra[s]!;
    if (e === 0) continue;
    const v = gap - base[s]!;
    if (e > 24) {
      raw.length = len;
      raw.acc = acc;
      raw.pending = pending;
      raw.write(v, e);
      out = raw.bytes;
      len = raw.length;
      acc = raw.acc;
      pending = raw.pending;
      continue;
    }
    acc = (acc << e) | v;
    pending += e;
    while (pending >= 8) {
      pending -= 8;
      out[len++] = acc >>> pending;
    }
    acc &= (1 << pending) - 1;
  }
  raw.length = len;
  raw.acc = acc;
  raw.pending = pending;
  sink.length = g;
}

/**
 * Walks the runs of adjacent positions as encodeRuns codes them: per run the gap from the end of the
 * previous run (from 0 for the first) and its length less one. diff's size estimate of run-coded positions
 * walks them the same way.
 */
export function forEachRun(positions: Uint32Array, onRun: (gap: number, lengthLessOne: number) => void): void {
  const n = positions.length;
  let next = 0; // first position after the previous run
  for (let i = 0; i < n; ) {
    const start = positions[i]!;
    let end = i + 1;
    while (end < n && positions[end] === start + (end - i)) end++;
    onRun(start - next, end - i - 1);
    next = start + (end - i);
    i = end;
  }
}

function encodeRuns(sink: SymbolSink, raw: BitWriter, positions: Uint32Array): void {
  const { base, extra } = BUCKETS;
  const syms = sink.symbols;
  const counts = sink.counts;
  let g = sink.length;
  const put = (v: number) => {
    const s = bucketOf(v);
    syms[g++] = s;
    counts[s]!++;
    const e = extra[s]!;
    if (e > 0) raw.write(v - base[s]!, e);
  };
  forEachRun(positions, (gap, lengthLessOne) => {
    put(gap);
    put(lengthLessOne);
  });
  sink.length = g;
}

function encodeHeads(sink: SymbolSink, raw: BitWriter, data: ArrayLike<number>, mantissaBits: number): void {
  const syms = sink.symbols;
  const counts = sink.counts;
  const mantissaMask = (1 << mantissaBits) - 1;
  const n = data.length;
  let h = sink.length;
  // The bit writer inlined (one call per value measured ~2x slower on dense tensors); mantissas are ≤ 23 bits.
  raw.reserve(Math.ceil((n * mantissaBits) / 8) + 4);
  const out = raw.bytes;
  let len = raw.length;
  let acc = raw.acc;
  let pending = raw.pending;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    const s = v >>> mantissaBits;
    syms[h++] = s;
    counts[s]!++;
    acc = (acc << mantissaBits) | (v & mantissaMask);
    pending += mantissaBits;
    while (pending >= 8) {
      pending -= 8;
      out[len++] = acc >>> pending;
    }
    acc &= (1 << pending) - 1;
  }
  raw.length = len;
  raw.acc = acc;
  raw.pending = pending;
  sink.length = h;
}

/**
 * Also checks each change (hand-made patches): flip 0/1, delta below
 * 2^(width−1), not a no-op. With `exps` (old biased exponents) the symbols
 * are scaled ones (scaled.ts), as in the encodeDeltas kernel.
 */
export function encodeDeltas(
  sink: SymbolSink,
  raw: BitWriter,
  t: Pick<UlpTensorPatch, 'name' | 'signFlips' | 'magnitudeDeltas'>,
  half: number,
  exps: Uint8Array | null = null,
): void {
  const { base, extra } = BUCKETS;
  const flips = t.signFlips;
  const mags = t.magnitudeDeltas;
  const syms = sink.symbols;
  const counts = sink.counts;
  const n = flips.length;
  const limit = half * 2;
  let d = sink.length;
  raw.reserve(4 * n + 8); // ≤ 31 raw bits per delta
  let out = raw.bytes;
  let len = raw.length;
  let acc = raw.acc;
  let pending = raw.pending;
  for (let i = 0; i < n; i++) {
    const flip = flips[i]!;
    const md = mags[i]!;
    if (flip > 1 || md >= limit || (flip === 0 && md === 0))
      throw new InvalidModelError(`tensor ${t.name}: change ${i} is out of range`);
    const signed = md >= half ? md - limit : md;
    // Zig-zag; without a flip the delta is never 0, so shift by one.
    const zz = (signed >= 0 ? signed * 2 : -signed * 2 - 1) - (flip ^ 1);
    let b: number;
    if (zz < DIRECT_BUCKETS) b = zz;
    else {
      const e0 = 31 - Math.clz32(zz + 1) - BUCKET_MANTISSA_BITS;
      b = (e0 << BUCKET_MANTISSA_BITS) + ((zz + 1) >>> e0) - 1;
    }
    const s = 2 * (exps === null ? b : b + (exps[i]! << BUCKET_MANTISSA_BITS)) + flip;
    syms[d++] = s;
    counts[s]!++;
    const e = extra[b]!;
    if (e === 0) continue;
    const v = zz - base[b]!;
    if (e > 24) {
      raw.length = len;
      raw.acc = acc;
      raw.pending = pending;
      raw.write(v, e);
      out = raw.bytes;
      len = raw.length;
      acc = raw.acc;
      pending = raw.pending;
      continue;
    }
    acc = (acc << e) | v;
    pending += e;
    while (pending >= 8) {
      pending -= 8;
      out[len++] = acc >>> pending;
    }
    acc &= (1 << pending) - 1;
  }
  raw.length = len;
  raw.acc = acc;
  raw.pending = pending;
  sink.length = d;
}

interface StreamReader {
  readonly table: DecodeTable;
  readonly dec: RansDecoder;
}

export function decodePayload(all: readonly TensorLayout[], r: ByteReader, bytes: Uint8Array): TensorPatch[] {
  const conditioned = all.map((l): TensorPatch | null =>
    l.kind !== 'conditioned'
      ? null
      : {
          name: l.name,
          dtype: l.dtype,
          shape: l.shape,
          kind: 'conditioned',
          changes: l.changes,
          coded: r.take(r.varint()).slice(),
        },
  );
  const layouts = all.filter((l) => l.kind !== 'conditioned');
  const streamed = decodeStreamed(layouts, r, bytes);
  if (layouts.length === all.length) return streamed;
  let next = 0;
  return conditioned.map((t) => t ?? streamed[next++]!);
}

function decodeStreamed(layouts: readonly TensorLayout[], r: ByteReader, bytes: Uint8Array): TensorPatch[] {
  const counts = streamCounts(layouts);
  const spans: (StreamSpan | null)[] = counts.map((c, s) => {
    if (c === 0) return null;
    const table = readTable(r, alphabetOf(s));
    const length = r.varint();
    const start = r.pos;
    r.take(length);
    return { table, start, end: start + length };
  });
  const lows = layouts.map((l) =>
    l.kind !== 'scaled' ? null : l.changes > 0 ? r.take(r.varint()).slice() : new Uint8Array(0),
  );
  const rawLength = r.varint();
  if (rawLength !== r.remaining) throw new CorruptPatchError('body length does not match the container');
  const decoded = decodeWithKernels(layouts, bytes, spans, r.pos, lows);
  if (decoded !== null) return decoded;
  const streams = spans.map(
    (s): StreamReader | null => s && { table: decodeTable(s.table), dec: new RansDecoder(bytes, s.start, s.end) },
  );
  const raw = new BitReader(r.take(rawLength));

  const out: TensorPatch[] = [];
  for (const [li, l] of layouts.entries()) {
    const info = DTYPES[l.dtype];
    const mantissaBits = info.width - 1 - info.exponentBits;
    const { name, dtype, shape } = l;
    if (l.kind === 'full') {
      const data = allocData(l.dtype, l.elements);
      if (l.elements > 0) decodeHeads(streams[headStream(l.dtype)]!, raw, data, mantissaBits);
      out.push({ name, dtype, shape, kind: 'full', data });
      continue;
    }
    const n = l.changes;
    const positions = new Uint32Array(n);
    if (n > 0) {
      if (l.runs) decodeRuns(streams[RUN_STREAM]!, raw, positions, l);
      else decodeGaps(streams[GAP_STREAM]!, raw, positions, l);
    }
    decodedColumns.add(positions.buffer);
    if (l.kind === 'raw') {
      const bits = new Uint32Array(n);
      if (n > 0) decodeHeads(streams[headStream(l.dtype)]!, raw, bits, mantissaBits);
      out.push({ name, dtype, shape, kind: 'raw', positions, bits });
      continue;
    }
    if (l.kind === 'scaled') {
      const symbols = new Uint16Array(n);
      if (n > 0) {
        const { table, dec } = streams[scaledStream(l.dtype)]!;
        for (let i = 0; i < n; i++) symbols[i] = dec.decode(table);
      }
      out.push({ name, dtype, shape, kind: 'scaled', positions, symbols, low: lows[li]! });
      continue;
    }
    const signFlips = new Uint8Array(n);
    const magnitudeDeltas = new Uint32Array(n);
    if (n > 0) decodeDeltas(streams[deltaStream(l.dtype)]!, raw, signFlips, magnitudeDeltas, l);
    out.push({ name, dtype, shape, kind: 'ulp', positions, signFlips, magnitudeDeltas });
  }
  for (const s of streams)
    if (s !== null && !s.dec.finished()) throw new CorruptPatchError('rANS stream has trailing bytes');
  if (!raw.consumedAll()) throw new CorruptPatchError('raw-bit stream has trailing bytes');
  return out;
}

// decodeGaps and decodeDeltas hold the rANS state and the raw-bit position in locals, like decodeHeads (a
// method call per symbol and per field measured ~2x slower); fields wider than 24 bits use BitReader.read.

function decodeGaps({ table, dec }: StreamReader, raw: BitReader, positions: Uint32Array, l: TensorLayout): void {
  const { base, extra } = BUCKETS;
  const { mask, scaleBits, symbol, step } = table;
  const elements = l.elements;
  const src = dec.bytes;
  const end = dec.end;
  let x = dec.x;
  let pos = dec.pos;
  const bits = raw.bytes;
  const endBits = raw.endBits;
  let bitPos = raw.pos;
  let prev = -1;
  for (let i = 0; i < positions.length; i++) {
    const slot = x & mask;
    const st = step[slot]!;
    x = (st >> 16) * (x >> scaleBits) + (st & 0xffff); // x < 2^31 always: int32 maths
    while (x < RANS_L) {
      if (pos >= end) throw new CorruptPatchError('rANS stream is truncated');
      x = (x << 8) | src[pos++]!;
    }
    const s = symbol[slot]!;
    const e = extra[s]!;
    let low = 0;
    if (e > 24) {
      raw.pos = bitPos;
      low = raw.read(e);
      bitPos = raw.pos;
    } else if (e > 0) {
      if (bitPos + e > endBits) throw new CorruptPatchError('raw-bit stream is truncated');
      const b = bitPos >>> 3;
      const word = (bits[b]! << 24) | (bits[b + 1]! << 16) | (bits[b + 2]! << 8) | bits[b + 3]!;
      low = ((word << (bitPos & 7)) >>> (32 - e)) | 0; // < 2^24: keep it int32
      bitPos += e;
    }
    const p = prev + 1 + base[s]! + low;
    if (p >= elements) throw new CorruptPatchError(`tensor ${l.name}: position ${p} out of range`);
    positions[i] = p;
    prev = p;
  }
  dec.x = x;
  dec.pos = pos;
  raw.pos = bitPos;
}

function decodeRuns({ table, dec }: StreamReader, raw: BitReader, positions: Uint32Array, l: TensorLayout): void {
  const { base, extra } = BUCKETS;
  const n = positions.length;
  let next = 0;
  for (let i = 0; i < n; ) {
    let s = dec.decode(table);
    let e = extra[s]!;
    const start = next + base[s]! + (e > 0 ? raw.read(e) : 0);
    s = dec.decode(table);
    e = extra[s]!;
    const length = 1 + base[s]! + (e > 0 ? raw.read(e) : 0);
    if (length > n - i || start + length > l.elements)
      throw new CorruptPatchError(`tensor ${l.name}: run out of range`);
    for (let k = 0; k < length; k++) positions[i + k] = start + k;
    i += length;
    next = start + length;
  }
}

function decodeHeads(
  { table, dec }: StreamReader,
  raw: BitReader,
  out: Uint16Array | Uint32Array,
  mantissaBits: number,
): void {
  const n = out.length;
  if (raw.pos + n * mantissaBits > raw.endBits) throw new CorruptPatchError('raw-bit stream is truncated');
  // rANS step and bit reads inlined (the dense-tensor hot loop); bounds of the raw stream were checked above.
  const { mask, scaleBits, symbol, step } = table;
  const src = dec.bytes;
  const end = dec.end;
  let x = dec.x;
  let pos = dec.pos;
  const bits = raw.bytes;
  let bitPos = raw.pos;
  const shift = 32 - mantissaBits;
  const scale = 2 ** mantissaBits;
  for (let i = 0; i < n; i++) {
    const slot = x & mask;
    const st = step[slot]!;
    x = (st >> 16) * (x >> scaleBits) + (st & 0xffff); // x < 2^31 always: int32 maths
    while (x < RANS_L) {
      if (pos >= end) throw new CorruptPatchError('rANS stream is truncated');
      x = (x << 8) | src[pos++]!;
    }
    const b = bitPos >>> 3;
    const word = (bits[b]! << 24) | (bits[b + 1]! << 16) | (bits[b + 2]! << 8) | bits[b + 3]!;
    const low = (word << (bitPos & 7)) >>> shift;
    bitPos += mantissaBits;
    out[i] = symbol[slot]! * scale + low;
  }
  dec.x = x;
  dec.pos = pos;
  raw.pos = bitPos;
}

function decodeDeltas(
  { table, dec }: StreamReader,
  raw: BitReader,
  signFlips: Uint8Array,
  magnitudeDeltas: Uint32Array,
  l: TensorLayout,
): void {
  const { base, extra } = BUCKETS;
  const { mask, scaleBits, symbol, step } = table;
  const width = DTYPES[l.dtype].width;
  const half = width === 16 ? 0x4000 : 0x40000000;
  const magMask = width === 16 ? 0x7fff : 0x7fffffff;
  const src = dec.bytes;
  const end = dec.end;
  let x = dec.x;
  let pos = dec.pos;
  const bits = raw.bytes;
  const endBits = raw.endBits;
  let bitPos = raw.pos;
  for (let i = 0; i < signFlips.length; i++) {
    const slot = x & mask;
    const st = step[slot]!;
    x = (st >> 16) * (x >> scaleBits) + (st & 0xffff); // x < 2^31 always: int32 maths
    while (x < RANS_L) {
      if (pos >= end) throw new CorruptPatchError('rANS stream is truncated');
      x = (x << 8) | src[pos++]!;
    }
    const s = symbol[slot]!;
    const flip = s & 1;
    const b = s >>> 1;
    const e = extra[b]!;
    let low = 0;
    if (e > 24) {
      raw.pos = bitPos;
      low = raw.read(e);
      bitPos = raw.pos;
    } else if (e > 0) {
      if (bitPos + e > endBits) throw new CorruptPatchError('raw-bit stream is truncated');
      const k = bitPos >>> 3;
      const word = (bits[k]! << 24) | (bits[k + 1]! << 16) | (bits[k + 2]! << 8) | bits[k + 3]!;
      low = ((word << (bitPos & 7)) >>> (32 - e)) | 0; // < 2^24: keep it int32
      bitPos += e;
    }
    const zz = base[b]! + low + (flip ^ 1);
    // zz < 2^32: integer bit ops, not a float modulo (which V8 compiles to a runtime call).
    const signed = (zz & 1) === 0 ? zz >>> 1 : -((zz >>> 1) + 1);
    if (signed >= half || signed < -half) throw new CorruptPatchError(`tensor ${l.name}: ulp delta out of range`);
    signFlips[i] = flip;
    magnitudeDeltas[i] = signed & magMask;
  }
  dec.x = x;
  dec.pos = pos;
  raw.pos = bitPos;
}
