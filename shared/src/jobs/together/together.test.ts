import { describe, expect, it } from 'vitest';
import { createIdentity, sign } from '../../identity';
import { mulberry32 } from '../../random';
import { compress, type Contribution, ErrorFeedback, forEachValue } from './compress';
import { decodeContribution, encodeContribution } from './codec';
import { ContributionError, RoundPatchError } from './errors';
import { GAUNTLET_DEFAULTS, Gauntlet, type LossProbe } from './gauntlet';
import { MAX_OUTER_LR, makeVersion, outerStep } from './outer';
import { applyRoundPatch, decodeRoundPatch, encodeRoundPatch } from './patch';
import { MemoProbe } from './probe';
import { commitDigest, commitMessage, entryFromReveal } from './provider';
import { scaled, signFlipped, zero } from './adversary';
import {
  type Entry,
  HARM_BARS,
  refusalText,
  type RoundsDeps,
  type RoundsOptions,
  TogetherRounds,
  type Verdict,
} from './rounds';
import { QuadraticProbe } from './testing';

const N = 2048;
const OPTS = { chunk: 256, topK: 16, decay: 0.95 };
const SHAPE = { n: N, chunk: OPTS.chunk, topK: OPTS.topK };

function gaussian(n: number, seed: number, scale = 0.1): Float32Array {
  const u = mulberry32(seed);
  return Float32Array.from(
    { length: n },
    () => scale * Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u()),
  );
}

describe('outer step and round patches', () => {
  it('TOGETHER-O1: SGD moves only the kept positions, by lr × the weighted mean; no contributions keep the version', async () => {
    const v0 = await makeVersion(0, gaussian(N, 1), null);
    const a = compress(gaussian(N, 2), OPTS);
    const b = compress(gaussian(N, 3), OPTS);
    const v1 = await outerStep(
      v0,
      [
        { contribution: a, weight: 1 },
        { contribution: b, weight: 3 },
      ],
      { lr: 0.5, momentum: 0 },
    );
    const touched = new Set([...a.positions, ...b.positions]);
    let moved = 0;
    for (let i = 0; i < N; i++) {
      if (!touched.has(i)) expect(v1.params[i]).toBe(v0.params[i]);
      else if (v1.params[i] !== v0.params[i]) moved++;
    }
    expect(moved).toBeGreaterThan(0.9 * touched.size);
    const same = await outerStep(v0, [], { lr: 0.5, momentum: 0 });
    expect(same.hash).toBe(v0.hash);
    expect(same.round).toBe(1);
  });

  it('TOGETHER-P1: a round patch rebuilds the version bit for bit, with momentum too, and an lr that is not an f32', async () => {
    for (const outer of [
      { lr: 0.7, momentum: 0 },
      { lr: 0.7, momentum: 0.9 },
    ]) {
      const v0 = await makeVersion(0, gaussian(N, 4), outer.momentum ? gaussian(N, 5, 0.01) : null);
      const cs = [6, 7, 8].map((s) => compress(gaussian(N, s), OPTS));
      const entries = cs.map((c, i) => ({ provider: `p${i}`, weight: 0.5 + i / 4, bytes: encodeContribution(c) }));
      const v1 = await outerStep(
        v0,
        cs.map((c, i) => ({ contribution: c, weight: entries[i]!.weight })),
        outer,
      );
      const bytes = encodeRoundPatch({ round: 0, baseHash: v0.hash, resultHash: v1.hash, outer, entries });
      const rebuilt = await applyRoundPatch(v0, decodeRoundPatch(bytes), SHAPE);
      expect(rebuilt.hash).toBe(v1.hash);
      expect(Buffer.from(rebuilt.params.buffer).equals(Buffer.from(v1.params.buffer))).toBe(true);
    }
  });

  it('TOGETHER-P2: the wrong base, a swapped weight, a flipped bit and a truncation are RoundPatchErrors', async () => {
    const outer = { lr: 1, momentum: 0 };
    const v0 = await makeVersion(0, gaussian(N, 9), null);
    const c = compress(gaussian(N, 10), OPTS);
    const v1 = await outerStep(v0, [{ contribution: c, weight: 1 }], outer);
    const entries = [{ provider: 'p', weight: 1, bytes: encodeContribution(c) }];
    const bytes = encodeRoundPatch({ round: 0, baseHash: v0.hash, resultHash: v1.hash, outer, entries });
    await expect(applyRoundPatch(v1, decodeRoundPatch(bytes), SHAPE)).rejects.toThrow(RoundPatchError);
    const flipped = bytes.slice();
    flipped[bytes.length - 3]! ^= 0x10;
    await expect((async () => applyRoundPatch(v0, decodeRoundPatch(flipped), SHAPE))()).rejects.toThrow(
      RoundPatchError,
    );
    expect(() => decodeRoundPatch(bytes.subarray(0, bytes.length - 1))).toThrow(RoundPatchError);
    const other = await outerStep(v0, [{ contribution: c, weight: 1 }], { lr: 0.5, momentum: 0 });
    const lying = encodeRoundPatch({ round: 0, baseHash: v0.hash, resultHash: other.hash, outer, entries });
    await expect(applyRoundPatch(v0, decodeRoundPatch(lying), SHAPE)).rejects.toThrow(/ask for the snapshot/);
  });
});

