import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, decode, diff, encode, PulseError, snapshot, type DecodeLimits, type Model, type Patch } from './index';
import { setScaledMarginForTests } from './diff';
import { setArenaLimitsForTests } from './kernels';
import { cloneModel, modelsBitEqual, perturb, randomModel, seededRandom } from './testing';

/** Small limits, so "never allocates beyond the declared limits" can be checked on every decoded patch. */
const LIMITS: DecodeLimits = {
  maxPatchBytes: 1 << 16,
  maxTensors: 8,
  maxNameBytes: 32,
  maxRank: 4,
  maxTensorElements: 1 << 12,
  maxTotalElements: 1 << 13,
  maxChanges: 1 << 13,
};

function patchElements(p: Patch): number {
  return p.tensors.reduce(
    (s, t) => s + (t.kind === 'full' ? t.data.length : t.kind === 'conditioned' ? t.changes : t.positions.length),
    0,
  );
}

const ITERATIONS = 10_000;

// Both decoders face the same hostile bytes: the WebAssembly kernels, and the JS loops that take calls too large for them.
describe.each([
  ['WebAssembly kernels', Infinity],
  ['JS codec', 0],
])('PULSE fuzz (%s)', (_, maxArena) => {
  let previous: ReturnType<typeof setArenaLimitsForTests>;
  beforeAll(() => void (previous = setArenaLimitsForTests({ max: maxArena })));
  afterAll(() => void setArenaLimitsForTests(previous));

  it(`PULSE15: ${ITERATIONS} mutated, truncated, spliced and forged patches end in a typed error or the right model, base untouched`, async () => {
    const rand = seededRandom(20261122);
    const bases: Model[] = [
      randomModel(1, 'bf16', 16, 24),
      randomModel(2, 'f32', 8, 20),
      randomModel(3, 'f16', 12, 12),
    ];
    const seeds: { base: Model; bytes: Uint8Array; next: Model }[] = [];
    for (const [i, base] of bases.entries()) {
      for (const fraction of [0.01, 0.1, 0.6]) {
        const next = perturb(base, 10 * i + Math.round(fraction * 100), fraction);
        seeds.push({ base, next, bytes: encode(await diff(base, next)) });
      }
      seeds.push({ base, next: base, bytes: encode(await snapshot(base)) });
      // The same change coded scaled (its size margin keeps these small tensors off scaled otherwise).
      const next = perturb(base, 10 * i + 5, 0.1);
      const margin = setScaledMarginForTests(-Infinity);
      try {
        seeds.push({ base, next, bytes: encode(await diff(base, next)) });
      } finally {
        setScaledMarginForTests(margin);
      }
    }
    const pristine = bases.map(cloneModel);
    const outcomes = { typedError: 0, applied: 0 };
    const int = (n: number): number => Math.floor(rand() * n);

    for (let iter = 0; iter < ITERATIONS; iter++) {
      const seed = seeds[int(seeds.length)]!;
      let bytes = seed.bytes.slice();
      const strategy = iter % 6;
      if (strategy === 0) {
        // Flip a few bits anywhere.
        for (let k = 1 + int(4); k > 0; k--) bytes[int(bytes.length)]! ^= 1 << int(8);
      } else if (strategy === 1) {
        bytes = bytes.slice(0, int(bytes.length));
      } else if (strategy === 2) {
        // Forge header bytes (magic, flags, counts, names, dims, kinds live in the first ~80 bytes).
        for (let k = 1 + int(3); k > 0; k--)
          bytes[int(Math.min(bytes.length, 80))] = [0, 0x7f, 0x80, 0xff, int(256)][int(5)]!;
      } else if (strategy === 3) {
        // Splice: head of one patch, tail of another.
        const other = seeds[int(seeds.length)]!.bytes;
        const cut = int(Math.min(bytes.length, other.length));
        bytes = new Uint8Array([...bytes.subarray(0, cut), ...other.subarray(cut)]);
      } else if (strategy === 4) {
        // Insert or delete a run of bytes.
        const at = int(bytes.length);
        const run = Array.from({ length: 1 + int(6) }, () => int(256));
        bytes =
          rand() < 0.5
            ? new Uint8Array([...bytes.subarray(0, at), ...run, ...bytes.subarray(at)])
            : new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + run.length)]);
      } else {
        // Random garbage body behind a valid header prefix.
        const keep = int(bytes.length);
        for (let i = keep; i < bytes.length; i++) bytes[i] = int(256);
      }

      let patch: Patch;
      try {
        patch = decode(bytes, LIMITS);
      } catch (e) {
        if (!(e instanceof PulseError)) throw new Error(`iteration ${iter}: decode threw ${String(e)}`);
        outcomes.typedError++;
        continue;
      }
      expect(patchElements(patch)).toBeLessThanOrEqual(LIMITS.maxTotalElements);
      try {
        const result = await apply(seed.base, patch);
        // Only a patch that still proves itself by hash may succeed, and then it must be the promised model.
        if (patch.resultHash.every((b, i) => b === decode(seed.bytes).resultHash[i]))
          expect(modelsBitEqual(result, seed.next)).toBe(true);
        outcomes.applied++;
      } catch (e) {
        if (!(e instanceof PulseError)) throw new Error(`iteration ${iter}: apply threw ${String(e)}`);
        outcomes.typedError++;
      }
    }
    bases.forEach((b, i) => expect(modelsBitEqual(b, pristine[i]!)).toBe(true));
    expect(outcomes.typedError + outcomes.applied).toBe(ITERATIONS);
    expect(outcomes.typedError).toBeGreaterThan(ITERATIONS * 0.9);
  });
});
