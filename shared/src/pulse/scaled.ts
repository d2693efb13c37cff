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
import { Arena, arenaBytes, KERNEL_ERRORS, READER_BYTES, WRITER_BYTES } from './kernels';
import { encodeDeltas, SymbolSink } from './payload';
import { scaledAlphabet } from './streams';
import { DTYPES, type DType, type TensorData } from './types';
import { XXH3_STATE_BYTES } from './xxh3';

/**
 * Scaled symbols and packed raw bits of ulp changes (flip, magnitude delta as
 * in UlpTensorPatch) whose old values had biased exponents `exps`: the
 * encodeDeltas kernel, or its JS twin in payload.ts for calls too large for
 * an arena.
 */
export function scaledFromUlp(dtype: DType, flips: Uint8Array, mags: Uint32Array, exps: Uint8Array): { symbols: Uint16Array; low: Uint8Array } {
  const n = flips.length;
  const half = DTYPES[dtype].width === 16 ? 0x4000 : 0x40000000;
  const alphabet = scaledAlphabet(dtype);
  const arena = Arena.for(2 * arenaBytes(n) + arenaBytes(4 * n) + arenaBytes(2 * n) + arenaBytes(4 * alphabet) + arenaBytes(4 * n + 8) + arenaBytes(WRITER_BYTES));
  if (arena === null) {
    const sink = new SymbolSink(new Uint16Array(n), alphabet);
    const raw = new BitWriter(4 * n + 16);
    encodeDeltas(sink, raw, { name: 'scaled', signFlips: flips, magnitudeDeltas: mags }, half, exps);
    return { symbols: sink.symbols, low: raw.finish().slice() };
  }
  const { k, u8 } = arena;
  const at = { flips: arena.alloc(n), exps: arena.alloc(n), mags: arena.alloc(4 * n), syms: arena.alloc(2 * n), counts: arena.alloc(4 * alphabet), raw: arena.alloc(4 * n + 8), writer: arena.alloc(WRITER_BYTES) };
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
 * time, in JS: for tensors apply patches block by block, hand-made patches
 * out of order, and realms without WebAssembly (else applyScaledInArena): each change's bucket is its symbol shifted back by the old value's
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
      if (b < 0 || b >= BUCKET_SYMBOLS) throw new CorruptPatchError(`tensor ${name}: change ${i} does not fit its base value`);
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
    if (!this.raw.consumedAll()) throw new CorruptPatchError(`tensor ${this.name}: raw bits do not end with its changes`);
  }
}

/**
 * A whole tensor's scaled changes applied in an arena by the applyScaled
 * kernels, which mirror ScaledWriter, and its new values hashed where they
 * lie, its header with them. It copies as much as ScaledWriter's path does
 * (the base in, the result out, where that path copies the base and then the
 * result into the arena to hash it), and the writes run as WebAssembly:
 * apply of the quick bench f32 1% patch spent ~120 µs of ~680 in
 * ScaledWriter; this way apply alone is 1.08× and 1.10× faster (same
 * process, alternating, median of 2,000). The copy out uses the copying
 * constructor: slice() zero-fills first and made the whole 0.96×. Returns null
 * (nothing hashed) when the call is too large for an arena. `hasher` has had
 * the tensor's header (it is hashed here, with the values); any error is a
 * PulseError and the base is untouched.
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
  const count = positions.length;
  // The pending tensor header goes right before the values: one hash call for both.
  const header = hasher.pendingHeader ?? new Uint8Array(0);
  const headerRoom = arenaBytes(header.length);
  const need = headerRoom + arenaBytes(base.byteLength) + arenaBytes(4 * count) + arenaBytes(2 * count) + arenaBytes(low.length) + arenaBytes(8 + low.length) + arenaBytes(READER_BYTES) + arenaBytes(XXH3_STATE_BYTES);
  const arena = Arena.for(need);
  if (arena === null) return null;
  const { k } = arena;
  hasher.takeHeader();
  const at = {
    data: arena.alloc(headerRoom + base.byteLength) + headerRoom,
    positions: arena.alloc(4 * count),
    symbols: arena.alloc(2 * count),
    low: arena.alloc(low.length),
    // The raw bits are read byte-reversed, 8 bytes into their region (see peekBits in shared/assembly/pulse.ts).
    reversed: arena.alloc(8 + low.length) + 8,
    reader: arena.alloc(READER_BYTES),
    hashState: arena.alloc(XXH3_STATE_BYTES),
  };
  const u8 = arena.u8;
  u8.set(header, at.data - header.length);
  u8.set(new Uint8Array(base.buffer, base.byteOffset, base.byteLength), at.data);
  u8.set(new Uint8Array(positions.buffer, positions.byteOffset, positions.byteLength), at.positions);
  u8.set(new Uint8Array(symbols.buffer, symbols.byteOffset, symbols.byteLength), at.symbols);
  u8.set(low, at.low);
  k.reverseBytes(at.low, at.reversed, low.length);
  const endBits = low.length * 8;
  const words = arena.u32;
  words.set([at.reversed + low.length - 8, 0, endBits % 2 ** 32, Math.floor(endBits / 2 ** 32), 0, 0], at.reader / 4);
  const { width, exponentBits } = DTYPES[dtype];
  const mantissaBits = width - 1 - exponentBits;
  const expMask = (1 << exponentBits) - 1;
  const rc = (width === 16 ? k.applyScaled16 : k.applyScaled32)(at.data, n, mantissaBits, expMask, at.positions, at.symbols, count, at.reader);
  const failed = words[at.reader / 4 + 1]!;
  if (rc === -3) throw new WrongBaseError(`tensor ${name}: change ${failed} is beyond ${n} elements`);
  if (rc === -6) throw new CorruptPatchError(`tensor ${name}: change ${failed} does not fit its base value`);
  if (rc < 0) throw new CorruptPatchError(`tensor ${name}: ${KERNEL_ERRORS[rc] ?? 'corrupt body'}`);
  const bitPos = words[at.reader / 4 + 4]! + words[at.reader / 4 + 5]! * 2 ** 32;
  if (!bitsConsumedAll(low, bitPos, endBits)) throw new CorruptPatchError(`tensor ${name}: raw bits do not end with its changes`);
  hasher.updateInPlace(k, at.hashState, at.data - header.length, header.length + base.byteLength);
  return width === 32 ? new Uint32Array(new Uint32Array(k.memory.buffer, at.data, n)) : new Uint16Array(new Uint16Array(k.memory.buffer, at.data, n));
}
