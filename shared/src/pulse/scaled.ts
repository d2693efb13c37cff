/**
 * The `scaled` tensor kind (types.ts ScaledTensorPatch): ulp deltas whose
 * bucket is shifted by the old value's biased exponent, one octave per
 * exponent step, so that deltas of about the same size in value space share
 * a symbol whatever the binade of the weight they moved.
 *
 * The symbol alone does not say how many raw bits follow (that needs the old
 * exponent), so a scaled tensor's raw bits travel as their own byte string
 * (streams.ts writeScaledLow) and are read at apply, against the base.
 */

import { BitReader, BitWriter, bitsConsumedAll, MAX_FIELD, peekBits } from './bits';
import { BUCKET_SYMBOLS, BUCKETS } from './buckets';
import { BUCKET_MANTISSA_BITS } from './constants';
import { CorruptPatchError, InvalidModelError, WrongBaseError } from './errors';
import type { ModelHasher } from './hash';
import { patchInArena } from './arena-patch';
import { Arena, arenaBytes, kernelError, rawReaderBytes, WRITER_BYTES } from './kernels';
import { encodeDeltas, SymbolSink } from './payload';
import { scaledAlphabet } from './streams';
import { DTYPES, type DType, type TensorData } from './types';

/**
 * Scaled symbols and packed raw bits of ulp changes (flip, magnitude delta as
 * in UlpTensorPatch) whose old values had biased exponents `exps`: the
 * encodeDeltas kernel, or its JS twin in payload.ts for calls too large for
 * an arena.
 */
export function scaledFromUlp(
  dtype: DType,
  flips: Uint8Array,
  mags: Uint32Array,
  exps: Uint8Array,
): { symbols: Uint16Array; low: Uint8Array } {
  const n = flips.length;
  const half = DTYPES[dtype].width === 16 ? 0x4000 : 0x40000000;
  const alphabet = scaledAlphabet(dtype);
  const arena = Arena.for(
    2 * arenaBytes(n) +
      arenaBytes(4 * n) +
      arenaBytes(2 * n) +
      arenaBytes(4 * alphabet) +
      arenaBytes(4 * n + 8) +
      arenaBytes(WRITER_BYTES),
  );
  if (arena === null) {
    const sink = new SymbolSink(new Uint16Array(n), alphabet);
    const raw = new BitWriter(4 * n + 16);
    encodeDeltas(sink, raw, { name: 'scaled', signFlips: flips, magnitudeDeltas: mags }, half, exps);
    return { symbols: sink.symbols, low: raw.finish().slice() };
  }
  const { k, u8 } = arena;
  const at = {
    flips: arena.alloc(n),
    exps: arena.alloc(n),
    mags: arena.alloc(4 * n),
    syms: arena.alloc(2 * n),
    counts: arena.alloc(4 * alphabet),
    raw: arena.alloc(4 * n + 8),
    writer: arena.alloc(WRITER_BYTES),
  };
  u8.set(flips, at.flips);
  u8.set(exps, at.exps);
  u8.set(new Uint8Array(mags.buffer, mags.byteOffset, mags.byteLength), at.mags);
  u8.fill(0, at.counts, at.counts + 4 * alphabet);
  arena.u32.set([at.raw, 0, 0, 0, 0, 0], at.writer / 4);
  const bad = k.encodeDeltas(at.flips, at.mags, at.exps, n, half, at.syms, 0, at.counts, at.writer);
  if (bad >= 0) throw new InvalidModelError(`change ${bad} is out of range`);
  const length = k.finishBits(at.writer);
  return { symbols: new Uint16Array(k.memory.buffer, at.syms, n).slice(), low: u8.slice(at.raw, at.raw + length) };
}

/** Checks a hand-made scaled tensor's symbols before they are coded; the raw bits can only be checked against a base (ScaledWriter). */
export function checkScaledSymbols(name: string, dtype: DType, symbols: Uint16Array): void {
  const alphabet = scaledAlphabet(dtype);
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i]! >= alphabet) throw new InvalidModelError(`tensor ${name}: change ${i} is out of range`);
  }
}

/**
 * Writes scaled changes into the tensor being patched, in order, a range at a
 * time, in JS: for hand-made patches out of order and realms without
 * WebAssembly (applyScaledInArena takes the rest). Each change's bucket is its symbol shifted back by the old value's
 * exponent, read from `data` just before the new value replaces it. One pass
 * with no ulp columns in between: resolving into (flip, delta) columns
 * (70–99 µs for the quick bench f32 patch's 5,448 scaled changes) and then
 * writing them with apply.ts's ulp loop took 1.5–2× as long as this
 * (~60 µs). A symbol that names no bucket for its old value, a delta out of
 * range or raw bits that run out throw at once; raw bits that do not end
 * exactly with the changes throw in finish(). All are CorruptPatchError.
 */
