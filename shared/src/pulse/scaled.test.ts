import { afterEach, describe, expect, it } from 'vitest';
import { setScaledMarginForTests } from './diff';
import { BitWriter } from './bits';
import { bucketOf, BUCKETS } from './buckets';
import { BUCKET_MANTISSA_BITS } from './constants';
import {
  allocData,
  apply,
  CorruptPatchError,
  decode,
  diff,
  DTYPES,
  encode,
  hashModel,
  HashMismatchError,
  InvalidModelError,
  PulseError,
  type Model,
  type Patch,
  type TensorPatch,
} from './index';
import { setArenaLimitsForTests, type ArenaLimits } from './kernels';
import { scaledAlphabet } from './streams';
import { adamStepF32, cloneModel, encodeValue, modelsBitEqual, perturb, randomModel, tensor } from './testing';

/** Format byte of a container (after the 4-byte magic). */
const versionOf = (bytes: Uint8Array): number => bytes[4]!;

function scaledTensor(patch: Patch): Extract<TensorPatch, { kind: 'scaled' }> {
  const t = patch.tensors.find((x) => x.kind === 'scaled');
  if (t === undefined || t.kind !== 'scaled') throw new Error('fixture should have a scaled tensor');
  return t;
}

/**
 * Scaled changes in order are written by the applyScaled kernels (scaled.ts applyScaledInArena), a
 * chunk of the tensor at a time; with no arena at all every tensor takes ScaledWriter.
 */
const APPLY_PATHS = ['WebAssembly', 'JS'] as const;

/** Limits to put back after a test that ran on the JS path. */
let arenaLimits: ArenaLimits | null = null;

function useApplyPath(path: (typeof APPLY_PATHS)[number]): void {
  if (path === 'JS') arenaLimits ??= setArenaLimitsForTests({ max: 0 });
}

