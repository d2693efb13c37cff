import { describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLE_RATE, PROBATION_UNITS } from './constants';
import { InvalidPolicyError } from './errors';
import { DEFAULT_POLICY, resolvePolicy } from './policy';
import { seededRandom } from './random';
import { blockLength, checkProbability, CheckSchedule, planCheck } from './sampling';

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
  it('TRUST-A1: new keys are checked on every unit, trusted keys once per block of 1/sampleRate results', () => {
    const p = DEFAULT_POLICY;
    const length = blockLength(DEFAULT_SAMPLE_RATE);
    expect(length).toBe(Math.round(1 / DEFAULT_SAMPLE_RATE));
    expect(checkProbability(p, undefined)).toBe(1);
    expect(checkProbability(p, rep(PROBATION_UNITS - 1))).toBe(1);
    // a trusted key: the check lands uniformly in the block — 1/(results left) until it has, then none
    expect(checkProbability(p, rep(PROBATION_UNITS))).toBeCloseTo(1 / length, 10);
    expect(checkProbability(p, rep(100_000), { index: 10, checked: false })).toBeCloseTo(1 / (length - 10), 10);
    expect(checkProbability(p, rep(100_000), { index: length - 1, checked: false })).toBe(1);
    expect(checkProbability(p, rep(100_000), { index: 3, checked: true })).toBe(0);
    expect(checkProbability(p, rep(100_000, 1))).toBe(1); // a caught key is never trusted again
    expect(checkProbability(resolvePolicy({ sampleRate: 0 }), rep(100_000))).toBe(0);
  });

  it('TRUST-A1: every block of a trusted key holds exactly one check, so any 2·block−1 results in a row hold one (seeds 1–20)', () => {
    const policy = DEFAULT_POLICY;
    const length = blockLength(policy.sampleRate);
    const peer = 'k'.repeat(43);
    const positions = new Array<number>(length).fill(0);
    let checks = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const rng = seededRandom(seed);
      const schedule = new CheckSchedule(length);
      const checked: boolean[] = [];
      for (let i = 0; i < 40 * length; i++) {
        const plan = planCheck(policy, rep(1000), rng, schedule.position(peer));
        schedule.advance(peer, plan.check !== 'none');
        checked.push(plan.check !== 'none');
      }
      for (let b = 0; b < 40; b++) {
        const block = checked.slice(b * length, (b + 1) * length);
        expect(block.filter(Boolean).length, `seed ${seed} block ${b}`).toBe(1);
        positions[block.indexOf(true)]!++;
      }
      for (let i = 0; i + 2 * length - 1 <= checked.length; i++)
        expect(checked.slice(i, i + 2 * length - 1).some(Boolean), `seed ${seed} window at ${i}`).toBe(true);
      checks += checked.filter(Boolean).length;
    }
    expect(checks).toBe(20 * 40);
    // The place in the block is not predictable: 800 checks over 29 places, ~28 each.
    for (const n of positions) expect(n).toBeGreaterThan(10);
    for (const n of positions) expect(n).toBeLessThan(50);
    // Independent draws at the same rate leave such gaps (why the schedule is in blocks).
    const rng = seededRandom(1);
    const coin = resolvePolicy({ adaptive: false, sampleRate: policy.sampleRate });
    let gap = 0;
    let longest = 0;
    for (let i = 0; i < 40 * length; i++) {
      gap = planCheck(coin, undefined, rng).check === 'none' ? gap + 1 : 0;
      longest = Math.max(longest, gap);
    }
    expect(longest).toBeGreaterThanOrEqual(2 * length - 1);
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
