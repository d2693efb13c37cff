import { describe, expect, it } from 'vitest';
import { encodeValue, gaussian, seededRandom } from '@shared/pulse/testing';
import { DTYPES, type DType, type Model } from '@shared/pulse';
import { cellOf, outcomeProbability, sourceBoundBytes, valueOf, type StepModel } from './source';
import { boundBytes, ordered, unordered } from './bound';

/** Bit patterns k cells above (k > 0) or below `bits` in value order. */
function neighbour(dtype: DType, bits: number, k: number): number {
  const width = DTYPES[dtype].width;
  return unordered(ordered(bits, width) + k, width);
}

/** Draws the generator's outcome for base b: w in b's cell (f32: w = b), step with probability stepFraction, round. */
function draw(dtype: DType, b: number, step: StepModel, rand: () => number): number {
  const [lo, hi] = cellOf(dtype, b);
  const w = dtype === 'f32' ? valueOf(dtype, b) : lo + (hi - lo) * rand();
  if (rand() >= step.stepFraction) return b;
  return encodeValue(dtype, w - step.lr * (Math.tanh(2 * gaussian(rand)) + step.weightDecay * valueOf(dtype, b)));
}

const CASES: [DType, number, StepModel][] = [
  ['bf16', encodeValue('bf16', 0.013), { lr: 2e-5, weightDecay: 0.1, stepFraction: 1 }],
  ['bf16', encodeValue('bf16', -0.0004), { lr: 2e-5, weightDecay: 0.1, stepFraction: 1 }], // cell narrower than the step: moves of several ulps
  ['bf16', encodeValue('bf16', 1), { lr: 1e-3, weightDecay: 0.1, stepFraction: 1 }], // a power of two: the cell below is half as wide
  ['f16', encodeValue('f16', 3e-6), { lr: 1e-6, weightDecay: 0.1, stepFraction: 1 }], // subnormal
  ['f32', encodeValue('f32', 0.021), { lr: 1e-8, weightDecay: 0.1, stepFraction: 0.3 }],
];

describe('bench:pulse source bound', () => {
  it.each(CASES)('P(next | base) of a %s value sums to 1 over every outcome', (dtype, b, step) => {
    let total = 0;
    for (let k = -300; k <= 300; k++) total += outcomeProbability(dtype, b, neighbour(dtype, b, k), step);
    expect(total).toBeCloseTo(1, 5);
  });

  it.each(CASES)(
    'P(next | base) of a %s value matches the frequencies of draws from the generator',
    (dtype, b, step) => {
      const rand = seededRandom(7);
      const draws = 200_000;
      const counts = new Map<number, number>();
      for (let i = 0; i < draws; i++) {
        const v = draw(dtype, b, step, rand);
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      for (const [v, count] of counts) {
        const p = outcomeProbability(dtype, b, v, step);
        const sd = Math.sqrt(draws * p * (1 - p));
        // Within 5 standard deviations (plus 1 count) of the expected count, for every outcome seen.
        expect(Math.abs(count - draws * p)).toBeLessThanOrEqual(5 * sd + 1);
      }
    },
  );

  it('sums −log2 P(next | base) over every position (its shortcut for values that stay put included)', () => {
    const rand = seededRandom(5);
    const n = 4096;
    const base = Uint16Array.from({ length: n }, () =>
      encodeValue('bf16', 0.02 * gaussian(rand) + (rand() < 0.1 ? 1 : 0)),
    );
    const step: StepModel = { lr: 3e-5, weightDecay: 0.1, stepFraction: 0.5 };
    const next = base.map((b) => draw('bf16', b, step, rand));
    let bits = 0;
    for (let i = 0; i < n; i++) bits -= Math.log2(outcomeProbability('bf16', base[i]!, next[i]!, step));
    const model = (data: Uint16Array): Model => ({ tensors: [{ name: 'w', dtype: 'bf16', shape: [n], data }] });
    expect(Math.abs(sourceBoundBytes(model(base), model(next), step) - bits / 8)).toBeLessThan(1);
  });

  it('is no larger than the plug-in bound for bf16 Adam steps (positions depend on the base), and larger for f32 deltas that are mostly unique', () => {
    const rand = seededRandom(3);
    const n = 1 << 15;
    const master = Float32Array.from({ length: n }, () => 0.02 * gaussian(rand));
    const u = Float32Array.from({ length: n }, () => Math.tanh(2 * gaussian(rand)));
    const model = (dtype: DType, lr: number, stepped: (i: number) => boolean): [Model, Model, StepModel] => {
      const publish = (x: (i: number) => number): Model => {
        const bits = Array.from({ length: n }, (_, i) => encodeValue(dtype, x(i)));
        return {
          tensors: [
            { name: 'w', dtype, shape: [n], data: dtype === 'f32' ? Uint32Array.from(bits) : Uint16Array.from(bits) },
          ],
        };
      };
      const next = publish((i) => (stepped(i) ? master[i]! - lr * (u[i]! + 0.1 * master[i]!) : master[i]!));
      return [publish((i) => master[i]!), next, { lr, weightDecay: 0.1, stepFraction: 1 }];
    };
    const [b16, n16, s16] = model('bf16', 1e-6, () => true);
    expect(sourceBoundBytes(b16, n16, s16)).toBeLessThan(boundBytes(b16, n16));
    const chosen = Uint8Array.from({ length: n }, () => (rand() < 0.01 ? 1 : 0));
    const [b32, n32, s32] = model('f32', 1e-4, (i) => chosen[i] === 1);
    expect(sourceBoundBytes(b32, n32, { ...s32, stepFraction: 0.01 })).toBeGreaterThan(boundBytes(b32, n32));
  });
});
