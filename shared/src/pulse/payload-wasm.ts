/**
 * encodePayload and decodePayload on the WebAssembly kernels: the same body,
 * byte for byte, as the JS loops in payload.ts (golden.test.ts and
 * kernels.test.ts hold both to it). JS still reads and writes the tables and
 * the framing; each tensor's values go through one kernel call.
 */

import type { ByteWriter } from './bytes';
import { CorruptPatchError, InvalidModelError } from './errors';
import { Arena, arenaBytes, kernelError, rawReaderBytes, WRITER_BYTES } from './kernels';
import { bitsConsumedAll } from './bits';
import { normalize, RANS_L, RansDecoder, writeTable, type FreqTable } from './rans';
import { alphabetOf, deltaStream, GAP_STREAM, headStream, RUN_STREAM, scaledStream, writeScaledLow } from './streams';
import { DTYPES, allocData, decodedColumns, type StreamedTensorPatch, type TensorPatch } from './types';
import type { TensorLayout } from './layout';

/** rANS decoder struct (7 u32): see pulse.ts. */
const DECODER_BYTES = 32;

/** One coded stream as the container lays it out: its table and where its bytes are. */
export interface StreamSpan {
  readonly table: FreqTable;
  readonly start: number;
  readonly end: number;
}

/**
 * Arena bytes of one tensor's columns, the encoder's input copy and the
 * decoder's output alike: `count` values of `width` bytes for a full tensor;
 * otherwise u32 positions, then u32 raw bits, or u8 flips and u32 deltas.
 */
function columnBytes(kind: TensorPatch['kind'], count: number, width: number): number {
  if (kind === 'full') return arenaBytes(count * width);
  return arenaBytes(4 * count) + (kind === 'raw' ? arenaBytes(4 * count) : arenaBytes(count) + arenaBytes(4 * count));
}

/**
 * Decodes with the kernels, or returns null when the call is too large for
 * them. `streams` were read and validated by the caller; the raw-bit stream
 * is bytes[rawStart, bytes.length).
 */
