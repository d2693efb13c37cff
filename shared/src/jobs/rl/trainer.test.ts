import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../random';
import { ADAMW_DEFAULTS, arenaFor, type Backend, fromBf16, toBf16, WasmBackend } from '../../train';
import { greedyAccuracy, greedyCompletions } from './accuracy';
import { cheatClaims, RL_ADVERSARY_KINDS, type RlAdversaryKind } from './adversary';
import { applyPolicyPatch, type PolicyVersion } from './policy-version';
import { rollOut } from './rollout';
import { teacherForce } from './runner';
import { tempered } from './sampling';
import { sketchHidden } from './sketch';
import { ADDITION_3, type Example, exactMatchReward, type TaskSet, taskSet } from './tasks';
import { backendWith, policyParams, RL_TEST_CONFIG } from './testing';
import { type RlStepResult, RlTrainer, type RlTrainerOptions } from './trainer';
import type { RolloutClaim } from './verify';
import { decodeIds, EOS, encodeText } from './vocab';
import { warmUp } from './warmup';

const addition = taskSet(ADDITION_3, 7, 40);

/**
 * Addition's prompts with the untrained test policy's own greedy completions as answers: the policy then
 * gets some samples right and some wrong, so groups have non-zero advantages and GRPO moves the weights
 * (on real addition it would score 0 everywhere and learn nothing).
 */
function ownAnswersTask(params: Float32Array): TaskSet {
  const b = backendWith('wasm', params);
  const answer = (prompt: string) => decodeIds(greedyCompletions(b, [encodeText(prompt)], MAX_NEW)[0]!);
  const train = new Map<number, Example>();
  return {
    name: 'own-answers',
    eval: addition.eval.map((e) => ({ prompt: e.prompt, answer: answer(e.prompt) })),
    train(i) {
      if (!train.has(i)) train.set(i, { prompt: addition.train(i).prompt, answer: answer(addition.train(i).prompt) });
      return train.get(i)!;
    },
    isHeldOut: (p) => addition.isHeldOut(p),
  };
}

/** ×2 on the test init: sharp enough that a third of 3-token samples equal the greedy completion. */
const MASTER = Float32Array.from(policyParams(1), (x) => x * 2);
const MAX_NEW = 3;
const task = ownAnswersTask(MASTER);

function options(over: Partial<RlTrainerOptions> = {}): RlTrainerOptions {
  return {
    task,
    config: RL_TEST_CONFIG,
    promptsPerProvider: 2,
    samples: 4,
    maxNew: MAX_NEW,
    temperature: 1,
    hp: { ...ADAMW_DEFAULTS, lr: 1e-3, weightDecay: 0 },
    maxProviders: 3,
    evalSize: 16,
    random: mulberry32(99),
    ...over,
  };
}

function provider(p: PolicyVersion): Backend {
  return backendWith('wasm', p.params);
}

/** A completion the provider did not sample (the sum's first digits), with an honest sketch and log-probs over it. */
function handWritten(b: Backend, c: RolloutClaim, answer: string): RolloutClaim {
  const completion = [...encodeText(answer.slice(0, MAX_NEW - 1)), EOS];
  const seq = [...c.prompt, ...completion];
  const pass = teacherForce(b, seq);
  const V = RL_TEST_CONFIG.vocab;
  const logprobs = completion.map((id, j) => Math.log(tempered(pass.logits, 1, (c.prompt.length - 1 + j) * V, V)[id]!));
  return { ...c, completion, logprobs, sketch: sketchHidden(pass.hidden, seq.length, RL_TEST_CONFIG.width) };
}

async function honestRound(trainer: RlTrainer, keys: string[]) {
  const round = trainer.openRound(keys);
  const claims = new Map<string, RolloutClaim[]>();
  for (const [key, a] of round.assignments)
    claims.set(key, await rollOut(provider(trainer.policy), a, trainer.policy.version));
  return { ...round, claims };
}

function reasons(r: RlStepResult | readonly { ok: boolean; reason?: string; providerKey: string }[]): string[] {
  const vs = 'verdicts' in r ? r.verdicts : r;
  return vs.filter((v) => !v.ok).map((v) => `${v.providerKey}:${v.reason}`);
}