describe('Gauntlet', () => {
  const common = gaussian(N, 20, 1);
  const probe = new QuadraticProbe(N, 40, common, 3);
  const start = new Float32Array(N);
  /** Provider p's batches in round r: ids 4r+p·… of its own shard. */
  const shardIds = (p: number, r: number) => [8 + p * 8 + (r % 4) * 2, 9 + p * 8 + (r % 4) * 2];
  const validation = [0, 1, 2, 3].map((id) => probe.batch(id));

  it('TOGETHER-G1: screening refuses scaled, empty, replayed, copied, duplicated and out-of-sync contributions, and lets honest error feedback through', () => {
    const g = new Gauntlet(probe);
    const efs = [0, 1, 2, 3].map(() => new ErrorFeedback(N, OPTS));
    const honest = (p: number, r: number) => efs[p]!.step(probe.delta(start, shardIds(p, r), 0.01, 4));
    const r0 = [0, 1, 2].map((p) => honest(p, 0));
    const s0 = g.screen(
      0,
      'v0',
      r0.map((c, p) => ({ provider: `p${p}`, baseHash: 'v0', contribution: c })),
    );
    expect(s0.map((s) => s.refusal)).toEqual([null, null, null]);
    const r1 = [0, 1, 2].map((p) => honest(p, 1));
    const subs = (cs: Contribution[], base = 'v1') =>
      cs.map((c, p) => ({ provider: `p${p}`, baseHash: base, contribution: c }));
    const s1 = g.screen(1, 'v1', [
      ...subs(r1),
      { provider: 'x10', baseHash: 'v1', contribution: scaled(honest(3, 1), 10) },
      { provider: 'zero', baseHash: 'v1', contribution: zero(r1[0]!) },
      { provider: 'copy', baseHash: 'v1', contribution: r0[1]! },
      { provider: 'lag', baseHash: 'v0', contribution: honest(2, 3) },
    ]);
    expect(s1.map((s) => s.refusal)).toEqual([null, null, null, 'norm', 'empty', 'copy', 'out-of-sync']);
    for (const s of s1.slice(0, 3)) expect(s.maxCosine).toBeLessThan(GAUNTLET_DEFAULTS.copyCosine);
    const s2 = g.screen(2, 'v2', [
      { provider: 'p0', baseHash: 'v2', contribution: r0[0]! },
      { provider: 'p1', baseHash: 'v2', contribution: r1[2]! },
      { provider: 'a', baseHash: 'v2', contribution: r1[1]! },
    ]);
    expect(s2.map((s) => s.refusal)).toEqual(['stale', 'copy', 'copy']);
    const twin = honest(0, 2);
    const s3 = g.screen(3, 'v3', [
      { provider: 'p0', baseHash: 'v3', contribution: twin },
      { provider: 'sybil', baseHash: 'v3', contribution: twin },
    ]);
    expect(s3.map((s) => s.refusal)).toEqual(['duplicate', 'duplicate']);
  });

  it('TOGETHER-G2: the loss test refuses a sign flip and training on the wrong shard, and accepts honest work', async () => {
    const g = new Gauntlet(probe);
    const before = await g.baseLosses(start, validation);
    const score = async (c: Contribution, assignedIds: number[]) =>
      g.score(
        start,
        1,
        c,
        validation,
        before,
        assignedIds.map((id) => probe.batch(id)),
        shardIds(1, 0).map((id) => probe.batch(id)),
      );
    const honest = compress(probe.delta(start, shardIds(0, 0), 0.01, 4), { ...OPTS, decay: 1 });
    const ok = await score(honest, shardIds(0, 0));
    expect(ok.refusal).toBeNull();
    expect(ok.gainA).toBeGreaterThan(ok.gainC);
    expect((await score(signFlipped(honest), shardIds(0, 0))).refusal).toBe('no-gain');
    const elsewhere = compress(probe.delta(start, shardIds(3, 0), 0.01, 4), { ...OPTS, decay: 1 });
    expect((await score(elsewhere, shardIds(0, 0))).refusal).toBeNull();
    const strict = new Gauntlet(probe, { ...GAUNTLET_DEFAULTS, shardGap: 0.05 });
    const args = [
      validation,
      before,
      shardIds(0, 0).map((id) => probe.batch(id)),
      shardIds(1, 0).map((id) => probe.batch(id)),
    ] as const;
    expect((await strict.score(start, 1, elsewhere, ...args)).refusal).toBe('wrong-shard');
    expect((await strict.score(start, 1, honest, ...args)).refusal).toBeNull();
    // A gain far below what accepted contributions recently gained is no gain.
    strict.noteAccepted(10 * ok.gainV);
    expect((await strict.score(start, 1, honest, ...args)).refusal).toBe('no-gain');
    // A key's first contributions face a lower bar (its error feedback is still filling): 1/4 of it in its
    // first round here, the full bar from its youngRounds-th on; gains compare per unit lr.
    expect((await strict.score(start, 1, honest, ...args, 0)).refusal).toBeNull();
    expect((await strict.score(start, 1, honest, ...args, GAUNTLET_DEFAULTS.youngRounds)).refusal).toBe('no-gain');
    expect((await strict.score(start, 1, signFlipped(honest), ...args, 0)).refusal).toBe('no-gain');
    const half = await strict.score(start, 0.5, honest, ...args, 0);
    expect(half.gainPerLr).toBeCloseTo(half.gainV / 0.5, 12);
  });

  it('TOGETHER-G3: the gain bar follows the last historyRounds rounds, so gains that shrink as training goes on stay accepted', async () => {
    const g = new Gauntlet(probe);
    const before = await g.baseLosses(start, validation);
    const honest = compress(probe.delta(start, shardIds(0, 0), 0.01, 4), { ...OPTS, decay: 1 });
    const at = (round: number) =>
      g.score(start, 1, honest, validation, before, [], [], Number.POSITIVE_INFINITY, round);
    const gain = (await at(0)).gainV;
    // Early rounds gained ten times as much as this contribution does now.
    for (let r = 0; r < 4; r++) for (let k = 0; k < 4; k++) g.noteAccepted(10 * gain, r);
    expect((await at(4)).refusal).toBe('no-gain');
    const last = 3 + GAUNTLET_DEFAULTS.historyRounds;
    expect((await at(last)).refusal).toBe('no-gain');
    // Past the window those early gains no longer set the bar; gains noted since do.
    expect((await at(last + 1)).refusal).toBeNull();
    g.noteAccepted(10 * gain, last + 1);
    expect((await at(last + 1)).refusal).toBe('no-gain');
    g.noteAccepted(gain, last + 2);
    g.noteAccepted(gain, last + 2);
    expect((await at(last + 2)).refusal).toBeNull();
    // A contribution that loses is refused whatever the bar.
    expect(
      (await g.score(start, 1, signFlipped(honest), validation, before, [], [], Number.POSITIVE_INFINITY, last + 30))
        .refusal,
    ).toBe('no-gain');
  });
  it('TOGETHER-G4: a contribution that gains but mostly moves the weights elsewhere is off course, whatever its age', async () => {
    const g = new Gauntlet(probe);
    const lax = new Gauntlet(probe, { ...GAUNTLET_DEFAULTS, offCourse: false });
    const before = await g.baseLosses(start, validation);
    const delta = probe.delta(start, shardIds(0, 0), 0.01, 4);
    const honest = compress(delta, { ...OPTS, decay: 1 });
    const ok = await g.score(start, 1, honest, validation, before, [], [], 0, 0);
    for (const x of [g, lax]) x.noteAccepted(ok.gainPerLr, 0, ok.gainPerMove);
    // The honest pseudo-gradient under noise of 4× its norm: it still lowers the loss, mostly by chance.
    const norm = Math.sqrt(delta.reduce((s, x) => s + x * x, 0));
    const noise = gaussian(N, 41, 1);
    const noiseNorm = Math.sqrt(noise.reduce((s, x) => s + x * x, 0));
    const aimless = compress(
      delta.map((x, i) => x + (4 * norm * noise[i]!) / noiseNorm),
      { ...OPTS, decay: 1 },
    );
    for (const age of [0, Number.POSITIVE_INFINITY]) {
      const off = await g.score(start, 1, aimless, validation, before, [], [], age, 1);
      expect(off.gainV).toBeGreaterThan(0);
      expect(off.gainPerMove).toBeLessThan(off.barPerMove);
      expect(off.refusal).toBe(age === 0 ? 'off-course' : 'no-gain');
      expect((await lax.score(start, 1, aimless, validation, before, [], [], age, 1)).refusal).toBe(
        age === 0 ? null : 'no-gain',
      );
      expect((await g.score(start, 1, honest, validation, before, [], [], age, 1)).refusal).toBeNull();
    }
    // The dashboard says which bar it missed, per unit of movement.
    const v = { reason: 'off-course', gainPerMove: 0.0012, barPerMove: 0.0034, gainPerLr: 1, bar: 0.1 } as const;
    expect(refusalText({ ...(v as unknown as Verdict), scored: 'full', retested: true })).toBe(
      'lowered the validation loss too little for how far it moves the weights (test on a larger draw of batches: 0.0012 per unit of movement against a bar of 0.0034)',
    );
  });
});

