import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../random';
import { COMPRESS_DEFAULTS, compress, decompress, ErrorFeedback, keptTotal } from './compress';
import { contributionBoundBytes, decodeContribution, encodeContribution, topKFor } from './codec';
import { ContributionError } from './errors';

function gaussian(n: number, seed: number, scale = 1e-3): Float32Array {
  const u = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
  return out;
}

describe('SparseLoCo compressor', () => {
  it('TOGETHER-C1: keeps the top-k magnitudes of each chunk, ties to the lower index, with two bf16 scales', () => {
    const v = new Float32Array(40);
    v[3] = 5;
    v[7] = -4;
    v[11] = 1;
    v[12] = 1;
    v[30] = -9;
    v[35] = 2;
    const c = compress(v, { chunk: 20, topK: 3, decay: 1 });
    expect([...c.positions]).toEqual([3, 7, 11, 20, 30, 35]);
    const d = decompress(c);
    expect(Math.sign(d[7]!)).toBe(-1);
    expect(Math.sign(d[30]!)).toBe(-1);
    expect(Math.abs(d[3]!)).toBeGreaterThan(Math.abs(d[11]!));
  });

  it('TOGETHER-C2: error feedback sends every coordinate eventually and loses nothing but the decay', () => {
    const n = 512;
    const ef = new ErrorFeedback(n, { chunk: 128, topK: 8, decay: 1 });
    const delta = gaussian(n, 7);
    const sent = new Float64Array(n);
    for (let r = 0; r < 60; r++) {
      const c = ef.step(r === 0 ? delta : new Float32Array(n));
      const d = decompress(c);
      for (let i = 0; i < n; i++) sent[i] = sent[i]! + d[i]!;
    }
    // With β = 1, what was sent plus what is left is exactly what went in (up to f32 rounding).
    for (let i = 0; i < n; i++) expect(sent[i]! + ef.residual[i]!).toBeCloseTo(delta[i]!, 6);
    const left = ef.residual.reduce((s, x) => s + x * x, 0);
    const start = delta.reduce((s, x) => s + x * x, 0);
    expect(left).toBeLessThan(0.05 * start);
  });

  it('TOGETHER-C3: encode/decode round-trips and lands within 15% of the entropy bound at ≥ 150× below dense f32', () => {
    const n = 470_528;
    const c = compress(gaussian(n, 3), COMPRESS_DEFAULTS);
    const bytes = encodeContribution(c);
    const back = decodeContribution(bytes, { n, chunk: c.chunk, topK: c.topK });
    expect(back.positions).toEqual(c.positions);
    expect(back.symbols).toEqual(c.symbols);
    expect(back.scales).toEqual(c.scales);
    expect(keptTotal(n, c.chunk, c.topK)).toBe(c.positions.length);
    const bound = contributionBoundBytes(c);
    expect(bytes.length / bound).toBeLessThan(1.15);
    expect((4 * n) / bytes.length).toBeGreaterThan(150);
  });

  it('TOGETHER-C5: the kept values per chunk follow the volunteers so a round patch of all their contributions stays ≥ 20× under the bf16 model', () => {
    expect([1, 2, 4, 5, 8, 9, 14, 15, 24, 1000].map(topKFor)).toEqual([64, 64, 64, 32, 32, 16, 16, 8, 8, 8]);
    const n = 470_528; // the tiny preset
    for (const providers of [2, 4, 5, 8, 9, 14, 15, 24]) {
      const topK = topKFor(providers);
      const bytes = encodeContribution(compress(gaussian(n, providers), { ...COMPRESS_DEFAULTS, topK })).length;
      expect((2 * n) / (providers * bytes)).toBeGreaterThanOrEqual(20);
    }
  });

  it('TOGETHER-C4: malformed, truncated, padded or re-shaped bytes are ContributionErrors', () => {
    const n = 5000;
    const c = compress(gaussian(n, 4), { chunk: 1024, topK: 16, decay: 0.95 });
    const bytes = encodeContribution(c);
    const shape = { n, chunk: 1024, topK: 16 };
    expect(() => decodeContribution(bytes.subarray(0, bytes.length - 1), shape)).toThrow(ContributionError);
    expect(() => decodeContribution(Uint8Array.of(...bytes, 0), shape)).toThrow(ContributionError);
    expect(() => decodeContribution(bytes, { ...shape, n: n + 1 })).toThrow(ContributionError);
    const badScale = bytes.slice();
    badScale[17] = 0x7f;
    badScale[16] = 0x80;
    expect(() => decodeContribution(badScale, shape)).toThrow(ContributionError);
    const u = mulberry32(9);
    for (let t = 0; t < 300; t++) {
      const m = bytes.slice();
      m[16 + Math.floor(u() * (m.length - 16))]! ^= 1 << Math.floor(u() * 8);
      try {
        const d = decodeContribution(m, shape);
        for (let i = 1; i < d.positions.length; i++)
          if (Math.floor(d.positions[i]! / 1024) === Math.floor(d.positions[i - 1]! / 1024))
            expect(d.positions[i]!).toBeGreaterThan(d.positions[i - 1]!);
      } catch (e) {
        expect(e).toBeInstanceOf(ContributionError);
      }
    }
  });
});
