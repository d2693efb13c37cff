import { describe, expect, it } from 'vitest';
import { hash32, hash64, hashHex } from './hash';

describe('the small synchronous hash behind seeds and dedupe', () => {
  it('RL-H1: deterministic, 128-bit hex, and parts are typed and delimited', () => {
    expect(hashHex(['a', 1, [2, 3]])).toBe(hashHex(['a', 1, [2, 3]]));
    expect(hashHex(['a'])).toMatch(/^[0-9a-f]{32}$/);
    const variants = [['ab', 'c'], ['a', 'bc'], ['1'], [1], [[1]], [[1, 2]], [[12]], []] as const;
    expect(new Set(variants.map((v) => hashHex([...v]))).size).toBe(variants.length);
    expect(hash64(['x'], 1)).not.toEqual(hash64(['x'], 2));
  });

  it('RL-H2: 32-bit seeds spread evenly (no bucket of 16 off by more than 15% over 32k inputs)', () => {
    const buckets = new Array(16).fill(0);
    for (let i = 0; i < 32768; i++) buckets[hash32(['seed', i]) >>> 28]++;
    for (const b of buckets) expect(Math.abs(b - 2048)).toBeLessThan(0.15 * 2048);
  });
});
