import { describe, expect, it } from 'vitest';
import { TrustArgumentError } from './errors';
import { freivaldsCheck, freivaldsFlops, freivaldsRounds, type Matrix } from './freivalds';
import { nextInt, seededRandom } from './random';
import { BACKEND_VARIANTS, matmul, randomMatrix } from './testing/backends';

const mat = (rows: number, cols: number, data: Float32Array): Matrix => ({ rows, cols, data });

describe("Freivalds' check", () => {
  it('TRUST-F1: rounds = ceil(log2(1/p))', () => {
    expect(freivaldsRounds(0.5)).toBe(1);
    expect(freivaldsRounds(0.25)).toBe(2);
    expect(freivaldsRounds(0.2)).toBe(3);
    expect(freivaldsRounds(1e-6)).toBe(20);
    expect(() => freivaldsRounds(0)).toThrow(TrustArgumentError);
    expect(() => freivaldsRounds(1)).toThrow(TrustArgumentError);
  });

  it('TRUST-F2: honest f32 products from every backend variant pass', () => {
    const rng = seededRandom(11);
    for (let t = 0; t < 20; t++) {
      const [n, k, m] = [8 + nextInt(rng, 40), 8 + nextInt(rng, 120), 8 + nextInt(rng, 40)];
      const a = randomMatrix(rng, n * k, 1 + nextInt(rng, 100));
      const b = randomMatrix(rng, k * m);
      for (const v of BACKEND_VARIANTS) {
        const c = matmul(a, b, n, k, m, v);
        const result = freivaldsCheck(mat(n, k, a), mat(k, m, b), mat(n, m, c), { falseAcceptProbability: 1e-6, rng });
        expect(result.ok, `${v.name} ${n}×${k}×${m}`).toBe(true);
      }
    }
  });

  it('TRUST-F3: wrong entries are caught with at least the promised probability (seeded, 4000 trials)', () => {
    const rng = seededRandom(5);
    const [n, k, m] = [24, 32, 24];
    const a = randomMatrix(rng, n * k);
    const b = randomMatrix(rng, k * m);
    const honest = matmul(a, b, n, k, m, BACKEND_VARIANTS[0]!);
    const check = (c: Float32Array, p: number) =>
      freivaldsCheck(mat(n, k, a), mat(k, m, b), mat(n, m, c), { falseAcceptProbability: p, rng }).ok;
    const p = 0.25; // 2 rounds
    const trials = 4000;
    // The hardest case for sign vectors: two errors in one row that cancel when their signs match (miss probability exactly 1/2 per round).
    let cancellingAccepted = 0;
    let singleAccepted = 0;
    for (let t = 0; t < trials; t++) {
      const row = nextInt(rng, n);
      const j = nextInt(rng, m);
      const l = (j + 1 + nextInt(rng, m - 1)) % m;
      const c = honest.slice();
      c[row * m + j] = c[row * m + j]! + 0.01; // far above the ~1e-3 row tolerance, far below a glance
      c[row * m + l] = c[row * m + l]! - 0.01;
      if (check(c, p)) cancellingAccepted++;
      const single = honest.slice();
      const at = nextInt(rng, single.length);
      single[at] = single[at]! + 0.01;
      if (check(single, p)) singleAccepted++;
    }
    const rate = cancellingAccepted / trials;
    expect(rate).toBeLessThanOrEqual(p + 0.04); // the promise, with ~6σ of sampling slack
    expect(rate).toBeGreaterThan(p - 0.06); // and it is tight: this test can fail both ways
    expect(singleAccepted).toBe(0); // a lone wrong entry cannot hide from a ±1 vector at all
    // at the default p = 1e-6 none of 500 cancelling pairs is accepted
    let slipped = 0;
    for (let t = 0; t < 500; t++) {
      const c = honest.slice();
      c[3 * m + 1] = c[3 * m + 1]! + 0.01;
      c[3 * m + 2] = c[3 * m + 2]! - 0.01;
      if (check(c, 1e-6)) slipped++;
    }
    expect(slipped).toBe(0);
  });

  it('TRUST-F4: NaN or Inf in C fails; shapes that do not chain throw', () => {
    const rng = seededRandom(1);
    const a = randomMatrix(rng, 16);
    const b = randomMatrix(rng, 16);
    for (const bad of [NaN, Infinity]) {
      const c = matmul(a, b, 4, 4, 4, BACKEND_VARIANTS[0]!);
      c[5] = bad;
      expect(freivaldsCheck(mat(4, 4, a), mat(4, 4, b), mat(4, 4, c), { falseAcceptProbability: 0.5, rng }).ok).toBe(
        false,
      );
    }
    expect(() =>
      freivaldsCheck(mat(4, 4, a), mat(2, 8, b), mat(4, 8, new Float32Array(32)), { falseAcceptProbability: 0.5, rng }),
    ).toThrow(TrustArgumentError);
  });

  it('TRUST-F5: the check costs O(rounds·n²), a small fraction of the O(n³) product', () => {
    const n = 256;
    const rounds = freivaldsRounds(1e-6);
    const ratio = freivaldsFlops(n, n, n, rounds) / (2 * n ** 3);
    expect(ratio).toBeLessThan((3 * (rounds + 1)) / n + 1e-9);
    expect(freivaldsFlops(2 * n, 2 * n, 2 * n, rounds) / freivaldsFlops(n, n, n, rounds)).toBeCloseTo(4, 5);
  });
});
