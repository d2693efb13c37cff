import { describe, expect, it } from 'vitest';
import { seededRandom } from '@shared/pulse/testing';
import type { Model } from '@shared/pulse';
import { boundBytes, conditionalBoundBytes, coverageEntropyBits, entropyBits } from './bound';

function histogram(values: number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/** n draws of round(2^scale · |t|) with t ~ tanh(2g): a wide, smooth distribution like f32 ulp deltas. */
function wideSample(n: number, seed: number, scale = 16): number[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const g = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
    return Math.round(2 ** scale * Math.abs(Math.tanh(2 * g)));
  });
}

describe('bench:pulse entropy bound', () => {
  it('the coverage-adjusted estimate equals the plug-in one when values repeat (±1, ±2 ulp deltas)', () => {
    const rand = seededRandom(1);
    const values = Array.from({ length: 50_000 }, () => [1, -1, 2, -2, 3][Math.floor(rand() ** 2 * 5)]!);
    const counts = histogram(values);
    expect(coverageEntropyBits(counts, values.length)).toBeCloseTo(entropyBits(counts, values.length), 0);
  });

  it('on mostly unique values the plug-in estimate depends on the sample size and the coverage-adjusted one does not', () => {
    const perValue = (n: number, estimate: typeof entropyBits): number => {
      const values = wideSample(n, n);
      return estimate(histogram(values), n) / n;
    };
    const [smallPlugIn, largePlugIn] = [perValue(1 << 12, entropyBits), perValue(1 << 17, entropyBits)];
    const [smallCoverage, largeCoverage] = [
      perValue(1 << 12, coverageEntropyBits),
      perValue(1 << 17, coverageEntropyBits),
    ];
    // The plug-in estimate is capped by log2 n: 12 bits a value here, where 2^17 draws show ~15.
    expect(smallPlugIn).toBeLessThanOrEqual(12);
    expect(largePlugIn - smallPlugIn).toBeGreaterThan(2);
    expect(Math.abs(smallCoverage - largeCoverage)).toBeLessThan(0.1 * largeCoverage);
  });
});

describe('bench:pulse conditional bound', () => {
  const model = (data: Uint16Array): Model => ({ tensors: [{ name: 't', dtype: 'bf16', shape: [data.length], data }] });

  it('equals the order-0 bound when every old value has the same exponent', () => {
    const rand = seededRandom(2);
    const base = Uint16Array.from({ length: 4096 }, () => 0x3f80 | Math.floor(rand() * 128));
    const next = base.map((v) => (rand() < 0.05 ? v + 1 : v));
    expect(conditionalBoundBytes(model(base), model(next))).toBe(boundBytes(model(base), model(next)));
  });

  it('is below the order-0 bound when where values change depends on their exponent', () => {
    const rand = seededRandom(3);
    // Half the values one binade lower, where a step of the same size changes them twice as often.
    const base = Uint16Array.from({ length: 8192 }, (_, i) => (i % 2 ? 0x3c00 : 0x3b80) | Math.floor(rand() * 128));
    const next = base.map((v) => (rand() < (v >>> 7 === 0x78 ? 0.02 : 0.2) ? v + 1 : v));
    expect(conditionalBoundBytes(model(base), model(next))).toBeLessThan(0.9 * boundBytes(model(base), model(next)));
  });
});