describe('rounds', () => {
  const common = gaussian(N, 30, 1);
  const probe = new QuadraticProbe(N, 80, common, 3, 3);
  const validation = [0, 1, 2, 3].map((id) => probe.batch(id));
  const shardIds = (p: number, r: number) => [8 + p * 8 + (r % 4) * 2, 9 + p * 8 + (r % 4) * 2];

  /** Rounds over the quadratic probe from zero weights: the tests' settings, with `options` and `deps` over them. */
  async function roundsOf(options: Partial<RoundsOptions> = {}, deps: Partial<RoundsDeps> = {}) {
    return new TogetherRounds(
      await makeVersion(0, new Float32Array(N), null),
      {
        outer: { lr: 1, momentum: 0 },
        gauntlet: GAUNTLET_DEFAULTS,
        validationChecks: 4,
        assignedChecks: 2,
        maxNewPerRound: 4,
        ...options,
      },
      {
        shape: SHAPE,
        probe,
        assigned: (p, r) => shardIds(Number(p.slice(1)), r).map((id) => probe.batch(id)),
        validation,
        random: mulberry32(5),
        ...deps,
      },
    );
  }

  async function setup(maxNewPerRound = 4, random = mulberry32(5)) {
    const assigned = new Map<string, number>();
    const rounds = await roundsOf(
      { maxNewPerRound },
      { assigned: (p, r) => shardIds(assigned.get(p)!, r).map((id) => probe.batch(id)), random },
    );
    return { v0: rounds.version, rounds, assigned };
  }

  function honestEntry(
    ef: ErrorFeedback,
    provider: string,
    shard: number,
    base: Float32Array,
    hash: string,
    r: number,
  ): Entry {
    const c = ef.step(probe.delta(base, shardIds(shard, r), 0.01, 4));
    return { provider, baseHash: hash, bytes: encodeContribution(c), contribution: c };
  }

  it('TOGETHER-R1: keys earn trust in three rounds, a crowd of new keys waits its turn, a second refusal bans, and the audit log replays', async () => {
    const { v0, rounds, assigned } = await setup(2);
    const efs = [0, 1, 2, 3].map(() => new ErrorFeedback(N, OPTS));
    [0, 1, 2, 3].forEach((p) => assigned.set(`k${p}`, p));
    assigned.set('bad', 5);
    const verdicts: Verdict[][] = [];
    for (let r = 0; r < 9; r++) {
      const v = rounds.version;
      const entries = [0, 1, 2, 3].map((p) => honestEntry(efs[p]!, `k${p}`, p, v.params, v.hash, r));
      const honest = entries[0]!.contribution!;
      entries.push({ provider: 'bad', baseHash: v.hash, bytes: new Uint8Array(), contribution: signFlipped(honest) });
      verdicts.push((await rounds.close(entries)).verdicts);
    }
    // No more than two keys without a record are loss-tested in a round; the rest wait, and take turns.
    for (const round of verdicts) {
      const tested = round.filter((x) => x.scored === 'full');
      expect(tested.length).toBeLessThanOrEqual(2);
    }
    expect(verdicts[0]!.map((x) => x.status)).toEqual(['accepted', 'accepted', 'deferred', 'deferred', 'deferred']);
    expect(verdicts[1]!.filter((x) => x.scored === 'full').map((x) => x.provider)).toEqual(['k2', 'k3']);
    const bad = verdicts.flat().filter((x) => x.provider === 'bad' && x.status !== 'deferred');
    expect(bad[0]!.reason).toBe('no-gain');
    expect(rounds.ratings.entry('bad').banned).toBe(true);
    expect(bad.at(-1)!.reason).toBe('banned');
    for (const p of ['k0', 'k1', 'k2', 'k3']) {
      expect(verdicts.flat().filter((x) => x.provider === p && x.status === 'refused')).toEqual([]);
      expect(rounds.ratings.trusted(p)).toBe(true);
    }
    // Anyone holding v0 and the audit log rebuilds the final version.
    let v = v0;
    for (const bytes of rounds.audit) v = await applyRoundPatch(v, decodeRoundPatch(bytes), SHAPE);
    expect(v.hash).toBe(rounds.version.hash);
    expect(probe.loss(v.params, 0)).toBeLessThan(probe.loss(v0.params, 0));
  });

  it('TOGETHER-R2: the new version does not depend on the order reveals arrive in', async () => {
    const a = await setup();
    const b = await setup();
    for (const s of [a, b]) [0, 1, 2].forEach((p) => s.assigned.set(`k${p}`, p));
    const mk = (v: { params: Float32Array; hash: string }) =>
      [0, 1, 2].map((p) => honestEntry(new ErrorFeedback(N, OPTS), `k${p}`, p, v.params, v.hash, 0));
    const ea = mk(a.rounds.version);
    const ra = await a.rounds.close(ea);
    const rb = await b.rounds.close([ea[2]!, ea[0]!, ea[1]!]);
    expect(rb.version.hash).toBe(ra.version.hash);
    expect(rb.patchBytes).toEqual(ra.patchBytes);
  });

  it('TOGETHER-R3: the outer guard publishes the rate with the lowest validation loss, the patch names it, and replay needs no search', async () => {
    const twoBatches = validation.slice(0, 2);
    const make = (outerSearch?: { factors: number[]; batches: number }) =>
      roundsOf(
        { validationChecks: 2, ...(outerSearch && { outerSearch }) },
        { validation: twoBatches, random: mulberry32(9) },
      );
    const factors = [8, 2, 1];
    const guarded = await make({ factors, batches: 2 });
    const plain = await make();
    const efs = [0, 1, 2].map(() => new ErrorFeedback(N, OPTS));
    const meanLoss = (params: Float32Array) => (probe.loss(params, 0) + probe.loss(params, 1)) / 2;
    const chosen: number[] = [];
    for (let r = 0; r < 3; r++) {
      const base = guarded.version;
      // Big inner steps: at 8 × the rate the mean step overshoots the targets, at 1 × it falls short.
      const entries = [0, 1, 2].map((p) => {
        const c = efs[p]!.step(probe.delta(base.params, shardIds(p, r), 0.2, 4));
        return { provider: `k${p}`, baseHash: base.hash, bytes: encodeContribution(c), contribution: c };
      });
      const result = await guarded.close(entries);
      const weighted = result.patch.entries.map((e) => ({
        contribution: entries.find((x) => x.provider === e.provider)!.contribution,
        weight: e.weight,
      }));
      expect(weighted.length).toBe(3);
      const candidates = await Promise.all(factors.map((f) => outerStep(base, weighted, { lr: f, momentum: 0 })));
      const losses = candidates.map((v) => meanLoss(v.params));
      const best = losses.indexOf(Math.min(...losses));
      expect(result.patch.outer.lr).toBe(factors[best]);
      expect(result.version.hash).toBe(candidates[best]!.hash);
      chosen.push(factors[best]!);
      if (r === 0) expect((await plain.close(entries)).patch.outer.lr).toBe(1);
    }
    // The first round's winner is the middle of the ladder: neither its first nor its last rate passed through.
    expect(chosen[0]).toBe(2);
    let v = await makeVersion(0, new Float32Array(N), null);
    for (const bytes of guarded.audit) v = await applyRoundPatch(v, decodeRoundPatch(bytes), SHAPE);
    expect(v.hash).toBe(guarded.version.hash);
    // A rate the outer step refuses is refused when the rounds are set up, not at a round's close.
    await expect(make({ factors: [20, 1], batches: 2 })).rejects.toThrow(/outer learning rate/);
    await expect(make({ factors: [1, 0.5], batches: 0 })).rejects.toThrow(/at least one batch/);
  });

  it("TOGETHER-R4: loss tests hold a contribution against the round's own trusted work: shrinking honest gains are kept, lazy work loses trust and is then refused, harm is refused", async () => {
    // random() = 0: every trusted contribution is sampled for a background test.
    const { rounds, assigned } = await setup(4, () => 0);
    [0, 1, 2, 3, 4].forEach((p) => assigned.set(`k${p}`, p));
    // No residual carried (decay 0), so a round's contribution is the size of that round's steps.
    const efs = [0, 1, 2, 3, 4].map(() => new ErrorFeedback(N, { ...OPTS, decay: 0 }));
    const entry = (p: number, lr: number, r: number, cheat?: (c: Contribution) => Contribution): Entry => {
      const v = rounds.version;
      let c = efs[p]!.step(probe.delta(v.params, shardIds(p, r), lr, 4));
      if (cheat) c = cheat(c);
      return { provider: `k${p}`, baseHash: v.hash, bytes: encodeContribution(c), contribution: c };
    };
    const lazy = (c: Contribution) => scaled(c, 0.02);
    const outcome = (vs: readonly Verdict[]) => vs.map((v) => [v.provider, v.status, v.reason, v.scored, v.weak]);
    // Three rounds of big steps earn k0, k1 and k4 trust and leave big gains behind the recent-median bar.
    for (let r = 0; r < 3; r++) await rounds.close([0, 1, 4].map((p) => entry(p, 0.01, r)));
    for (const k of ['k0', 'k1', 'k4']) expect(rounds.ratings.trusted(k)).toBe(true);
    // Training has slowed: steps a twentieth the size. k1 (trusted) and k3 (new) send a fiftieth of even that.
    const late = await rounds.close([
      entry(0, 0.0005, 3),
      entry(1, 0.0005, 3, lazy),
      entry(2, 0.0005, 3),
      entry(3, 0.0005, 3, lazy),
    ]);
    // The new keys are held against k0 and k1's step: the honest one is kept, the lazy one refused…
    expect(outcome(late.verdicts)).toEqual([
      ['k0', 'accepted', null, 'screened', false],
      ['k1', 'accepted', null, 'screened', false],
      ['k2', 'accepted', null, 'full', false],
      ['k3', 'refused', 'no-gain', 'full', false],
    ]);
    // …where the recent median, even at a first contribution's lowered share, refuses the honest one too.
    const k2 = late.patch.entries.find((e) => e.provider === 'k2')!;
    const base = late.background[0]!.base.params;
    const before = await rounds.gauntlet.baseLosses(base, validation);
    const byMedian = await rounds.gauntlet.score(
      base,
      1 / 4,
      decodeContribution(k2.bytes, SHAPE),
      validation,
      before,
      [],
      [],
      0,
      3,
    );
    expect(byMedian.refusal).toBe('no-gain');
    // The trusted keys' background tests, against round 3's published step: k0 passes; lazy k1 helped too
    // little — kept, but no longer trusted…
    expect(late.background.map((p) => p.screened.provider)).toEqual(['k0', 'k1']);
    const bg = await rounds.scoreBackground(late.background);
    expect(outcome(bg.verdicts)).toEqual([
      ['k0', 'accepted', null, 'sampled', false],
      ['k1', 'accepted', null, 'sampled', true],
    ]);
    expect(rounds.ratings.trusted('k1')).toBe(false);
    expect(rounds.ratings.entry('k1').refused).toBe(0);
    // …so its next lazy contribution is tested in full and refused before it counts.
    const next = await rounds.close([entry(0, 0.0005, 4), entry(1, 0.0005, 4, lazy)]);
    expect(outcome(next.verdicts)).toEqual([
      ['k0', 'accepted', null, 'screened', false],
      ['k1', 'refused', 'no-gain', 'full', false],
    ]);
    expect(next.patch.entries.map((e) => e.provider)).toEqual(['k0']);
    expect(refusalText(next.verdicts[1]!)).toMatch(
      /^did not lower the validation loss \(test: .+ per unit of rate against a bar of .+\)$/,
    );
    // A trusted key whose contribution clearly harms where the others' work helped is refused by its sampled test.
    const flipped = await rounds.close([entry(0, 0.0005, 5), entry(4, 0.0005, 5, signFlipped)]);
    const flippedBg = await rounds.scoreBackground(flipped.background.filter((p) => p.screened.provider === 'k4'));
    expect(outcome(flippedBg.verdicts)).toEqual([['k4', 'refused', 'no-gain', 'sampled', false]]);
    expect(rounds.ratings.trusted('k4')).toBe(false);
  });
  it("TOGETHER-R5: a sampled test applies the contribution and its reference at their share of the step the round published, so the guard's smaller rate and the others' part of the average are what the test measures", async () => {
    const rounds = await roundsOf(
      { outer: { lr: 8, momentum: 0 }, outerSearch: { factors: [1, 1 / 8], batches: 2 } },
      // 0: every trusted contribution is sampled, and the test's batches are the first ones.
      { random: () => 0 },
    );
    const efs = [0, 1, 2].map(() => new ErrorFeedback(N, { ...OPTS, decay: 0 }));
    const entries = (r: number, lr: number) =>
      [0, 1, 2].map((p) => {
        const v = rounds.version;
        const c = efs[p]!.step(probe.delta(v.params, shardIds(p, r), lr, 4));
        return { provider: `k${p}`, baseHash: v.hash, bytes: encodeContribution(c), contribution: c };
      });
    // Small steps earn the three keys trust at the job's rate…
    for (let r = 0; r < 3; r++) await rounds.close(entries(r, 0.001));
    for (const k of ['k0', 'k1', 'k2']) expect(rounds.ratings.trusted(k)).toBe(true);
    // …then big ones overshoot at it, and the guard publishes an eighth of it: the tests' share is 1 / 3, not 8 / 3.
    const sent = entries(3, 0.2);
    const late = await rounds.close(sent);
    expect(late.patch.outer.lr).toBe(1);
    expect(late.background).toHaveLength(3);
    const base = late.background[0]!.base.params;
    const share = late.patch.outer.lr / late.patch.entries.length;
    const batches = validation.slice(0, 4);
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const lossAt = (params: Float32Array) => mean(batches.map((_, i) => probe.loss(params, i)));
    const minus = (terms: readonly Contribution[]) => {
      const out = base.slice();
      for (const c of terms) forEachValue(c, (p, v) => (out[p] = out[p]! - share * v));
      return out;
    };
    const bg = await rounds.scoreBackground(late.background);
    for (const v of bg.verdicts) {
      const own = sent.find((e) => e.provider === v.provider)!.contribution;
      const rest = sent.filter((e) => e.provider !== v.provider).map((e) => e.contribution);
      // The contribution alone at its share of the published step…
      const gain = lossAt(base) - lossAt(minus([own]));
      expect(v.gainV).toBeCloseTo(gain, 6);
      expect(v.gainPerLr! * share).toBeCloseTo(gain, 6);
      // …against the round's step without it: the others at the same share, per contribution and unit of it.
      const restGain = lossAt(base) - lossAt(minus(rest));
      expect(v.bar).toBeCloseTo((GAUNTLET_DEFAULTS.minGainShare * restGain) / (share * rest.length), 6);
      expect(v.status).toBe('accepted');
    }
  });
  it('TOGETHER-R7: with the outer rate per contribution, a round takes it times the contributions it counts, at most MAX_OUTER_LR, and the audit replays', async () => {
    const per = await roundsOf({ outer: { lr: 0.75, momentum: 0 }, outerPerContribution: true });
    const fixed = await roundsOf({ outer: { lr: 0.75, momentum: 0 } });
    const efs = [0, 1, 2, 3].map(() => new ErrorFeedback(N, OPTS));
    for (const [r, count] of [
      [0, 4],
      [1, 1],
      [2, 3],
    ] as const) {
      const base = per.version;
      const entries = [0, 1, 2, 3]
        .slice(0, count)
        .map((p) => honestEntry(efs[p]!, `k${p}`, p, base.params, base.hash, r));
      const result = await per.close(entries);
      expect(result.patch.entries.length).toBe(count);
      expect(result.patch.outer.lr).toBe(0.75 * count);
      if (r === 0) expect((await fixed.close(entries)).patch.outer.lr).toBe(0.75);
    }
    let v = await makeVersion(0, new Float32Array(N), null);
    for (const bytes of per.audit) v = await applyRoundPatch(v, decodeRoundPatch(bytes), SHAPE);
    expect(v.hash).toBe(per.version.hash);
    const capped = await roundsOf({ outer: { lr: 4, momentum: 0 }, outerPerContribution: true });
    const base = capped.version;
    const three = [0, 1, 2].map((p) => honestEntry(new ErrorFeedback(N, OPTS), `k${p}`, p, base.params, base.hash, 0));
    expect((await capped.close(three)).patch.outer.lr).toBe(MAX_OUTER_LR);
  });

  /**
   * A linear loss per batch over `batches` batches: every batch rewards moving the first half of the weights
   * down; batches 0–1 weigh the second half by `punish` (< 0: moving it down costs there), the rest reward it.
   */
  function halvesProbe(batches: number, punish: number): LossProbe {
    const half = N / 2;
    const table = Array.from({ length: batches }, (_, b) =>
      Float32Array.from({ length: N }, (_, i) => (i < half ? 1 : b < 2 ? punish : 1)),
    );
    return {
      losses: async (params, list) =>
        list.map((b) => {
          const w = table[b.targets[0]!]!;
          let sum = 0;
          for (let i = 0; i < N; i++) sum += w[i]! * params[i]!;
          return sum;
        }),
    };
  }

  /**
   * Contributions of positive values on one half of the weights (a step down that half; each draw its own
   * positions from `seed` on, so no two look alike), and entries of them for `rounds`' current version.
   */
  function halfWork(rounds: TogetherRounds, seed: number) {
    const onHalf = (second: boolean) =>
      compress(
        Float32Array.from(gaussian(N, seed++), (v, i) => (i >= N / 2 === second ? Math.abs(v) : 0)),
        OPTS,
      );
    const entry = (provider: string, c: Contribution): Entry => ({
      provider,
      baseHash: rounds.version.hash,
      bytes: encodeContribution(c),
      contribution: c,
    });
    return { onHalf, entry };
  }

  it('TOGETHER-R6: a loss test under the bar on its first batches is decided on a larger draw: an honest contribution that two batches misjudge is kept, a sign flip is still refused', async () => {
    // Every batch rewards moving the first half of the weights down (the trusted keys' work); batches 2–5
    // reward the same on the second half (the new key's), batches 0–1 punish it.
    const linear = halvesProbe(6, -0.5);
    const rounds = await roundsOf(
      { validationChecks: 2, assignedChecks: 0 },
      {
        probe: linear,
        assigned: () => [],
        validation: [0, 1, 2, 3, 4, 5].map((id) => probe.batch(id)),
        // 0: the first draw is batches 0–1, the larger one 0–5.
        random: () => 0,
      },
    );
    const { onHalf, entry } = halfWork(rounds, 100);
    for (let r = 0; r < 3; r++) await rounds.close(['k0', 'k1'].map((k) => entry(k, onHalf(false))));
    for (const k of ['k0', 'k1']) expect(rounds.ratings.trusted(k)).toBe(true);
    const honest = onHalf(true);
    const result = await rounds.close([
      entry('k0', onHalf(false)),
      entry('k1', onHalf(false)),
      entry('k2', honest),
      entry('k3', signFlipped(onHalf(false))),
    ]);
    const [k2, k3] = result.verdicts.filter((v) => v.scored === 'full');
    // On batches 0–1 alone the honest one loses; on all six it gains (half of what a trusted one does). The
    // sign flip of the trusted keys' work loses on every batch.
    expect(k2).toMatchObject({ provider: 'k2', status: 'accepted', retested: true });
    expect(k2!.gainPerLr! > k2!.bar!).toBe(true);
    expect(k3).toMatchObject({ provider: 'k3', status: 'refused', reason: 'no-gain', retested: true });
    expect(refusalText(k3!)).toMatch(/on a larger draw of batches/);
    // What passes on its first draw is not tested again.
    expect(result.verdicts.filter((v) => v.retested).map((v) => v.provider)).toEqual(['k2', 'k3']);
  });
  it("TOGETHER-R8: a trusted key's sampled test refuses harm only where its contribution also raised the loss on the batches it trained on: honest work the validation batches misjudge loses its trust, a sign flip is refused", async () => {
    // Every batch rewards moving the first half of the weights down. Validation batches 0–1 punish moving
    // the second half down; the keys' own batches (2–3) reward it as well.
    const linear = halvesProbe(4, -1);
    const rounds = await roundsOf(
      { validationChecks: 2, assignedChecks: 2 },
      {
        probe: linear,
        assigned: () => [2, 3, 2, 3].map((id) => probe.batch(id)),
        validation: [0, 1].map((id) => probe.batch(id)),
        // 0: every trusted contribution is sampled.
        random: () => 0,
      },
    );
    const { onHalf, entry } = halfWork(rounds, 200);
    const keys = ['k0', 'k1', 'k2', 'k3'];
    for (let r = 0; r < 3; r++) await rounds.close(keys.map((k) => entry(k, onHalf(false))));
    for (const k of keys) expect(rounds.ratings.trusted(k)).toBe(true);
    // k2 works where its own batches gain and the validation batches lose; k3 flips the trusted work's sign.
    const result = await rounds.close([
      entry('k0', onHalf(false)),
      entry('k1', onHalf(false)),
      entry('k2', onHalf(true)),
      entry('k3', signFlipped(onHalf(false))),
    ]);
    const tested = result.background.filter((p) => p.screened.provider === 'k2' || p.screened.provider === 'k3');
    const [k2, k3] = (await rounds.scoreBackground(tested)).verdicts;
    // Both read as harm on the validation batches, by more than HARM_BARS bars.
    for (const v of [k2!, k3!]) expect(v.gainPerLr! <= -HARM_BARS * v.bar!).toBe(true);
    expect(k2!.gainA! > 0).toBe(true);
    expect(k3!.gainA! < 0).toBe(true);
    expect(k2).toMatchObject({ provider: 'k2', status: 'accepted', weak: true, scored: 'sampled' });
    expect(rounds.ratings.trusted('k2')).toBe(false);
    expect(rounds.ratings.entry('k2').refused).toBe(0);
    expect(k3).toMatchObject({ provider: 'k3', status: 'refused', reason: 'no-gain', weak: false, scored: 'sampled' });
    expect(rounds.ratings.entry('k3').refused).toBe(1);
  });

  it("TOGETHER-R9: loss tests drawn and started before the reveals (prepare) give the close's verdicts and version exactly, with the prepared forwards taken off the close's", async () => {
    const ahead = await setup(2, mulberry32(11));
    const plain = await setup(2, mulberry32(11));
    const keys = ['k0', 'k1', 'k2', 'k3', 'bad'];
    for (const s of [ahead, plain]) keys.forEach((k, p) => s.assigned.set(k, p));
    const efs = [0, 1, 2, 3].map(() => new ErrorFeedback(N, OPTS));
    let saved = 0;
    for (let r = 0; r < 8; r++) {
      const v = ahead.rounds.version;
      const entries = [0, 1, 2, 3].map((p) => honestEntry(efs[p]!, `k${p}`, p, v.params, v.hash, r));
      entries.push({ ...entries[0]!, provider: 'bad', contribution: signFlipped(entries[0]!.contribution!) });
      const prepared = await ahead.rounds.prepare(keys);
      const a = await ahead.rounds.close(entries);
      const b = await plain.rounds.close(entries);
      expect(a.version.hash).toBe(b.version.hash);
      expect(a.verdicts).toEqual(b.verdicts);
      expect(a.forwards + prepared).toBe(b.forwards);
      saved += prepared;
    }
    // Trust, deferral, a refusal and a ban all happened on the way, and most rounds had new keys to test.
    expect(ahead.rounds.ratings.entry('bad').banned).toBe(true);
    for (const k of ['k0', 'k1', 'k2', 'k3']) expect(ahead.rounds.ratings.trusted(k)).toBe(true);
    expect(saved).toBeGreaterThan(0);
    // A new key the requester did not prepare for is still tested in full, on batches drawn at the close.
    const v = ahead.rounds.version;
    const late = honestEntry(new ErrorFeedback(N, OPTS), 'k4', 4, v.params, v.hash, 8);
    ahead.assigned.set('k4', 4);
    await ahead.rounds.prepare(['k0', 'k1']);
    const result = await ahead.rounds.close([late]);
    expect(result.verdicts[0]).toMatchObject({ provider: 'k4', scored: 'full' });
    expect(result.forwards).toBeGreaterThan(0);
  });
});