describe('RlTrainer: a round from plan to published version', () => {
  it('RL-TR1: an honest round is accepted in full; the next version is the bf16 master, rebuilt from its patch', async () => {
    const trainer = await RlTrainer.create(options(), MASTER);
    const v0 = trainer.policy;
    expect(v0.version).toBe(0);
    const { claims } = await honestRound(trainer, ['a', 'b']);
    expect(trainer.submit([...claims.values()].flat())).toEqual([]);
    expect(trainer.pending).toBe(16);
    const r = await trainer.step();
    expect(reasons(r)).toEqual([]);
    expect(r.accepted).toBe(16);
    expect(r.verdicts.every((v) => v.ok && v.checked && v.lag === 0)).toBe(true);
    expect(r.policy.version).toBe(1);
    expect(trainer.policy).toBe(r.policy);
    expect(r.policy.hash).not.toBe(v0.hash);
    expect((await applyPolicyPatch(v0, r.patch, 1)).hash).toBe(r.policy.hash);
    expect(Array.from(r.policy.bf16)).toEqual(Array.from(toBf16(trainer.master)));
    expect(trainer.policyAt(0)).toBe(v0);
    expect(r.verifySeconds).toBeGreaterThan(0);
    expect(r.trainSeconds).toBeGreaterThan(0);
    expect(r.clippedFraction).toBe(0);
    trainer.dispose();
  });

  it('RL-TR2: rewards come from the task, never from the claim; the mean is over accepted rollouts', async () => {
    const trainer = await RlTrainer.create(options(), MASTER);
    const { assignments, claims } = await honestRound(trainer, ['a']);
    const a = assignments.get('a')!;
    const b = provider(trainer.policy);
    // One claim per prompt rewritten to the right answer: refused (its tokens are not what the seed draws).
    const answers = new Map([...a.prompts.keys()].map((i) => [i, addition.train(i).answer]));
    const list = claims.get('a')!.map((c) => (c.sample === 0 ? handWritten(b, c, answers.get(c.promptIndex)!) : c));
    trainer.submit(list);
    const r = await trainer.step();
    for (const v of r.verdicts)
      if (v.ok) expect(v.reward).toBe(exactMatchReward(task.train(v.promptIndex), v.completionText!));
      else expect(v.reason).toBe('sampling');
    expect(r.refused).toBe(2);
    const rewards = r.verdicts.filter((v) => v.ok).map((v) => v.reward!);
    expect(r.meanReward).toBeCloseTo(rewards.reduce((s, x) => s + x, 0) / rewards.length, 12);
    trainer.dispose();
  });

  it('RL-TR3: every refusal kind reaches the verdicts with its reason', async () => {
    const trainer = await RlTrainer.create(options({ maxProviders: 4 }), MASTER);
    const { round, assignments, claims } = await honestRound(trainer, ['honest', 'cheat', 'other', 'late']);
    const cheat = claims.get('cheat')!;
    const [c0, c1, c2, c3, c4, c5, c6] = cheat;
    const immediate = trainer.submit([
      { ...c0!, logprobs: c0!.logprobs.slice(1) }, // malformed
      { ...c1!, round: round + 5 }, // not-assigned
      { ...c2!, version: 1 }, // future-version
      { ...c3!, seed: c3!.seed ^ 1 }, // seed
      c4!,
      c4!, // replay
    ]);
    expect(reasons(immediate)).toEqual([
      'cheat:malformed',
      'cheat:not-assigned',
      'cheat:future-version',
      'cheat:seed',
      'cheat:replay',
    ]);
    // Tampered log-probs, and a completion written by hand.
    const b = provider(trainer.policy);
    trainer.submit([
      { ...c5!, logprobs: c5!.logprobs.map((x) => x - 0.5) },
      handWritten(b, c6!, addition.train(c6!.promptIndex).answer),
    ]);
    // Another model's rollouts (the same seeds, different weights): the sketch gives it away.
    const other = backendWith('wasm', policyParams(2));
    trainer.submit(await rollOut(other, assignments.get('other')!, 0));
    trainer.submit(claims.get('honest')!);
    const r = await trainer.step();
    const got = reasons(r);
    expect(got.filter((x) => x.startsWith('honest'))).toEqual([]);
    expect(got).toContain('cheat:logprobs');
    expect(got).toContain('cheat:sampling');
    expect(got.filter((x) => x === 'other:sketch')).toHaveLength(8);
    // A version three behind: refused stale (round still open, three steps later).
    await trainer.step();
    await trainer.step();
    const late = trainer.submit(claims.get('late')!);
    expect(new Set(reasons(late))).toEqual(new Set(['late:stale-version']));
    trainer.dispose();
  });

  it('RL-TR4: claims 1 and 2 versions old are accepted (checked on their version, ratio-corrected); 3 are refused', async () => {
    const trainer = await RlTrainer.create(options(), MASTER);
    const v0 = trainer.policy;
    const first = await honestRound(trainer, ['a', 'b']);
    trainer.submit(first.claims.get('a')!);
    await trainer.step(); // version 1; b's rollouts (version 0) are now lag 1
    trainer.submit(first.claims.get('b')!);
    const second = await honestRound(trainer, ['a', 'b']);
    trainer.submit(second.claims.get('a')!);
    const r = await trainer.step();
    expect(reasons(r)).toEqual([]);
    const lags = r.verdicts.map((v) => `${v.providerKey}:${v.lag}`);
    expect(lags.filter((x) => x === 'b:1')).toHaveLength(8);
    expect(lags.filter((x) => x === 'a:0')).toHaveLength(8);
    expect(r.verdicts.every((v) => v.checked)).toBe(true);
    // Lag 2: b's round-2 rollouts (version 1) after two more steps... one more step makes them lag 1, two lag 2.
    await trainer.step();
    trainer.submit(second.claims.get('b')!);
    const lag2 = await trainer.step();
    expect(reasons(lag2)).toEqual([]);
    expect(lag2.verdicts.every((v) => v.lag === 2)).toBe(true);
    expect(trainer.policyAt(v0.version)).toBeUndefined();
    trainer.dispose();
  });

  it('RL-TR5: a new key is checked on every rollout, a trusted one on a sample only', async () => {
    const trainer = await RlTrainer.create(options({ promptsPerProvider: 4, maxProviders: 1 }), MASTER);
    for (let i = 0; i < 6; i++) {
      const { claims } = await honestRound(trainer, ['a']);
      trainer.submit(claims.get('a')!);
      const r = await trainer.step();
      expect(reasons(r)).toEqual([]);
      // The first 64 rollouts (rounds 1–4) are all checked.
      if (i < 4) expect(r.verdicts.every((v) => v.checked)).toBe(true);
    }
    expect(trainer.recordOf('a').accepted).toBe(96);
    const { claims } = await honestRound(trainer, ['a']);
    trainer.submit(claims.get('a')!);
    const r = await trainer.step();
    expect(r.verdicts.filter((v) => !v.checked).length).toBeGreaterThan(0);
    trainer.dispose();
  });

  it('RL-TR6: the forward runs on the bf16 policy while AdamW steps the f32 master (steps below a bf16 ulp accumulate)', async () => {
    const trainer = await RlTrainer.create(options({ hp: { ...ADAMW_DEFAULTS, lr: 1e-6, weightDecay: 0 } }), MASTER);
    const m0 = trainer.master;
    const { claims } = await honestRound(trainer, ['a', 'b']);
    trainer.submit([...claims.values()].flat());
    const r = await trainer.step();
    const m1 = trainer.master;
    let moved = 0;
    let crossed = 0;
    for (let i = 0; i < m0.length; i++) {
      if (m1[i] !== m0[i]) moved++;
      if (r.policy.bf16[i] !== trainer.policyAt(0)!.bf16[i]) crossed++;
    }
    // lr 1e-6 moves most weights by far less than a bf16 step (2^-8 relative): the master keeps them.
    expect(moved).toBeGreaterThan(m0.length / 2);
    expect(crossed).toBeLessThan(moved / 10);
    expect(Array.from(r.policy.params)).toEqual(Array.from(fromBf16(toBf16(m1))));
    trainer.dispose();
  });
});

