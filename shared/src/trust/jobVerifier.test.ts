import { describe, expect, it } from 'vitest';
import { QuorumStateError } from './errors';
import { freivaldsCheck } from './freivalds';
import { JobVerifier, type VerifierAction } from './jobVerifier';
import { DEFAULT_POLICY, resolvePolicy } from './policy';
import { seededRandom } from './random';
import { ReputationBook } from './reputation';
import { BACKEND_VARIANTS, CORRUPTIONS, matmul, randomMatrix } from './testing/backends';
import { simulateJob, UnitCache } from './testing/simulateJob';

const key = (c: string) => c.repeat(43);
const agree = (a: { result: number }, b: { result: number }) => Math.abs(a.result - b.result) < 1e-6;
const variant = (name: string) => BACKEND_VARIANTS.find((v) => v.name === name)!;
const HONEST = ['webgpu-nvidia', 'webgpu-amd', 'wasm-simd'].map(variant);

function verifier(
  policy = resolvePolicy({ adaptive: false, sampleRate: 0 }),
  reputation = new ReputationBook(() => 0),
) {
  return new JobVerifier<number>({ jobId: 'job-00001', policy, reputation, agree, rng: seededRandom(1) });
}

describe('job verifier', () => {
  it('TRUST-P2: a caught provider is excluded, its unchecked units are re-run and earn no credit', () => {
    const book = new ReputationBook(() => 0);
    const jv = verifier(resolvePolicy({ adaptive: false, sampleRate: 0 }), book);
    const bad = key('b');
    for (const unit of [1, 2]) {
      expect(jv.openUnit(unit, bad)).toEqual([{ kind: 'dispatch', unitId: unit, count: 1, avoid: [] }]);
      jv.dispatched(unit, bad);
      expect(jv.resultArrived(unit, { peerId: bad, adapterClass: 'x', result: 666 })).toMatchObject([
        { kind: 'accept', checked: false },
      ]);
    }
    expect(jv.counts()).toMatchObject({ unchecked: 2, verified: 0 });
    // unit 3 is checked by the requester and bad is caught
    const strict = new JobVerifier<number>({
      jobId: 'job-00001',
      policy: resolvePolicy({ checkWith: 'requester' }),
      reputation: book,
      agree,
      rng: seededRandom(2),
    });
    strict.openUnit(3, bad);
    strict.dispatched(3, bad);
    expect(strict.resultArrived(3, { peerId: bad, adapterClass: 'x', result: 666 })).toEqual([
      { kind: 'reexecute', unitId: 3 },
    ]);
    const actions = strict.resultArrived(3, { peerId: 'requester', adapterClass: 'cpu', result: 3, trusted: true });
    expect(actions).toMatchObject([
      { kind: 'accept', unitId: 3, result: 3, providers: [] },
      { kind: 'exclude', peerId: bad, rerun: [] },
    ]);
    expect(book.isExcluded(bad)).toBe(true);
    // the first verifier learns of the exclusion through the shared book: its units from bad drop out of credit
    expect(jv.isExcluded(bad)).toBe(true);
    expect(jv.credits()).toEqual([]);
    // a forced re-check of unit 5 with two honest peers outvoting bad
    const jv3 = new JobVerifier<number>({
      jobId: 'job-00001',
      policy: resolvePolicy({ redundancy: 2 }),
      reputation: new ReputationBook(),
      agree,
      rng: seededRandom(3),
    });
    jv3.openUnit(5, bad);
    jv3.dispatched(5, bad);
    jv3.dispatched(5, key('h'));
    jv3.resultArrived(5, { peerId: bad, adapterClass: 'x', result: 1 });
    expect(jv3.resultArrived(5, { peerId: key('h'), adapterClass: 'x', result: 5 })).toMatchObject([
      { kind: 'dispatch', count: 1 },
    ]);
    jv3.dispatched(5, key('i'));
    expect(jv3.resultArrived(5, { peerId: key('i'), adapterClass: 'x', result: 5 })).toMatchObject([
      { kind: 'accept', providers: [key('h'), key('i')], checked: true },
      { kind: 'exclude', peerId: bad },
    ]);
    expect(jv3.status(5)!.rejections).toEqual([{ peerId: bad, reason: 'disagrees with the canonical result' }]);
    // results from an excluded key are treated as lost
    jv3.openUnit(6, key('h'));
    jv3.dispatched(6, bad);
    expect(jv3.resultArrived(6, { peerId: bad, adapterClass: 'x', result: 6 })).toMatchObject([
      { kind: 'dispatch', count: 2 },
    ]);
  });

  it('TRUST-P2: an exclusion inside one job returns every unit the key alone vouched for', () => {
    const book = new ReputationBook(() => 0);
    const bad = key('b');
    for (let i = 0; i < 1000; i++) book.recordAccepted(bad, false); // a long clean history: checked at the default rate
    const jv = new JobVerifier<number>({
      jobId: 'job-00001',
      policy: resolvePolicy({ checkWith: 'requester' }),
      reputation: book,
      agree,
      rng: seededRandom(4),
    });
    const unchecked: number[] = [];
    let exclusion: VerifierAction<number> | undefined;
    for (let unit = 0; unit < 1000 && !exclusion; unit++) {
      jv.openUnit(unit, bad);
      jv.dispatched(unit, bad);
      const first = jv.resultArrived(unit, { peerId: bad, adapterClass: 'x', result: -unit - 1 });
      if (first[0]?.kind === 'accept') {
        unchecked.push(unit);
        continue;
      }
      expect(first).toEqual([{ kind: 'reexecute', unitId: unit }]);
      exclusion = jv
        .resultArrived(unit, { peerId: 'requester', adapterClass: 'cpu', result: unit, trusted: true })
        .find((a) => a.kind === 'exclude');
    }
    expect(unchecked.length).toBeGreaterThan(5);
    expect(exclusion).toEqual({
      kind: 'exclude',
      peerId: bad,
      reason: 'disagrees with the canonical result',
      rerun: unchecked,
    });
    expect(jv.counts()).toMatchObject({ pending: unchecked.length, unchecked: 0, verified: 1 });
    expect(jv.credits()).toEqual([]);
    expect(
      jv.resultArrived(unchecked[0]!, { peerId: 'requester', adapterClass: 'cpu', result: 0, trusted: true }),
    ).toEqual([]); // a decided unit does not reopen silently
  });

  it('TRUST-Q7: a copy of a decided unit is judged: agreement verifies it, a contradiction is settled by a third result', () => {
    const book = new ReputationBook(() => 0);
    const [a, b, c, d] = [key('a'), key('b'), key('c'), key('d')];
    for (const p of [a, b, c, d]) for (let i = 0; i < 100; i++) book.recordAccepted(p, false);
    const jv = verifier(resolvePolicy({ sampleRate: 0.001 }), book); // trusted keys: almost never checked
    const acceptUnchecked = (unit: number, result: number) => {
      jv.openUnit(unit, a);
      jv.dispatched(unit, a);
      expect(jv.resultArrived(unit, { peerId: a, adapterClass: 'x', result })).toMatchObject([
        { kind: 'accept', checked: false },
      ]);
    };
    acceptUnchecked(0, 0);
    expect(jv.copyArrived(0, { peerId: b, adapterClass: 'x', result: 0 })).toEqual([
      { kind: 'credit', unitId: 0, peerId: b },
    ]);
    expect(jv.status(0)!.status).toBe('verified');
    expect(book.get(a)!.verified).toBe(1);
    expect(jv.credits()).toEqual([
      { unitId: 0, provider: a },
      { unitId: 0, provider: b },
    ]);
    // b's copy contradicts a's unchecked result: either may be wrong, so unit 1 is open again for a third
    acceptUnchecked(1, 1);
    const acceptedBefore = book.get(a)!.accepted;
    expect(jv.copyArrived(1, { peerId: b, adapterClass: 'x', result: 99 })).toEqual([
      { kind: 'dispatch', unitId: 1, count: 1, avoid: [a, b] },
    ]);
    expect(jv.isOpen(1)).toBe(true);
    expect(jv.credits().some((x) => x.unitId === 1)).toBe(false);
    jv.dispatched(1, c);
    expect(jv.resultArrived(1, { peerId: c, adapterClass: 'x', result: 1 })).toMatchObject([
      { kind: 'accept', unitId: 1, result: 1, providers: [a, c], checked: true },
      { kind: 'exclude', peerId: b },
    ]);
    expect(book.get(a)!.accepted).toBe(acceptedBefore); // a's result is counted once
    expect(book.isExcluded(b)).toBe(true);
    // against a checked result, a contradicting copy is caught outright
    expect(jv.copyArrived(1, { peerId: d, adapterClass: 'x', result: 7 })).toMatchObject([
      { kind: 'exclude', peerId: d, rerun: [] },
    ]);
    expect(jv.copyArrived(2, { peerId: c, adapterClass: 'x', result: 2 })).toBeUndefined(); // never decided
    // a policy that checks nothing judges no copy
    const none = verifier(resolvePolicy({ adaptive: false, sampleRate: 0 }), new ReputationBook(() => 0));
    none.openUnit(0, a);
    none.dispatched(0, a);
    none.resultArrived(0, { peerId: a, adapterClass: 'x', result: 0 });
    expect(none.copyArrived(0, { peerId: b, adapterClass: 'x', result: 5 })).toBeUndefined();
  });

  it('TRUST-A1: a cheater that is honest for its first 100 results is caught before the job ends (seeds 1–2)', () => {
    for (const seed of [1, 2]) {
      const m = simulateJob({
        seed,
        units: 1000,
        rows: 8,
        sizes: [32, 64, 16],
        honest: [...HONEST, variant('webgpu-swiftshader')],
        adversary: { variant: variant('webgpu-nvidia'), corruption: 'perturb', fraction: 0.3, startAfter: 100 },
        policy: DEFAULT_POLICY,
      });
      expect(m.caught, `seed ${seed}`).toBe(true);
      expect(m.wrongInOutput, `seed ${seed}`).toBe(0);
      expect(m.overhead, `seed ${seed}`).toBeLessThan(0.12);
    }
  });

  it('TRUST-F2: with an algebraic check (Freivalds) every result is verified alone and a wrong one excludes its provider', () => {
    const rng = seededRandom(8);
    const [n, k, m] = [16, 16, 16];
    const a = randomMatrix(rng, n * k);
    const b = randomMatrix(rng, k * m);
    const check = (_unit: number, c: Float32Array) =>
      freivaldsCheck(
        { rows: n, cols: k, data: a },
        { rows: k, cols: m, data: b },
        { rows: n, cols: m, data: c },
        { falseAcceptProbability: DEFAULT_POLICY.falseAcceptProbability, rng },
      ).ok;
    const jv = new JobVerifier<Float32Array>({
      jobId: 'job-00002',
      policy: DEFAULT_POLICY,
      reputation: new ReputationBook(),
      agree: () => false,
      algebraicCheck: check,
      rng,
    });
    const good = matmul(a, b, n, k, m, BACKEND_VARIANTS[2]!);
    jv.openUnit(0, key('h'));
    expect(() => jv.resultArrived(0, { peerId: key('h'), adapterClass: 'x', result: good })).toThrow(QuorumStateError); // never sent to h
    jv.dispatched(0, key('h'));
    expect(jv.resultArrived(0, { peerId: key('h'), adapterClass: 'x', result: good })).toMatchObject([
      { kind: 'accept', checked: true },
    ]);
    const wrong = good.slice();
    wrong[7] = wrong[7]! + 0.05;
    jv.openUnit(1, key('b'));
    jv.dispatched(1, key('b'));
    expect(jv.resultArrived(1, { peerId: key('b'), adapterClass: 'x', result: wrong })).toMatchObject([
      { kind: 'exclude', peerId: key('b'), rerun: [1] },
    ]);
    expect(jv.credits()).toEqual([{ unitId: 0, provider: key('h') }]);
  });

  it('TRUST-A1, TRUST-P2: under the default policy an adversary is caught, excluded, and the output equals the reference (every corruption)', () => {
    const cache = new UnitCache(3, 4, [16, 32, 8]);
    for (const corruption of CORRUPTIONS) {
      const m = simulateJob(
        {
          seed: 3,
          units: 300,
          rows: 4,
          sizes: [16, 32, 8],
          honest: HONEST,
          adversary: { variant: variant('webgpu-nvidia'), corruption, fraction: 0.5 },
          policy: DEFAULT_POLICY,
        },
        cache,
      );
      expect(m.caught, corruption).toBe(true);
      expect(m.adversaryUnitsUntilCaught!, corruption).toBeLessThanOrEqual(20);
      expect(m.wrongInOutput, corruption).toBe(0);
      expect(m.detectionRate, corruption).toBe(1);
      expect(m.honestRejected, corruption).toBe(0);
    }
  });

  it('TRUST-A2: without verification the same adversary corrupts the output (the simulation can fail)', () => {
    const m = simulateJob({
      seed: 3,
      units: 200,
      rows: 4,
      sizes: [16, 32, 8],
      honest: HONEST,
      adversary: { variant: variant('webgpu-nvidia'), corruption: 'perturb', fraction: 0.5 },
      policy: resolvePolicy({ adaptive: false, sampleRate: 0 }),
    });
    expect(m.caught).toBe(false);
    expect(m.wrongInOutput).toBeGreaterThan(0);
    // Every wrong result lands in the output, except speculative copies of units already decided.
    expect(m.wrongInOutput).toBe(m.wrongReturned - m.wrongDiscarded);
  });
});