describe('memo probe', () => {
  it('TOGETHER-M1: the memo probe runs each batch once per weights array, and a changed copy of the weights gets its own losses', async () => {
    const common = gaussian(N, 40, 1);
    const inner = new QuadraticProbe(N, 4, common, 2, 4);
    const asked: number[][] = [];
    const memo = new MemoProbe({
      losses: (params, batches) => {
        asked.push(batches.map((b) => b.targets[0]!));
        return inner.losses(params, batches);
      },
    });
    const [b0, b1, b2] = [0, 1, 2].map((id) => inner.batch(id));
    const w = gaussian(N, 41);
    expect(await memo.losses(w, [b0!, b1!, b0!])).toEqual(await inner.losses(w, [b0!, b1!, b0!]));
    expect(await memo.losses(w, [b1!, b2!])).toEqual(await inner.losses(w, [b1!, b2!]));
    const copy = w.slice();
    copy[0] = copy[0]! + 1;
    expect(await memo.losses(copy, [b0!])).toEqual(await inner.losses(copy, [b0!]));
    expect(asked).toEqual([[0, 1], [2], [0]]);
    expect(memo.forwards).toBe(4);
  });
});

describe('commit and reveal', () => {
  it('TOGETHER-E1: a reveal must match its signed commitment; bytes that do not decode are malformed', async () => {
    const id = await createIdentity();
    const other = await createIdentity();
    const c = compress(gaussian(N, 40), OPTS);
    const bytes = encodeContribution(c);
    const digest = await commitDigest(bytes);
    const signature = await sign(id, commitMessage('job', 3, 'v3', digest));
    const commitment = { provider: id.peerId, baseHash: 'v3', digest, signature };
    const ok = await entryFromReveal('job', 3, commitment, bytes, SHAPE);
    expect(ok.refused).toBeUndefined();
    expect(ok.contribution?.positions).toEqual(c.positions);
    const swapped = encodeContribution(compress(gaussian(N, 41), OPTS));
    expect((await entryFromReveal('job', 3, commitment, swapped, SHAPE)).refused).toBe('commitment');
    expect((await entryFromReveal('job', 4, commitment, bytes, SHAPE)).refused).toBe('commitment');
    expect((await entryFromReveal('job', 3, { ...commitment, provider: other.peerId }, bytes, SHAPE)).refused).toBe(
      'commitment',
    );
    const junk = Uint8Array.of(1, 2, 3);
    const junkCommit = {
      ...commitment,
      digest: await commitDigest(junk),
      signature: await sign(id, commitMessage('job', 3, 'v3', await commitDigest(junk))),
    };
    expect((await entryFromReveal('job', 3, junkCommit, junk, SHAPE)).refused).toBe('malformed');
    expect(() => new ErrorFeedback(N, OPTS).step(new Float32Array(N + 1))).toThrow(ContributionError);
  });
});