export function decodeWithKernels(
  layouts: readonly TensorLayout[],
  bytes: Uint8Array,
  streams: readonly (StreamSpan | null)[],
  rawStart: number,
  lows: readonly (Uint8Array | null)[],
): TensorPatch[] | null {
  const bodyStart = Math.min(rawStart, ...streams.map((s) => s?.start ?? rawStart));
  const rawBytes = bytes.length - rawStart;
  let need = arenaBytes(bytes.length - bodyStart) + rawReaderBytes(rawBytes);
  for (const s of streams) {
    if (s !== null)
      need +=
        arenaBytes(DECODER_BYTES) +
        arenaBytes(2 << s.table.scaleBits) +
        arenaBytes(4 << s.table.scaleBits) +
        arenaBytes(4 * s.table.freq.length);
  }
  // A full tensor's values pass through one region in turn; sparse tensors' columns sit side by side and leave in one copy.
  let fullOutput = 0;
  let sparseOutput = 0;
  for (const l of layouts) {
    if (l.kind === 'full')
      fullOutput = Math.max(fullOutput, columnBytes('full', l.elements, DTYPES[l.dtype].width / 8));
    else sparseOutput += columnBytes(l.kind, l.changes, 4);
  }
  const arena = Arena.for(need + fullOutput + sparseOutput);
  if (arena === null) return null;
  const { k } = arena;

  // Where byte i of `bytes` lies in the arena.
  const shift = arena.alloc(bytes.length - bodyStart) - bodyStart;
  const decoders = streams.map((s) => {
    if (s === null) return 0;
    const ptr = arena.alloc(DECODER_BYTES);
    const { freq, scaleBits } = s.table;
    const symbol = arena.alloc(2 << scaleBits);
    const step = arena.alloc(4 << scaleBits);
    const freqAt = arena.alloc(4 * freq.length);
    arena.u32.set(freq, freqAt / 4);
    k.buildDecodeTable(freqAt, freq.length, symbol, step);
    const { x, pos } = new RansDecoder(bytes, s.start, s.end); // reads and checks the initial state
    arena.u32.set([x, shift + pos, shift + s.end, symbol, step, (1 << scaleBits) - 1, scaleBits], ptr / 4);
    return ptr;
  });
  const out = arena.alloc(fullOutput);
  const sparse = arena.alloc(sparseOutput);
  const u8 = arena.u8;
  u8.set(bytes.subarray(bodyStart), shift + bodyStart);
  const reader = arena.rawReader(shift + rawStart, rawBytes);

  const memory = k.memory.buffer;
  // Per tensor: its patch if full, else where its columns start past `sparse` (they are made after the loop).
  const decoded: (TensorPatch | number)[] = [];
  let columnsAt = sparse;
  for (const l of layouts) {
    const info = DTYPES[l.dtype];
    const mantissaBits = info.width - 1 - info.exponentBits;
    const heads = decoders[headStream(l.dtype)]!;
    if (l.kind === 'full') {
      const data = allocData(l.dtype, l.elements);
      if (l.elements > 0) {
        check(k.decodeHeads(heads, reader, l.elements, mantissaBits, out, info.width / 8), l);
        data.set(
          info.width === 16 ? new Uint16Array(memory, out, l.elements) : new Uint32Array(memory, out, l.elements),
        );
      }
      decoded.push({ name: l.name, dtype: l.dtype, shape: l.shape, kind: 'full', data });
      continue;
    }
    const n = l.changes;
    const values = columnsAt + arenaBytes(4 * n);
    if (n > 0) {
      // A scaled tensor's symbols are decoded in the gap loop (see decodeGaps in shared/assembly/pulse.ts).
      const paired = l.kind === 'scaled' && !l.runs;
      if (l.runs) check(k.decodeRuns(decoders[RUN_STREAM]!, reader, n, l.elements, columnsAt), l);
      else if (paired)
        check(
          k.decodeGapsPaired(
            decoders[GAP_STREAM]!,
            reader,
            n,
            l.elements,
            columnsAt,
            decoders[scaledStream(l.dtype)]!,
            values,
          ),
          l,
        );
      else check(k.decodeGaps(decoders[GAP_STREAM]!, reader, n, l.elements, columnsAt), l);
      if (l.kind === 'raw') check(k.decodeHeads(heads, reader, n, mantissaBits, values, 4), l);
      else if (l.kind === 'scaled') {
        if (!paired) check(k.decodeHeads(decoders[scaledStream(l.dtype)]!, reader, n, 0, values, 2), l); // bare symbols
      } else
        check(
          k.decodeDeltas(
            decoders[deltaStream(l.dtype)]!,
            reader,
            n,
            info.width === 16 ? 0x4000 : 0x40000000,
            info.width === 16 ? 0x7fff : 0x7fffffff,
            values,
            values + arenaBytes(n),
          ),
          l,
        );
    }
    decoded.push(columnsAt - sparse);
    columnsAt += columnBytes(l.kind, n, 4);
  }
  // Every sparse tensor's columns leave the arena in one copy, into one buffer they all share (so transferring
  // one column would detach them all; nothing does). Against one ArrayBuffer per tensor, decode got faster in
  // every quick bench case, same process, alternating: bf16 1% 162 → 149 and 104 → 97 µs, a patch with one
  // change per tensor 39 → 34 and 26 → 22 µs.
  const columns = u8.slice(sparse, sparse + sparseOutput).buffer;
  decodedColumns.add(columns);
  const tensors = layouts.map((l, li): TensorPatch => {
    const offset = decoded[li]!;
    if (typeof offset !== 'number') return offset;
    const { name, dtype, shape } = l;
    const n = l.changes;
    const positions = new Uint32Array(columns, offset, n);
    const values = offset + arenaBytes(4 * n);
    if (l.kind === 'raw')
      return { name, dtype, shape, kind: 'raw', positions, bits: new Uint32Array(columns, values, n) };
    if (l.kind === 'scaled')
      return {
        name,
        dtype,
        shape,
        kind: 'scaled',
        positions,
        symbols: new Uint16Array(columns, values, n),
        low: lows[li]!,
      };
    return {
      name,
      dtype,
      shape,
      kind: 'ulp',
      positions,
      signFlips: new Uint8Array(columns, values, n),
      magnitudeDeltas: new Uint32Array(columns, values + arenaBytes(n), n),
    };
  });

  const words = arena.u32;
  decoders.forEach((ptr, i) => {
    if (ptr !== 0 && (words[ptr / 4] !== RANS_L || words[ptr / 4 + 1] !== shift + streams[i]!.end))
      throw new CorruptPatchError('rANS stream has trailing bytes');
  });
  if (!bitsConsumedAll(bytes.subarray(rawStart), arena.readerBitPos(reader), rawBytes * 8))
    throw new CorruptPatchError('raw-bit stream has trailing bytes');
  return tensors;
}

/** A decode kernel's return code: below 0, the error it names in tensor `l`. A module function, not a closure per call. */
function check(rc: number, l: TensorLayout): void {
  if (rc < 0) throw kernelError(l.name, rc);
}