describe('PULSE scaled deltas', () => {
  let margin: number | null = null;
  afterEach(() => {
    if (margin !== null) setScaledMarginForTests(margin);
    margin = null;
    if (arenaLimits !== null) setArenaLimitsForTests(arenaLimits);
    arenaLimits = null;
  });

  it('PULSE10: Adam-like f32 steps are coded relative to the old exponent, smaller than plain ulp deltas, and exact', async () => {
    const base = randomModel(31, 'f32', 128, 128);
    const next = adamStepF32(base, 32, 0.05);
    const patch = await diff(base, next);
    expect(patch.tensors[0]!.kind).toBe('scaled');
    const bytes = encode(patch);
    expect(modelsBitEqual(await apply(base, decode(bytes)), next)).toBe(true);

    margin = setScaledMarginForTests(Infinity);
    const plain = encode(await diff(base, next));
    expect(decode(plain).tensors[0]!.kind).toBe('ulp');
    // The old exponent predicts the delta's octave: ~2 bits of ~25 saved per change.
    expect(bytes.length).toBeLessThan(plain.length * 0.95);
  });

  it('PULSE10: ±1-ulp nudges stay plain ulp deltas, where the old exponent tells nothing', async () => {
    const base = randomModel(33, 'f32', 128, 128);
    const patch = await diff(base, perturb(base, 34, 0.05));
    expect(patch.tensors[0]!.kind).toBe('ulp');
  });

  it('PULSE12: a patch without scaled tensors is written as format 2, one with them as format 3; format 2 may not hold them', async () => {
    const base = randomModel(35, 'f32', 128, 128);
    const ulpOnly = encode(await diff(base, perturb(base, 36, 0.05)));
    expect(versionOf(ulpOnly)).toBe(2);
    const scaled = encode(await diff(base, adamStepF32(base, 37, 0.05)));
    expect(versionOf(scaled)).toBe(3);
    const downgraded = scaled.slice();
    downgraded[4] = 2;
    expect(() => decode(downgraded)).toThrow(CorruptPatchError);
  });

  it.each([
    ['WebAssembly kernels', Infinity],
    ['JS codec', 0],
  ])('PULSE3: the %s write and read scaled tensors of every dtype, edge values included', async (_, maxArena) => {
    const previous = setArenaLimitsForTests({ max: maxArena });
    margin = setScaledMarginForTests(-Infinity);
    try {
      for (const dtype of ['bf16', 'f16', 'f32'] as const) {
        const base = randomModel(38, dtype, 24, 24);
        const data = base.tensors[0]!.data;
        // Zeros, subnormals, infinities, NaN and the largest finite values as old values.
        const edges =
          dtype === 'f32'
            ? [0, 1, 0x80000000, 0x7f800000, 0x7fc00001, 0x7f7fffff]
            : [0, 1, 0x8000, dtype === 'bf16' ? 0x7f80 : 0x7c00, 0x7fff, 0x7bff];
        edges.forEach((v, i) => (data[i * 7] = v));
        const next = perturb(base, 39, 0.3);
        const patch = await diff(base, next);
        expect(patch.tensors.some((t) => t.kind === 'scaled')).toBe(true);
        const bytes = encode(patch);
        expect(Buffer.from(encode(decode(bytes))).equals(Buffer.from(bytes))).toBe(true);
        expect(modelsBitEqual(await apply(base, decode(bytes)), next)).toBe(true);
      }
    } finally {
      setArenaLimitsForTests(previous);
    }
  });

  it.each(APPLY_PATHS)(
    'PULSE15: a tensor the arena patches in several chunks names the same failing change as the JS loop (%s apply)',
    async (path) => {
      useApplyPath(path);
      // 1 MiB and 256 values more: the arena writes its changes in two chunks (arena-patch.ts ARENA_CHUNK_BYTES).
      const base: Model = { tensors: [tensor('w', 'f32', [1025, 256], (i) => encodeValue('f32', Math.sin(i) * 0.02))] };
      const next = adamStepF32(base, 42, 0.01);
      const patch = decode(encode(await diff(base, next)));
      expect(modelsBitEqual(await apply(base, patch), next)).toBe(true);
      const t = scaledTensor(patch);
      // Symbol 0 names a bucket below 0 for any old value of exponent > 0: the first change of the second chunk, then the last change.
      for (const i of [t.positions.findIndex((p) => p >= 1 << 18), t.positions.length - 1]) {
        expect(i).toBeGreaterThan(0);
        const broken = decode(encode(patch));
        scaledTensor(broken).symbols[i] = 0;
        await expect(apply(base, broken)).rejects.toThrow(`tensor w: change ${i} does not fit its base value`);
      }
    },
  );

  it.each(APPLY_PATHS)(
    'PULSE15 PULSE7: scaled symbols that do not fit the base, or raw bits that do not end with the changes, are typed errors and leave the base untouched (%s apply)',
    async (path) => {
      useApplyPath(path);
      const base = randomModel(40, 'f32', 64, 64);
      const next = adamStepF32(base, 41, 0.1);
      const patch = await diff(base, next);
      const t = scaledTensor(patch);
      const before = cloneModel(base);
      const withTensor = (x: TensorPatch): Patch => ({
        ...patch,
        tensors: patch.tensors.map((y) => (y.name === x.name ? x : y)),
      });

      // Symbols shifted by whole octaves of exponent name buckets outside [0, BUCKET_SYMBOLS) for some old values.
      const shifted = withTensor({
        ...t,
        symbols: t.symbols.map((s) => Math.min(scaledAlphabet('f32') - 1, s + 2 * 4 * 200)),
      });
      await expect(apply(base, decode(encode(shifted)))).rejects.toBeInstanceOf(CorruptPatchError);
      // Symbols one bucket off decode to other values: caught by the result hash.
      const nudged = withTensor({ ...t, symbols: t.symbols.map((s) => s ^ 2) });
      await expect(apply(base, decode(encode(nudged)))).rejects.toBeInstanceOf(PulseError);
      const short = withTensor({ ...t, low: t.low.subarray(0, t.low.length - 2) });
      await expect(apply(base, decode(encode(short)))).rejects.toBeInstanceOf(CorruptPatchError);
      await expect(apply(base, decode(encode(short)))).rejects.toThrow(/raw-bit stream is truncated/);
      const long = withTensor({ ...t, low: new Uint8Array([...t.low, 0x80]) });
      await expect(apply(base, decode(encode(long)))).rejects.toBeInstanceOf(CorruptPatchError);
      const flippedLow = withTensor({ ...t, low: t.low.map((b, i) => (i === 0 ? b ^ 0x40 : b)) });
      await expect(apply(base, decode(encode(flippedLow)))).rejects.toBeInstanceOf(HashMismatchError);
      // A decoded patch whose position column is then changed in place to point past the tensor (the second
      // one, times 4 bytes, lies past the kernel's whole memory).
      for (const position of [64 * 64, 0x20000000]) {
        const pastEnd = decode(encode(patch));
        scaledTensor(pastEnd).positions[0] = position;
        await expect(apply(base, pastEnd)).rejects.toBeInstanceOf(PulseError);
      }
      expect(modelsBitEqual(base, before)).toBe(true);
    },
  );

  it.each(APPLY_PATHS)(
    'PULSE15: a scaled symbol one bucket below 0 or at BUCKET_SYMBOLS for its old value does not fit it (%s apply)',
    async (path) => {
      useApplyPath(path);
      // One change to a tensor holding 1.0 (biased exponent 127): symbol 2 · (b + 127 · 2^M) names bucket b.
      const base: Model = {
        tensors: [{ name: 'w', dtype: 'f32', shape: [2], data: allocData('f32', 2).fill(0x3f800000) }],
      };
      const baseHash = await hashModel(base);
      const patchFor = (b: number): Patch => ({
        baseHash,
        resultHash: baseHash,
        tensors: [
          {
            name: 'w',
            dtype: 'f32',
            shape: [2],
            kind: 'scaled',
            positions: Uint32Array.of(0),
            symbols: Uint16Array.of(2 * (b + (127 << BUCKET_MANTISSA_BITS))),
            low: new Uint8Array(8),
          },
        ],
      });
      const before = cloneModel(base);
      for (const b of [-1, BUCKETS.extra.length]) {
        await expect(apply(base, decode(encode(patchFor(b))))).rejects.toThrow(/change 0 does not fit its base value/);
      }
      // The buckets at either end do fit; the patch then fails a later check (raw bits left over, or the result hash).
      for (const b of [0, BUCKETS.extra.length - 1])
        await expect(apply(base, decode(encode(patchFor(b))))).rejects.not.toThrow(/does not fit/);
      expect(modelsBitEqual(base, before)).toBe(true);
    },
  );

  it.each(
    APPLY_PATHS.flatMap((path) =>
      [
        ['f32', 0x3f800000, 0x7fffffff],
        ['bf16', 0x3f80, 0x7fff],
        ['f16', 0x3c00, 0x7fff],
      ].map(
        ([dtype, one, magMask]) => [dtype as 'f32' | 'bf16' | 'f16', one as number, magMask as number, path] as const,
      ),
    ),
  )(
    'PULSE15: a %s scaled delta of exactly −half ulps applies; one past it is CorruptPatchError, base untouched (%s, %s, %s apply)',
    async (dtype, one, magMask, path) => {
      useApplyPath(path);
      // One change at position 0 of a tensor holding 1.0 (biased exponent 127 or 15), sign kept (flip 0):
      // the coded value v is the zig-zagged delta − 1, so v = magMask − 1 means −half ulps and v = magMask one more.
      // (Magnitudes wrap: 1.0 − half ulps is the all-ones exponent. The encoder never makes such a change; decode takes it.)
      const exponent = one >>> (DTYPES[dtype].width - 1 - DTYPES[dtype].exponentBits);
      const base: Model = { tensors: [{ name: 'w', dtype, shape: [2], data: allocData(dtype, 2).fill(one) }] };
      const patchFor = async (v: number, next: Model): Promise<Patch> => {
        const b = bucketOf(v);
        const raw = new BitWriter();
        raw.write(v - BUCKETS.base[b]!, BUCKETS.extra[b]!);
        const symbol = 2 * (b + (exponent << BUCKET_MANTISSA_BITS));
        const t: TensorPatch = {
          name: 'w',
          dtype,
          shape: [2],
          kind: 'scaled',
          positions: Uint32Array.of(0),
          symbols: Uint16Array.of(symbol),
          low: raw.finish().slice(),
        };
        return { baseHash: await hashModel(base), resultHash: await hashModel(next), tensors: [t] };
      };
      const half = (magMask + 1) / 2;
      const next: Model = {
        tensors: [
          { ...base.tensors[0]!, data: base.tensors[0]!.data.map((x, i) => (i === 0 ? (one - half) & magMask : x)) },
        ],
      };
      expect(modelsBitEqual(await apply(base, decode(encode(await patchFor(magMask - 1, next)))), next)).toBe(true);
      const before = cloneModel(base);
      await expect(apply(base, decode(encode(await patchFor(magMask, next))))).rejects.toThrow(
        /ulp delta out of range/,
      );
      await expect(apply(base, decode(encode(await patchFor(magMask, next))))).rejects.toBeInstanceOf(
        CorruptPatchError,
      );
      expect(modelsBitEqual(base, before)).toBe(true);
    },
  );

  it('PULSE3: encode refuses scaled symbols outside the alphabet and ragged arrays', async () => {
    const base: Model = randomModel(42, 'f32', 64, 64);
    const patch = await diff(base, adamStepF32(base, 43, 0.1));
    const t = scaledTensor(patch);
    const bad = { ...t, symbols: t.symbols.map((s, i) => (i === 3 ? scaledAlphabet('f32') : s)) };
    expect(() => encode({ ...patch, tensors: [bad] })).toThrow(InvalidModelError);
    const ragged = { ...t, symbols: t.symbols.subarray(1) };
    expect(() => encode({ ...patch, tensors: [ragged] })).toThrow(InvalidModelError);
  });
});
