import { describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLE_RATE, HALF_LIFE_UNITS, PROBATION_UNITS } from './constants';
import { InvalidPolicyError } from './errors';
import { DEFAULT_POLICY, resolvePolicy } from './policy';
import { seededRandom } from './random';
import { checkProbability, planCheck } from './sampling';

const rep = (accepted: number, rejected = 0) => ({
  peerId: 'k'.repeat(43),
  accepted,
  verified: 0,
  rejected,
  pending: 0,
  excluded: rejected > 0,
  firstSeen: 0,
  lastSeen: 0,
});

describe('job policy', () => {
  it('TRUST-J1: defaults fill in and validate; bad values are refused with every reason', () => {
    expect(resolvePolicy()).toEqual(DEFAULT_POLICY);
    expect(resolvePolicy({ redundancy: 3, tolerance: { crossClass: { rtol: 1e-3, atol: 0 } } })).toMatchObject({
      redundancy: 3,
      tolerance: { crossClass: { rtol: 1e-3, atol: 0 }, sameClass: DEFAULT_POLICY.tolerance.sameClass },
    });
    for (const bad of [
      { redundancy: 0 },
      { sampleRate: 1.5 },
      { falseAcceptProbability: 0 },
      { checkWith: 'magic' },
      { extra: 1 },
      { redundancy: 4, maxReplicas: 2 },
      null,
      [],
    ]) {
      expect(() => resolvePolicy(bad), JSON.stringify(bad)).toThrow(InvalidPolicyError);
    }
  });
});

describe('sampled and adaptive checks', () => {
  it('TRUST-A1: new keys are checked on every unit, then the probability halves per half-life down to the floor', () => {
    const p = DEFAULT_POLICY;
    expect(checkProbability(p, undefined)).toBe(1);
    expect(checkProbability(p, rep(PROBATION_UNITS - 1))).toBe(1);
    expect(checkProbability(p, rep(PROBATION_UNITS + HALF_LIFE_UNITS))).toBeCloseTo(0.5, 10);
    expect(checkProbability(p, rep(PROBATION_UNITS + 2 * HALF_LIFE_UNITS))).toBeCloseTo(0.25, 10);
    expect(checkProbability(p, rep(100_000))).toBe(DEFAULT_SAMPLE_RATE);
    for (let c = 1; c < 200; c++)
      expect(checkProbability(p, rep(c))).toBeLessThanOrEqual(checkProbability(p, rep(c - 1)));
    expect(checkProbability(p, rep(100_000, 1))).toBe(1); // a caught key is never trusted again
  });

  it('TRUST-A2: non-adaptive sampling uses sampleRate; redundancy ≥ 2 replicates every unit', () => {
    const sampling = resolvePolicy({ adaptive: false, sampleRate: 0.2 });
    expect(checkProbability(sampling, undefined)).toBe(0.2);
    const rng = seededRandom(9);
    let checked = 0;
    for (let i = 0; i < 5000; i++) if (planCheck(sampling, undefined, rng).check !== 'none') checked++;
    expect(checked / 5000).toBeGreaterThan(0.17);
    expect(checked / 5000).toBeLessThan(0.23);
    expect(planCheck(resolvePolicy({ redundancy: 3 }), rep(1e6), rng)).toEqual({
      check: 'replica',
      replicas: 3,
      probability: 1,
    });
    expect(planCheck(resolvePolicy({ checkWith: 'requester' }), undefined, rng)).toEqual({
      check: 'requester',
      replicas: 1,
      probability: 1,
    });
    expect(planCheck(resolvePolicy({ adaptive: false, sampleRate: 0 }), undefined, rng).check).toBe('none');
  });

  it('TRUST-A3: without an explicit generator, check draws use WebCrypto (not predictable by providers)', async () => {
    const src = await import('node:fs').then((fs) =>
      fs.readFileSync(new URL('./jobVerifier.ts', import.meta.url), 'utf8'),
    );
    expect(src).toMatch(/options\.rng \?\? cryptoRandom\(\)/);
  });
});