/** Encodes the body with the kernels given its streamCounts; false (nothing written) when the call is too large for them. */
export function encodeWithKernels(
  w: ByteWriter,
  tensors: readonly StreamedTensorPatch[],
  runs: readonly boolean[],
  counts: readonly number[],
): boolean {
  const alphabets = counts.map((_, s) => alphabetOf(s));
  let symbols = 0;
  let rawBytes = 8;
  let input = 0;
  let maxStream = 0;
  let maxAlphabet = 0;
  for (const [s, c] of counts.entries()) {
    symbols += c;
    if (c > 0) maxStream = Math.max(maxStream, 2 * c + 4);
    if (c > 0) maxAlphabet = Math.max(maxAlphabet, alphabets[s]!);
  }
  for (const t of tensors) {
    // ≤ 31 raw bits per gap or run value and ≤ 31 per delta; mantissas ≤ 23 bits.
    rawBytes += t.kind === 'full' ? 4 * t.data.length : 8 * t.positions.length;
    input = Math.max(
      input,
      t.kind === 'full'
        ? columnBytes('full', t.data.length, t.data.BYTES_PER_ELEMENT)
        : columnBytes(t.kind, t.positions.length, 4),
    );
  }
  const countsBytes = counts.reduce((sum, c, s) => sum + (c > 0 ? arenaBytes(4 * alphabets[s]!) : 0), 0);
  const need =
    arenaBytes(2 * symbols) +
    countsBytes +
    arenaBytes(rawBytes) +
    input +
    arenaBytes(WRITER_BYTES) +
    arenaBytes(maxStream) +
    2 * arenaBytes(4 * maxAlphabet) +
    arenaBytes(16 * maxAlphabet);
  const arena = Arena.for(need);
  if (arena === null) return false;
  const { k } = arena;

  const symsAt: number[] = [];
  const countsAt: number[] = [];
  const length: number[] = [];
  let offset = arena.alloc(2 * symbols);
  for (const [s, c] of counts.entries()) {
    symsAt.push(offset);
    offset += 2 * c;
    countsAt.push(c > 0 ? arena.alloc(4 * alphabets[s]!) : 0);
    length.push(0);
    if (c > 0) arena.u32.fill(0, countsAt[s]! / 4, countsAt[s]! / 4 + alphabets[s]!);
  }
  const raw = arena.alloc(rawBytes);
  const writer = arena.alloc(WRITER_BYTES);
  arena.u32.set([raw, 0, 0, 0, 0, 0], writer / 4);
  const inAt = arena.alloc(input);
  const streamOut = arena.alloc(maxStream);
  const freq = arena.alloc(4 * maxAlphabet);
  const cum = arena.alloc(4 * maxAlphabet);
  const enc = arena.alloc(16 * maxAlphabet);
  const u8 = arena.u8;
  const copyIn = (array: Uint8Array | Uint16Array | Uint32Array, to: number): void =>
    u8.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), to);

  tensors.forEach((t, ti) => {
    const info = DTYPES[t.dtype];
    const mantissaBits = info.width - 1 - info.exponentBits;
    if (t.kind === 'full') {
      if (t.data.length === 0) return;
      const s = headStream(t.dtype);
      copyIn(t.data, inAt);
      length[s] = k.encodeHeads(
        inAt,
        t.data.length,
        t.data.BYTES_PER_ELEMENT,
        mantissaBits,
        symsAt[s]!,
        length[s]!,
        countsAt[s]!,
        writer,
      );
      return;
    }
    const n = t.positions.length;
    if (n === 0) return;
    copyIn(t.positions, inAt);
    const p = runs[ti] ? RUN_STREAM : GAP_STREAM;
    length[p] = (runs[ti] ? k.encodeRuns : k.encodeGaps)(inAt, n, symsAt[p]!, length[p]!, countsAt[p]!, writer);
    const values = inAt + arenaBytes(4 * n);
    if (t.kind === 'raw') {
      const s = headStream(t.dtype);
      copyIn(t.bits, values);
      length[s] = k.encodeHeads(values, n, 4, mantissaBits, symsAt[s]!, length[s]!, countsAt[s]!, writer);
      return;
    }
    if (t.kind === 'scaled') {
      // Symbols were made by diff (scaled.ts); only their histogram is left to count.
      const s = scaledStream(t.dtype);
      new Uint16Array(k.memory.buffer, symsAt[s]! + 2 * length[s]!, n).set(t.symbols);
      const words = arena.u32;
      const at = countsAt[s]! / 4;
      for (let i = 0; i < n; i++) words[at + t.symbols[i]!]!++;
      length[s]! += n;
      return;
    }
    const s = deltaStream(t.dtype);
    const mags = values + arenaBytes(n);
    copyIn(t.signFlips, values);
    copyIn(t.magnitudeDeltas, mags);
    const before = length[s]!;
    const bad = k.encodeDeltas(
      values,
      mags,
      0,
      n,
      info.width === 16 ? 0x4000 : 0x40000000,
      symsAt[s]!,
      before,
      countsAt[s]!,
      writer,
    );
    if (bad >= 0) throw new InvalidModelError(`tensor ${t.name}: change ${bad} is out of range`);
    length[s] = before + n;
  });

  const words = arena.u32;
  for (const [s, c] of counts.entries()) {
    if (c === 0) continue;
    const table = normalize(words.slice(countsAt[s]! / 4, countsAt[s]! / 4 + alphabets[s]!));
    writeTable(w, table);
    words.set(table.freq, freq / 4);
    words.set(table.cum, cum / 4);
    const start = k.ransEncode(
      symsAt[s]!,
      length[s]!,
      freq,
      cum,
      alphabets[s]!,
      table.scaleBits,
      enc,
      streamOut + maxStream,
    );
    w.varint(streamOut + maxStream - start);
    w.raw(u8.subarray(start, streamOut + maxStream));
  }
  writeScaledLow(w, tensors);
  const rawLength = k.finishBits(writer);
  w.varint(rawLength);
  w.raw(u8.subarray(raw, raw + rawLength));
  return true;
}