describe('RlTrainer: the batch and its limits', () => {
  it('RL-TR9: a step takes one round of rows, oldest first; the rest wait and are judged by the next step', async () => {
    const trainer = await RlTrainer.create(options({ maxProviders: 1 }), MASTER);
    expect(trainer.rows).toBe(8);
    expect(() => trainer.openRound(['a', 'b'])).toThrow(/maxProviders/);
    const first = await honestRound(trainer, ['a']);
    const second = await honestRound(trainer, ['a']);
    trainer.submit([...first.claims.get('a')!, ...second.claims.get('a')!]);
    const r1 = await trainer.step();
    expect(r1.verdicts.map((v) => v.round)).toEqual(Array(8).fill(first.round));
    expect(trainer.pending).toBe(8);
    const r2 = await trainer.step();
    expect(reasons(r2)).toEqual([]);
    expect(r2.verdicts.map((v) => `${v.round}:${v.lag}`)).toEqual(Array(8).fill(`${second.round}:1`));
    // An empty step still publishes the next version (the same weights).
    const r3 = await trainer.step();
    expect(r3.verdicts).toEqual([]);
    expect(r3.policy.version).toBe(3);
    expect(r3.policy.hash).toBe(r2.policy.hash);
    trainer.dispose();
  });
});

describe('cheating providers (adversary.ts)', () => {
  it('RL-ADV1: every kind of cheat has claims refused, with the reason its kind predicts; the honest key none', async () => {
    const trainer = await RlTrainer.create(options({ maxProviders: 7 }), MASTER);
    const v0 = trainer.policy;
    // Three honest steps first, so that a policy MAX_VERSION_LAG + 1 versions old exists and differs.
    for (let i = 0; i < 3; i++) {
      const { claims } = await honestRound(trainer, ['warm']);
      trainer.submit(claims.get('warm')!);
      await trainer.step();
    }
    const keys = ['honest', ...RL_ADVERSARY_KINDS];
    const { assignments, claims: previous } = await honestRound(trainer, keys);
    trainer.submit(previous.get('replay')!);
    const round = trainer.openRound(keys);
    const held = provider(trainer.policy);
    const verdicts = [];
    for (const key of keys) {
      const a = round.assignments.get(key)!;
      const claims =
        key === 'honest'
          ? await rollOut(held, a, trainer.policy.version)
          : await cheatClaims(key as RlAdversaryKind, {
              backend: held,
              assignment: a,
              version: trainer.policy.version,
              answer: (i) => addition.train(i).answer,
              other: backendWith('wasm', policyParams(2)),
              stale: provider(v0),
              previous: previous.get(key)!,
            });
      verdicts.push(...trainer.submit(claims));
    }
    verdicts.push(...(await trainer.step()).verdicts);
    const refused = new Map<string, Set<string>>();
    for (const v of verdicts)
      if (!v.ok) refused.set(v.providerKey, (refused.get(v.providerKey) ?? new Set()).add(v.reason!));
    expect(refused.has('honest')).toBe(false);
    expect([...refused.get('hand-written')!]).toEqual(['sampling']);
    expect([...refused.get('other-model')!]).toEqual(['sketch']);
    expect([...refused.get('stale-version')!].every((r) => /^(sketch|sampling|logprobs)$/.test(r))).toBe(true);
    expect([...refused.get('own-seeds')!]).toEqual(['sampling']);
    expect([...refused.get('tampered-logprobs')!]).toEqual(['logprobs']);
    expect([...refused.get('replay')!]).toEqual(['replay']);
    expect(assignments.size).toBe(keys.length);
    trainer.dispose();
  });
});

