/**
 * The `scaled` tensor kind (types.ts ScaledTensorPatch): ulp deltas whose
 * bucket is shifted by the old value's biased exponent, one octave per
 * exponent step, so that deltas of about the same size in value space share
 * a symbol whatever the binade of the weight they moved.
 *
 * The symbol alone does not say how many raw bits follow (that needs the old
 * exponent), so a scaled tensor's raw bits travel as their own byte string
 * and are read at apply, against the base.
 */

import { BitReader, BitWriter } from './bits';
import { BUCKET_SYMBOLS, BUCKETS, bucketOf } from './buckets';
import { BUCKET_MANTISSA_BITS } from './constants';
import { CorruptPatchError, InvalidModelError } from './errors';
import { Arena, arenaBytes, WRITER_BYTES } from './kernels';
import type { ByteWriter } from './bytes';
import { DTYPES, type DType, type TensorData, type TensorPatch } from './types';

/** Symbols of a scaled stream: 2 · (bucket + 2^M · exponent) + flip, exponents 0 .. 2^exponentBits − 1. */
export function scaledAlphabet(dtype: DType): number {
  return 2 * (BUCKET_SYMBOLS + (((1 << DTYPES[dtype].exponentBits) - 1) << BUCKET_MANTISSA_BITS));
}

/** The old value's biased exponent: the context a scaled symbol is relative to. */
export function exponentOf(bits: number, dtype: DType): number {
  const { width, exponentBits } = DTYPES[dtype];
  return (bits >>> (width - 1 - exponentBits)) & ((1 << exponentBits) - 1);
}

/**
 * Scaled symbols and packed raw bits of ulp changes (flip, magnitude delta as
 * in UlpTensorPatch) whose old values had biased exponents `exps`.
 */
export function scaledFromUlp(dtype: DType, flips: Uint8Array, mags: Uint32Array, exps: Uint8Array): { symbols: Uint16Array; low: Uint8Array } {
  return scaledWithKernels(dtype, flips, mags, exps) ?? scaledInJs(dtype, flips, mags, exps);
}

/** scaledFromUlp in the encodeDeltas kernel (~50 ns a change in JS, where the zig-zag leaves int32); null when too large for an arena. */
function scaledWithKernels(dtype: DType, flips: Uint8Array, mags: Uint32Array, exps: Uint8Array): { symbols: Uint16Array; low: Uint8Array } | null {
  const n = flips.length;
  const alphabet = scaledAlphabet(dtype);
  const arena = Arena.for(2 * arenaBytes(n) + arenaBytes(4 * n) + arenaBytes(2 * n) + arenaBytes(4 * alphabet) + arenaBytes(4 * n + 8) + arenaBytes(WRITER_BYTES));
  if (arena === null) return null;
  const { k, u8 } = arena;
  const at = { flips: arena.alloc(n), exps: arena.alloc(n), mags: arena.alloc(4 * n), syms: arena.alloc(2 * n), counts: arena.alloc(4 * alphabet), raw: arena.alloc(4 * n + 8), writer: arena.alloc(WRITER_BYTES) };
  u8.set(flips, at.flips);
  u8.set(exps, at.exps);
  u8.set(new Uint8Array(mags.buffer, mags.byteOffset, mags.byteLength), at.mags);
  u8.fill(0, at.counts, at.counts + 4 * alphabet);
  arena.u32.set([at.raw, 0, 0, 0, 0, 0], at.writer / 4);
  const bad = k.encodeDeltas(at.flips, at.mags, at.exps, n, DTYPES[dtype].width === 16 ? 0x4000 : 0x40000000, at.syms, 0, at.counts, at.writer);
  if (bad >= 0) throw new InvalidModelError(`change ${bad} is out of range`);
  const length = k.finishBits(at.writer);
  return { symbols: new Uint16Array(k.memory.buffer, at.syms, n).slice(), low: u8.slice(at.raw, at.raw + length) };
}

