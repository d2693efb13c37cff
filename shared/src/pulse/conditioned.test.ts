import { afterEach, describe, expect, it } from 'vitest';
import {
  apply,
  CorruptPatchError,
  decode,
  diff,
  encode,
  findChangesCpu,
  InvalidModelError,
  PulseError,
  WrongBaseError,
  type Model,
  type Patch,
  type TensorPatch,
} from './index';
import { setConditionedMarginForTests } from './diff';
import { usesRuns } from './payload';
import { FORMAT_VERSION } from './constants';
import {
  bitsToF32,
  cloneModel,
  encodeValue,
  gaussian,
  modelsBitEqual,
  perturb,
  randomModel,
  seededRandom,
  tensor,
} from './testing';
import type { DType } from './types';

/**
 * bf16 (or f16/f32) policies rounded from f32 masters before and after an
 * Adam-like step of about `lr` in value space: where a value changes depends
 * on its exponent, as in bench:rl grail-regime.
 */
function roundedStep(
  seed: number,
  dtype: DType,
  rows: number,
  cols: number,
  lr: number,
  fraction = 1,
): { base: Model; next: Model } {
  const rand = seededRandom(seed);
  const n = rows * cols;
  const master = Float64Array.from({ length: n }, () => gaussian(rand) * 0.02);
  const moved = master.map((w) => (rand() < fraction ? w - lr * Math.tanh(2 * gaussian(rand)) : w));
  return {
    base: { tensors: [tensor('w', dtype, [rows, cols], (i) => encodeValue(dtype, master[i]!))] },
    next: { tensors: [tensor('w', dtype, [rows, cols], (i) => encodeValue(dtype, moved[i]!))] },
  };
}

function conditionedOf(p: Patch): Extract<TensorPatch, { kind: 'conditioned' }> {
  const t = p.tensors.find((x) => x.kind === 'conditioned');
  if (t === undefined || t.kind !== 'conditioned') throw new Error('fixture should have a conditioned tensor');
  return t;
}

function withCoded(p: Patch, coded: Uint8Array, changes?: number): Patch {
  return {
    ...p,
    tensors: p.tensors.map((t) => (t.kind === 'conditioned' ? { ...t, coded, changes: changes ?? t.changes } : t)),
  };
}

const CONDITIONED = { conditioned: true } as const;

let restore: number | null = null;
function forceConditioned(): void {
  restore ??= setConditionedMarginForTests(-Infinity);
}
afterEach(() => {
  if (restore !== null) setConditionedMarginForTests(restore);
  restore = null;
});