describe('greedy accuracy and the supervised warm-up', () => {
  it('RL-TR7: batched greedy decoding gives the one-row completions; accuracy is exact match', () => {
    const params = policyParams(3);
    const one = backendWith('wasm', params);
    const many = new WasmBackend(arenaFor(RL_TEST_CONFIG, 5, RL_TEST_CONFIG.context));
    many.writeFloats(many.arena.paramsAt, params);
    const prompts = task.eval.slice(0, 7).map((e) => encodeText(e.prompt));
    const batched = greedyCompletions(many, prompts, 6);
    prompts.forEach((p, i) => expect(greedyCompletions(one, [p], 6)[0]).toEqual(batched[i]));
    const acc = greedyAccuracy(many, task.eval.slice(0, 7), 6);
    const right = task.eval.slice(0, 7).filter((e, i) => decodeIds(batched[i]!) === e.answer).length;
    expect(acc).toBe(right / 7);
  });

  it('RL-TR8: warmUp trains on the answers, stops at the target or maxSteps, and reports held-out accuracy', async () => {
    const seen: number[] = [];
    const r = await warmUp(
      policyParams(1),
      { task, config: RL_TEST_CONFIG, lr: 3e-3, batch: 8, maxSteps: 30, evalEvery: 10, target: [0.9, 1], seed: 1 },
      (p) => void seen.push(p.loss),
    );
    expect(r.steps).toBe(30);
    expect(r.reached).toBe(false);
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(seen.at(-1)!).toBeLessThan(seen[0]!);
    // Already in range: no step at all.
    const none = await warmUp(r.master, {
      task,
      config: RL_TEST_CONFIG,
      lr: 3e-3,
      batch: 8,
      maxSteps: 30,
      evalEvery: 10,
      target: [0, 1],
      seed: 1,
    });
    expect(none.steps).toBe(0);
    expect(Array.from(none.master)).toEqual(Array.from(r.master));
  });
});