export class ScaledWriter {
  private readonly raw: BitReader;
  private readonly mantissaBits: number;
  private readonly expMask: number;
  private readonly signShift: number;
  /** Magnitude bits; also the largest zig-zagged delta in range (|delta| ≤ half). */
  private readonly magMask: number;

  constructor(
    private readonly name: string,
    dtype: DType,
    private readonly positions: Uint32Array,
    private readonly symbols: Uint16Array,
    low: Uint8Array,
  ) {
    const { width, exponentBits } = DTYPES[dtype];
    this.raw = new BitReader(low);
    this.mantissaBits = width - 1 - exponentBits;
    this.expMask = (1 << exponentBits) - 1;
    this.signShift = width - 1;
    this.magMask = width === 16 ? 0x7fff : 0x7fffffff;
  }

  /** Writes changes [from, to); `data` holds the old values at their positions. */
  write(data: TensorData, from: number, to: number): void {
    const { base, extra } = BUCKETS;
    const { positions, symbols, raw, mantissaBits, expMask, signShift, magMask, name } = this;
    // The raw-bit position lives in a local for the loop, as in payload.ts decodeGaps.
    const { bytes, endBits } = raw;
    let bitPos = raw.pos;
    for (let i = from; i < to; i++) {
      const s = symbols[i]!;
      const p = positions[i]!;
      const o = data[p]!;
      const b = (s >>> 1) - (((o >>> mantissaBits) & expMask) << BUCKET_MANTISSA_BITS);
      if (b < 0 || b >= BUCKET_SYMBOLS)
        throw new CorruptPatchError(`tensor ${name}: change ${i} does not fit its base value`);
      const e = extra[b]!;
      let low = 0;
      if (e > MAX_FIELD) {
        raw.pos = bitPos;
        low = raw.read(e);
        bitPos = raw.pos;
      } else if (e > 0) {
        if (bitPos + e > endBits) throw new CorruptPatchError('raw-bit stream is truncated');
        low = peekBits(bytes, bitPos, e);
        bitPos += e;
      }
      // The zig-zag of payload.ts decodeDeltas; in range exactly when it is at most magMask, which keeps it an int32.
      const zz = base[b]! + low + ((s & 1) ^ 1);
      if (zz > magMask) throw new CorruptPatchError(`tensor ${name}: ulp delta out of range`);
      const delta = (zz >>> 1) ^ -(zz & 1);
      // As apply.ts's ulp loop: typed-array stores keep the low bits, so signed intermediates are fine.
      data[p] = ((o ^ ((s & 1) << signShift)) & (1 << signShift)) | (((o & magMask) + delta) & magMask);
    }
    raw.pos = bitPos;
  }

  finish(): void {
    if (!this.raw.consumedAll())
      throw new CorruptPatchError(`tensor ${this.name}: raw bits do not end with its changes`);
  }
}

/**
 * A tensor's scaled changes written in an arena, a chunk at a time, by the
 * applyScaled kernels, which mirror ScaledWriter (arena-patch.ts); null when
 * there is no arena. Apply of the quick bench f32 1% patch spent ~120 µs of ~680 in
 * ScaledWriter; this way apply alone is 1.08× and 1.10× faster (same
 * process, alternating, median of 2,000).
 */
export function applyScaledInArena(
  name: string,
  dtype: DType,
  base: TensorData,
  positions: Uint32Array,
  symbols: Uint16Array,
  low: Uint8Array,
  hasher: ModelHasher,
): TensorData | null {
  const n = base.length;
  let bitPos = (): number => 0;
  const out = patchInArena(
    name,
    base,
    hasher,
    [positions, symbols],
    arenaBytes(low.length) + rawReaderBytes(low.length),
    (arena) => {
      const { k } = arena;
      // The raw bits are read in order across the chunks: one reader for the whole tensor.
      const lowAt = arena.alloc(low.length);
      arena.u8.set(low, lowAt);
      const reader = arena.rawReader(lowAt, low.length);
      bitPos = () => arena.readerBitPos(reader);
      const { width, exponentBits } = DTYPES[dtype];
      const mantissaBits = width - 1 - exponentBits;
      const expMask = (1 << exponentBits) - 1;
      const kernel = width === 16 ? k.applyScaled16 : k.applyScaled32;
      return (shifted, last, [atPositions, atSymbols], chunkCount, from) => {
        const rc = kernel(shifted, last, mantissaBits, expMask, atPositions!, atSymbols!, chunkCount, reader);
        if (rc === -3)
          throw new WrongBaseError(
            `tensor ${name}: change ${from + arena.readerFailedChange(reader)} is beyond ${n} elements`,
          );
        if (rc === -6)
          throw new CorruptPatchError(
            `tensor ${name}: change ${from + arena.readerFailedChange(reader)} does not fit its base value`,
          );
        if (rc < 0) throw kernelError(name, rc);
      };
    },
  );
  if (out === null) return null;
  if (!bitsConsumedAll(low, bitPos(), low.length * 8))
    throw new CorruptPatchError(`tensor ${name}: raw bits do not end with its changes`);
  return out;
}