function scaledInJs(dtype: DType, flips: Uint8Array, mags: Uint32Array, exps: Uint8Array): { symbols: Uint16Array; low: Uint8Array } {
  const { base, extra } = BUCKETS;
  const half = DTYPES[dtype].width === 16 ? 0x4000 : 0x40000000;
  const n = flips.length;
  const symbols = new Uint16Array(n);
  const raw = new BitWriter(4 * n + 16);
  for (let i = 0; i < n; i++) {
    const flip = flips[i]!;
    const md = mags[i]!;
    const signed = md >= half ? md - 2 * half : md;
    // The zig-zag of encodeDeltas: without a flip the delta is never 0, so shift by one.
    const zz = (signed >= 0 ? signed * 2 : -signed * 2 - 1) - (flip ^ 1);
    const b = bucketOf(zz);
    symbols[i] = 2 * (b + (exps[i]! << BUCKET_MANTISSA_BITS)) + flip;
    const e = extra[b]!;
    if (e > 0) raw.write(zz - base[b]!, e);
  }
  return { symbols, low: raw.finish().slice() };
}

/** Checks a hand-made scaled tensor's symbols before they are coded; the raw bits can only be checked against a base (ScaledApplier). */
export function checkScaledSymbols(name: string, dtype: DType, symbols: Uint16Array): void {
  const alphabet = scaledAlphabet(dtype);
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i]! >= alphabet) throw new InvalidModelError(`tensor ${name}: change ${i} is out of range`);
  }
}

/**
 * Applies scaled changes to a copy of the base tensor, in order, a range at a
 * time (apply.ts copies and patches block by block). A symbol that names no
 * bucket for its old value or a delta out of range throws at once; raw bits
 * that do not end exactly with the changes throw in finish(). All are
 * CorruptPatchError.
 */
export class ScaledApplier {
  private readonly raw: BitReader;
  private readonly mantissaBits: number;
  private readonly expMask: number;
  private readonly half: number;

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
    this.half = width === 16 ? 0x4000 : 0x40000000;
  }

  apply(data: TensorData, from: number, to: number): void {
    const { base, extra } = BUCKETS;
    const { positions, symbols, raw, mantissaBits, expMask, half, name } = this;
    const magMask = 2 * half - 1;
    const sign = 2 * half;
    for (let i = from; i < to; i++) {
      const p = positions[i]!;
      const o = data[p]!;
      const s = symbols[i]!;
      const flip = s & 1;
      const b = (s >>> 1) - (((o >>> mantissaBits) & expMask) << BUCKET_MANTISSA_BITS);
      if (b < 0 || b >= BUCKET_SYMBOLS) throw new CorruptPatchError(`tensor ${name}: change ${i} does not fit its base value`);
      const e = extra[b]!;
      const zz = base[b]! + (e > 0 ? raw.read(e) : 0) + (flip ^ 1);
      const signed = zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
      if (signed >= half || signed < -half) throw new CorruptPatchError(`tensor ${name}: ulp delta out of range`);
      // apply.ts's ulp arithmetic, written for either width (values below 2^32, so float maths is exact).
      const newSign = ((o >= sign ? 1 : 0) ^ flip) * sign;
      data[p] = newSign + ((((o & magMask) + signed) % sign) + sign) % sign;
    }
  }

  finish(): void {
    if (!this.raw.consumedAll()) throw new CorruptPatchError(`tensor ${this.name}: raw bits do not end with its changes`);
  }
}

/** Each scaled tensor's raw bits (its own byte string: how many bits a change has is known only at apply), in tensor order. */
export function writeScaledLow(w: ByteWriter, tensors: readonly TensorPatch[]): void {
  for (const t of tensors) {
    if (t.kind !== 'scaled' || t.positions.length === 0) continue;
    w.varint(t.low.length);
    w.raw(t.low);
  }
}