describe('the warm-up lands inside its range (RL-TR12)', () => {
  it('RL-TR12: an evaluation past the range goes back and evaluates more often, retracing the same weights', async () => {
    // Held-out accuracy on 1–2-letter reversal jumps from 0.03 at step 80 to 0.57 at step 100 (evaluated every 20).
    const reverse = taskSet({ kind: 'reverse', minLength: 1, maxLength: 2 }, 7, 40);
    const base = { task: reverse, config: RL_TEST_CONFIG, lr: 1e-2, batch: 8, maxSteps: 120, evalEvery: 20, seed: 1 };
    const open = await warmUp(policyParams(1), { ...base, target: [0.35, 1] });
    expect(open.accuracy).toBeGreaterThan(0.5);
    const seen: number[] = [];
    const r = await warmUp(policyParams(1), { ...base, target: [0.35, 0.5] }, (p) => void seen.push(p.step));
    expect(r.reached).toBe(true);
    expect(r.accuracy).toBeGreaterThanOrEqual(0.35);
    expect(r.accuracy).toBeLessThanOrEqual(0.5);
    expect(r.steps).toBeLessThan(open.steps);
    // It went back at least once, and its weights are those of a plain run of as many steps.
    expect(seen.some((s, i) => i > 0 && s <= seen[i - 1]!)).toBe(true);
    const plain = await warmUp(policyParams(1), { ...base, evalEvery: r.steps, target: [0.35, 2] });
    expect(plain.steps).toBe(r.steps);
    expect(r.master.every((x, i) => Object.is(x, plain.master[i]))).toBe(true);
  });
});

describe('RlTrainer across a reload (RL-TR10)', () => {
  it('RL-TR10: a trainer made from the master, version and exported state takes the step the first would have', async () => {
    // A constant nonce source: both trainers deal the same seeds, so the same claims are valid for both.
    const same = () => 0.5;
    const a = await RlTrainer.create(options({ random: same }), MASTER);
    const first = await honestRound(a, ['p']);
    a.submit(first.claims.get('p')!);
    await a.step();
    const b = await RlTrainer.create(options({ random: same }), a.master, a.policy.version, a.exportState());
    const next = await honestRound(a, ['p']);
    expect(b.openRound(['p']).assignments.get('p')).toEqual(next.assignments.get('p'));
    a.submit(next.claims.get('p')!);
    b.submit(next.claims.get('p')!);
    const [sa, sb] = [await a.step(), await b.step()];
    expect(sb.accepted).toBe(sa.accepted);
    expect(sa.accepted).toBeGreaterThan(0);
    expect(Array.from(b.master)).toEqual(Array.from(a.master));
    expect(b.policy.hash).toBe(a.policy.hash);
    a.dispose();
    b.dispose();
    await expect(RlTrainer.create(options({ temperature: 0.7 }), MASTER)).rejects.toThrow(/temperature 1/);
    const wrong = { t: 1, nextIndex: 0, nextRound: 1, m: new Float32Array(3), v: new Float32Array(3) };
    await expect(RlTrainer.create(options(), MASTER, 0, wrong)).rejects.toThrow(/optimizer state/);
  });
});

describe('RlTrainer: several updates per step (RL-TR11)', () => {
  it('RL-TR11: each later update runs a new forward, so its ratios leave 1 and the clip acts; one update per step is the default', async () => {
    const same = () => 0.5;
    const hp = { ...ADAMW_DEFAULTS, lr: 1e-2, weightDecay: 0 };
    const one = await RlTrainer.create(options({ random: same, hp }), MASTER);
    const three = await RlTrainer.create(options({ random: same, hp, updatesPerStep: 3 }), MASTER);
    const round = await honestRound(one, ['p', 'q']);
    expect(three.openRound(['p', 'q']).assignments).toEqual(round.assignments);
    const claims = [...round.claims.values()].flat();
    one.submit(claims);
    three.submit(claims);
    const [r1, r3] = [await one.step(), await three.step()];
    expect(r3.accepted).toBe(r1.accepted);
    expect(r1.clippedFraction).toBe(0);
    expect(r3.clippedFraction).toBeGreaterThan(0);
    expect(one.exportState().t).toBe(1);
    expect(three.exportState().t).toBe(3);
    // The published version is still the bf16 master, and its patch rebuilds it.
    expect(Array.from(r3.policy.bf16)).toEqual(Array.from(toBf16(three.master)));
    expect((await applyPolicyPatch(three.policyAt(0)!, r3.patch, 1)).hash).toBe(r3.policy.hash);
    const [m0, m1, m3] = [MASTER, one.master, three.master];
    let further = 0;
    for (let i = 0; i < m0.length; i++) if (Math.abs(m3[i]! - m0[i]!) > Math.abs(m1[i]! - m0[i]!)) further++;
    expect(further).toBeGreaterThan(m0.length / 2);
    one.dispose();
    three.dispose();
    for (const bad of [0, 1.5])
      await expect(RlTrainer.create(options({ updatesPerStep: bad }), MASTER)).rejects.toThrow(/updatesPerStep/);
  });
});