describe('PULSE conditioned kind', () => {
  it('PULSE19: diff picks conditioned for small steps on bf16, smaller than the streamed kinds, and it round-trips', async () => {
    const { base, next } = roundedStep(1, 'bf16', 256, 256, 2e-5);
    const patch = await diff(base, next, CONDITIONED);
    const bytes = encode(patch);
    expect(conditionedOf(patch).changes).toBeGreaterThan(0);
    expect(bytes[4]).toBe(FORMAT_VERSION);
    const streamed = encode(
      await (async () => {
        const previous = setConditionedMarginForTests(Infinity);
        try {
          return await diff(base, next, CONDITIONED);
        } finally {
          setConditionedMarginForTests(previous);
        }
      })(),
    );
    expect(streamed[4]).toBeLessThan(4);
    expect(bytes.length).toBeLessThan(0.97 * streamed.length);
    const before = cloneModel(base);
    expect(modelsBitEqual(await apply(base, decode(bytes)), next)).toBe(true);
    expect(modelsBitEqual(base, before)).toBe(true);
  });

  it('PULSE19: a large step whose changes the streamed kinds would run-code is conditioned where that is smaller', async () => {
    // An optimiser's first steps move most weights (bench:rl's tiny preset: 77% of bf16 values in GRPO's first step,
    // ~55% even by step 5): runs of changes average over 2, so the streamed kinds code positions as runs.
    const { base, next } = roundedStep(12, 'bf16', 256, 256, 1.5e-4);
    const patch = await diff(base, next, CONDITIONED);
    const streamedPatch = await (async () => {
      const previous = setConditionedMarginForTests(Infinity);
      try {
        return await diff(base, next, CONDITIONED);
      } finally {
        setConditionedMarginForTests(previous);
      }
    })();
    const positions = (streamedPatch.tensors[0] as Extract<TensorPatch, { positions: Uint32Array }>).positions;
    expect(usesRuns(positions)).toBe(true);
    const [bytes, streamed] = [encode(patch), encode(streamedPatch)];
    expect(conditionedOf(patch).changes).toBe(positions.length);
    expect(bytes.length).toBeLessThan(0.8 * streamed.length);
    expect(modelsBitEqual(await apply(base, decode(bytes)), next)).toBe(true);
  });

  it('PULSE19: diff without the option writes what format 3 wrote; the pluggable finder (PULSE18) gives the same bytes', async () => {
    const { base, next } = roundedStep(11, 'bf16', 128, 128, 2e-5);
    const plain = encode(await diff(base, next));
    expect(plain[4]).toBeLessThan(4);
    const withFinder = encode(await diff(base, next, { ...CONDITIONED, findChanges: findChangesCpu }));
    expect(Array.from(withFinder)).toEqual(Array.from(encode(await diff(base, next, CONDITIONED))));
    expect(withFinder[4]).toBe(4);
  });

  it('PULSE19: random nudges (positions that do not depend on the base) keep the streamed kinds and format ≤ 3', async () => {
    const base = randomModel(2, 'bf16', 128, 128);
    const bytes = encode(await diff(base, perturb(base, 3, 0.03), CONDITIONED));
    expect(bytes[4]).toBeLessThan(4);
    expect(decode(bytes).tensors.some((t) => t.kind === 'conditioned')).toBe(false);
  });

  it('PULSE19 PULSE2: forced wherever it can go, conditioned round-trips any dtype, step and bit pattern exactly', async () => {
    forceConditioned();
    const rand = seededRandom(4);
    const specials: Record<DType, number[]> = {
      bf16: [0x0000, 0x8000, 0x7fc0, 0x7fc1, 0x7f80, 0xff80, 0x0001, 0x8001, 0x7f7f],
      f16: [0x0000, 0x8000, 0x7e00, 0x7e01, 0x7c00, 0xfc00, 0x0001, 0x8001, 0x7bff],
      f32: [0, 0x80000000, 0x7fc00000, 0x7fc00001, 0x7f800000, 0xff800000, 1, 0x80000001, 0x7f7fffff],
    };
    const reached: Record<DType, number> = { bf16: 0, f16: 0, f32: 0 };
    for (let iter = 0; iter < 60; iter++) {
      const dtype = (['bf16', 'f16', 'f32'] as const)[iter % 3]!;
      const rows = 1 + Math.floor(rand() * 40);
      const cols = 1 + Math.floor(rand() * 40);
      // Steps from far below an ulp (few changes) to several ulps (most values move) of a typical weight.
      const lr = { bf16: 1e-5, f16: 1e-6, f32: 1e-4 }[dtype] * [0.01, 0.1, 0.3, 1, 10][iter % 5]!;
      const { base, next } = roundedStep(100 + iter, dtype, rows, cols, lr, dtype === 'f32' ? 0.05 : 1);
      const b = base.tensors[0]!.data;
      const x = next.tensors[0]!.data;
      // Special values in the base and the next, sign flips, and a few far jumps.
      for (let k = 0; k < 4; k++) {
        const i = Math.floor(rand() * b.length);
        b[i] = specials[dtype][Math.floor(rand() * 9)]!;
        x[Math.floor(rand() * x.length)] = specials[dtype][Math.floor(rand() * 9)]!;
      }
      if (iter % 4 === 0) x[0] = encodeValue(dtype, -bitsToF32(dtype === 'f32' ? b[0]! : 0) - 0.5);
      const patch = await diff(base, next, CONDITIONED);
      const decoded = decode(encode(patch));
      const expectConditioned = patch.tensors.some((t) => t.kind === 'conditioned');
      if (expectConditioned) expect(decoded.tensors[0]!.kind).toBe('conditioned');
      if (expectConditioned) reached[dtype]++;
      expect(modelsBitEqual(await apply(base, decoded), next)).toBe(true);
    }
    // Every dtype reaches the kind at several step sizes (the largest steps re-draw whole tensors: runs or raw).
    expect(Object.values(reached).every((r) => r >= 8)).toBe(true);
  });

  it('PULSE19 PULSE15: mutated, truncated and miscounted coded bytes end in a PulseError, structural damage in CorruptPatchError, base untouched', async () => {
    forceConditioned();
    const { base, next } = roundedStep(5, 'bf16', 32, 48, 2e-5);
    const patch = await diff(base, next, CONDITIONED);
    const t = conditionedOf(patch);
    const before = cloneModel(base);
    for (const cut of [0, 1, 3, t.coded.length >> 1, t.coded.length - 1]) {
      await expect(apply(base, withCoded(patch, t.coded.slice(0, cut)))).rejects.toThrow(CorruptPatchError);
    }
    const longer = new Uint8Array(t.coded.length + 1);
    longer.set(t.coded);
    await expect(apply(base, withCoded(patch, longer))).rejects.toThrow(CorruptPatchError);
    await expect(apply(base, withCoded(patch, t.coded, t.changes + 1))).rejects.toThrow(CorruptPatchError);
    await expect(apply(base, withCoded(patch, t.coded, t.changes - 1))).rejects.toThrow(CorruptPatchError);
    const rand = seededRandom(6);
    for (let k = 0; k < 2000; k++) {
      const coded = t.coded.slice();
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) coded[Math.floor(rand() * coded.length)]! ^= 1 << Math.floor(rand() * 8);
      // Through the container too: the bytes as a peer would send them.
      const bytes = encode(withCoded(patch, coded));
      try {
        const out = await apply(base, decode(bytes));
        expect(modelsBitEqual(out, next)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(PulseError);
      }
    }
    // And the whole container: header, lengths and body mutated or cut.
    const whole = encode(patch);
    for (let k = 0; k < 2000; k++) {
      const bytes = k % 4 === 0 ? whole.slice(0, Math.floor(rand() * whole.length)) : whole.slice();
      if (k % 4 !== 0) bytes[Math.floor(rand() * bytes.length)]! ^= 1 << Math.floor(rand() * 8);
      try {
        expect(modelsBitEqual(await apply(base, decode(bytes)), next)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(PulseError);
      }
    }
    expect(modelsBitEqual(base, before)).toBe(true);
  });

  it('PULSE19 PULSE5: a conditioned patch applied to another base, or to one whose tensor has another shape, is WrongBaseError', async () => {
    forceConditioned();
    const { base, next } = roundedStep(7, 'bf16', 24, 24, 2e-5);
    const patch = decode(encode(await diff(base, next, CONDITIONED)));
    conditionedOf(patch);
    await expect(apply(perturb(base, 8, 0.01), patch)).rejects.toThrow(WrongBaseError);
    const reshaped: Model = { tensors: [{ ...base.tensors[0]!, shape: [12, 48] }] };
    await expect(apply(reshaped, patch, { baseHash: patch.baseHash! })).rejects.toThrow(WrongBaseError);
  });

  it('PULSE19 PULSE12: a reader of format 3 refuses the version; a conditioned kind in a version-3 header is corrupt', async () => {
    forceConditioned();
    const { base, next } = roundedStep(9, 'f16', 16, 16, 2e-6);
    const bytes = encode(await diff(base, next, CONDITIONED));
    expect(bytes[4]).toBe(4);
    const old = bytes.slice();
    old[4] = 3;
    expect(() => decode(old)).toThrow(CorruptPatchError);
  });

  it('PULSE19: encode refuses a hand-made conditioned tensor with more changes than elements or no byte string', async () => {
    forceConditioned();
    const { base, next } = roundedStep(10, 'bf16', 8, 8, 2e-5);
    const patch = await diff(base, next, CONDITIONED);
    const t = conditionedOf(patch);
    expect(() => encode(withCoded(patch, t.coded, 65))).toThrow(InvalidModelError);
    expect(() => encode(withCoded(patch, [1, 2] as unknown as Uint8Array))).toThrow(InvalidModelError);
  });
});
