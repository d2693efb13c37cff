import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adapterClassKey, DEFAULT_TOLERANCES, toleranceFor } from './adapterClass';
import { compareOutputs, compareTensors, describeDisagreement } from './compare';
import { seededRandom } from './random';
import type { ResultTensor } from './tensor';
import { BACKEND_VARIANTS, CORRUPTIONS, corrupt, makeMlp, mlpForward, randomMatrix } from './testing/backends';

const f32 = (values: number[], dims = [values.length]): ResultTensor => ({
  dtype: 'float32',
  dims,
  data: Float32Array.from(values),
});
const { sameClass, crossClass } = DEFAULT_TOLERANCES;

describe('result comparison', () => {
  it('TRUST-C1: same adapter class gets the tight tolerance, other classes the looser one', () => {
    const nvidia = adapterClassKey({ backend: 'webgpu', vendor: 'NVIDIA', architecture: 'ampere' });
    expect(nvidia).toBe('webgpu/nvidia/ampere/f32');
    expect(toleranceFor(nvidia, nvidia)).toEqual(sameClass);
    expect(toleranceFor(nvidia, adapterClassKey({ backend: 'wasm' }))).toEqual(crossClass);
    expect(
      toleranceFor(
        nvidia,
        adapterClassKey({ backend: 'webgpu', vendor: 'nvidia', architecture: 'ampere', precision: 'f16' }),
      ),
    ).toEqual(DEFAULT_TOLERANCES.halfPrecision);
    // a relative gap of 1e-5 is fine across classes, not within one
    const a = f32([1, 2, 3]);
    const b = f32([1, 2, 3 * (1 + 1e-5)]);
    expect(compareTensors(a, b, sameClass).agree).toBe(false);
    expect(compareTensors(a, b, crossClass).agree).toBe(true);
  });

  it('TRUST-C2: honest results from every pair of simulated backends agree (property)', () => {
    const mlp = makeMlp(seededRandom(7), [16, 32, 8]);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        (seed, scale) => {
          const x = randomMatrix(seededRandom(seed), 4 * 16, scale);
          const outs = BACKEND_VARIANTS.map((v) => ({ v, t: f32([...mlpForward(mlp, x, 4, v)], [4, 8]) }));
          for (const a of outs)
            for (const b of outs) {
              const c = compareTensors(a.t, b.t, toleranceFor(a.v.adapterClass, b.v.adapterClass));
              if (!c.agree) return false;
            }
          return true;
        },
      ),
      { numRuns: 60, seed: 42 },
    );
  });

  it('TRUST-C2: every adversarial corruption of a result disagrees even at the cross-class tolerance', () => {
    const rng = seededRandom(3);
    const mlp = makeMlp(rng, [16, 32, 8]);
    for (let u = 0; u < 50; u++) {
      const honest = mlpForward(mlp, randomMatrix(rng, 64), 4, BACKEND_VARIANTS[0]!);
      const other = mlpForward(mlp, randomMatrix(rng, 64), 4, BACKEND_VARIANTS[0]!);
      for (const how of CORRUPTIONS) {
        const wrong = corrupt(honest, how, { rng, otherUnit: other, previousOwn: other });
        expect(compareTensors(f32([...honest]), f32([...wrong]), crossClass).agree, how).toBe(false);
      }
    }
  });

  it('TRUST-C3: NaN matches NaN, infinities match only themselves, finite vs non-finite disagrees', () => {
    expect(compareTensors(f32([NaN, 1]), f32([NaN, 1]), sameClass).agree).toBe(true);
    expect(compareTensors(f32([Infinity, -Infinity]), f32([Infinity, -Infinity]), sameClass).agree).toBe(true);
    expect(compareTensors(f32([Infinity]), f32([-Infinity]), crossClass).agree).toBe(false);
    expect(compareTensors(f32([NaN, 1]), f32([0, 1]), crossClass)).toMatchObject({
      agree: false,
      reason: { kind: 'non-finite', index: 0 },
    });
    expect(compareTensors(f32([3e38, 1]), f32([Infinity, 1]), crossClass).agree).toBe(false);
  });

  it('TRUST-C4: dtype, shape and output-count mismatches are disagreements; integers compare exactly', () => {
    const i32 = (v: number[]): ResultTensor => ({ dtype: 'int32', dims: [v.length], data: Int32Array.from(v) });
    expect(compareTensors(f32([1, 2]), i32([1, 2]), crossClass)).toMatchObject({
      agree: false,
      reason: { kind: 'dtype' },
    });
    expect(compareTensors(f32([1, 2, 3, 4], [2, 2]), f32([1, 2, 3, 4], [4, 1]), crossClass)).toMatchObject({
      agree: false,
      reason: { kind: 'shape' },
    });
    expect(compareTensors(f32([1, 2, 3]), f32([1, 2]), crossClass)).toMatchObject({
      agree: false,
      reason: { kind: 'shape' },
    });
    expect(compareOutputs([f32([1])], [f32([1]), f32([2])], crossClass)).toMatchObject({
      agree: false,
      reason: { kind: 'output-count' },
    });
    expect(compareTensors(i32([1, 2]), i32([1, 2]), crossClass).agree).toBe(true);
    expect(compareTensors(i32([1, 2]), i32([1, 3]), crossClass).agree).toBe(false);
    const big = (v: bigint[]): ResultTensor => ({ dtype: 'int64', dims: [v.length], data: BigInt64Array.from(v) });
    expect(compareTensors(big([1n, 2n ** 60n]), big([1n, 2n ** 60n + 1n]), crossClass).agree).toBe(false);
    const c = compareOutputs([f32([1]), f32([5])], [f32([1]), f32([6])], crossClass);
    expect(c.agree).toBe(false);
    if (!c.agree) expect(describeDisagreement(c.reason)).toContain('output 1[0]');
  });

  it("TRUST-C5: the tolerance scale is the smaller tensor's, so inflating values does not loosen it", () => {
    const honest = f32([1, 1e-3]);
    const inflated = f32([1e6, 1e-3 + 1e-2]); // the 1e-2 error would hide under 1e-5·1e6
    expect(compareTensors(honest, inflated, crossClass).agree).toBe(false);
    // and a near-zero output that cancelled is judged against the tensor's scale, not its own size
    expect(compareTensors(f32([100, 1e-7]), f32([100, 2e-7]), crossClass).agree).toBe(true);
  });
});
