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

import { BitReader, BitWriter } from './bits';
import { BUCKET_SYMBOLS, BUCKETS } from './buckets';
import { BUCKET_MANTISSA_BITS } from './constants';
import { CorruptPatchError, InvalidModelError } from './errors';
import { Arena, arenaBytes, WRITER_BYTES } from './kernels';
import { encodeDeltas, SymbolSink } from './payload';
import { scaledAlphabet } from './streams';
import { DTYPES, type DType, type TensorData } from './types';

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

/** Checks a hand-made scaled tensor's symbols before they are coded; the raw bits can only be checked against a base (ScaledResolver). */
export function checkScaledSymbols(name: string, dtype: DType, symbols: Uint16Array): void {
  const alphabet = scaledAlphabet(dtype);
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i]! >= alphabet) throw new InvalidModelError(`tensor ${name}: change ${i} is out of range`);
  }
}

/**
 * Turns scaled changes back into ulp ones (signFlips, magnitudeDeltas), in
 * order, a range at a time, reading each old value's exponent from the
 * tensor being patched; apply.ts then writes them with its ulp loop. A symbol
 * that names no bucket for its old value or a delta out of range throws at
 * once; raw bits that do not end exactly with the changes throw in finish().
 * All are CorruptPatchError.
 */
export class ScaledResolver {
  readonly signFlips: Uint8Array;
  readonly magnitudeDeltas: Uint32Array;
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
    this.signFlips = new Uint8Array(positions.length);
    this.magnitudeDeltas = new Uint32Array(positions.length);
    this.raw = new BitReader(low);
    this.mantissaBits = width - 1 - exponentBits;
    this.expMask = (1 << exponentBits) - 1;
    this.half = width === 16 ? 0x4000 : 0x40000000;
  }

  /** Resolves changes [from, to); `data` holds the old values at their positions. */
  resolve(data: TensorData, from: number, to: number): void {
    const { base, extra } = BUCKETS;
    const { positions, symbols, raw, mantissaBits, expMask, half, name, signFlips, magnitudeDeltas } = this;
    const magMask = 2 * half - 1;
    for (let i = from; i < to; i++) {
      const s = symbols[i]!;
      const flip = s & 1;
      const b = (s >>> 1) - (((data[positions[i]!]! >>> mantissaBits) & expMask) << BUCKET_MANTISSA_BITS);
      if (b < 0 || b >= BUCKET_SYMBOLS) throw new CorruptPatchError(`tensor ${name}: change ${i} does not fit its base value`);
      const e = extra[b]!;
      // The zig-zag of payload.ts decodeDeltas (values below 2^32, so float maths is exact).
      const zz = base[b]! + (e > 0 ? raw.read(e) : 0) + (flip ^ 1);
      const signed = zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
      if (signed >= half || signed < -half) throw new CorruptPatchError(`tensor ${name}: ulp delta out of range`);
      signFlips[i] = flip;
      magnitudeDeltas[i] = signed & magMask;
    }
  }

  finish(): void {
    if (!this.raw.consumedAll()) throw new CorruptPatchError(`tensor ${this.name}: raw bits do not end with its changes`);
  }
}
