import { describe, expect, it } from 'vitest';
import { ADAMW_DEFAULTS, arenaFor, newTrainState, restoreInto, WasmBackend } from '../../train';
import { AUDIT_MIN_RATE, AUDIT_TRUST_AFTER, auditRate, chosenForAudit, recordVerdict } from './audit';
import { forwardRollouts, grpoUpdate } from './grpo-step';
import { type RoundConfig, planRound, scoreAccepted } from './round';
import { generate } from './runner';
import { rolloutSeed } from './sampling';
import { ADDITION_3, taskSet } from './tasks';
import { backendWith, policyParams, RL_TEST_CONFIG } from './testing';
import { checkRecomputed, precheckRollout, type RolloutClaim } from './verify';
import { EOS, encodeText } from './vocab';

const task = taskSet(ADDITION_3, 5, 50);
const CFG: RoundConfig = {
  round: 1,
  roundNonce: 'beacon-1',
  promptsPerProvider: 2,
  samples: 4,
  maxNew: 6,
  temperature: 1,
};

describe('an RL round: plan, rollouts, verification, rewards, update', () => {
  it('RL-R1: prompts are dealt once each, never from the held-out set, deterministically', () => {
    const plan = planRound(task, CFG, ['a', 'b', 'c'], 10);
    expect(plan.nextIndex).toBe(16);
    const all = [...plan.assignments.values()].flatMap((a) => [...a.prompts.keys()]);
    expect(new Set(all).size).toBe(6);
    for (const e of plan.examples.values()) expect(task.isHeldOut(e.prompt)).toBe(false);
    expect(planRound(task, CFG, ['a', 'b', 'c'], 10).examples).toEqual(plan.examples);
  });

  it('RL-R2: rewards come from the task, not the claim; advantages are relative within each group', () => {
    const plan = planRound(task, CFG, ['a'], 0);
    const [index, example] = [...plan.examples][0]!;
    const claim = (answer: string, sample: number) =>
      ({
        providerKey: 'a',
        promptIndex: index,
        sample,
        prompt: encodeText(example.prompt),
        completion: [...encodeText(answer), EOS],
        logprobs: [],
      }) as unknown as RolloutClaim;
    const { rollouts, groups } = scoreAccepted(plan, [
      claim(example.answer, 0),
      claim('0000', 1),
      claim('1', 2),
      { ...claim(example.answer, 3), promptIndex: 999 },
    ]);
    expect(groups).toEqual([{ promptIndex: index, rewards: [1, 0, 0] }]);
    expect(rollouts.map((r) => Math.sign(r.advantage))).toEqual([1, -1, -1]);
  });

  it('RL-R3: two honest providers (WASM, JS f32) and a faker, checked on the one forward GRPO reuses', () => {
    const params = policyParams(1);
    const plan = planRound(task, CFG, ['wasm-key', 'js-key', 'faker'], 0);
    const seen = new Set<string>();
    const claims: RolloutClaim[] = [];
    const refused: string[] = [];
    for (const [key, a] of plan.assignments) {
      const provider = backendWith(key === 'js-key' ? 'js' : 'wasm', params);
      for (const [promptIndex, prompt] of a.prompts)
        for (let sample = 0; sample < a.samples; sample++) {
          const seed = rolloutSeed({ ...a, promptIndex, sample });
          const r = generate(provider, prompt, seed, a.maxNew);
          let claim: RolloutClaim = {
            providerKey: key,
            round: a.round,
            promptIndex,
            sample,
            seed,
            version: 0,
            prompt,
            ...r,
          };
          if (key === 'faker') {
            const completion = [...encodeText(plan.examples.get(promptIndex)!.answer), EOS];
            claim = { ...claim, completion, logprobs: completion.map(() => -0.1) };
          }
          const pre = precheckRollout(claim, a, 0, seen, RL_TEST_CONFIG);
          if (pre.ok) claims.push(claim);
          else refused.push(`${key}:${pre.reason}`);
        }
    }
    // The trainer's one forward over every prechecked rollout (current version: lag 0).
    const b = new WasmBackend(arenaFor(RL_TEST_CONFIG, claims.length, RL_TEST_CONFIG.context));
    restoreInto(b, newTrainState(RL_TEST_CONFIG, ADAMW_DEFAULTS, 0));
    b.writeFloats(b.arena.paramsAt, params);
    const f = forwardRollouts(b, claims);
    const accepted: RolloutClaim[] = [];
    claims.forEach((c, i) => {
      const pre = precheckRollout(c, plan.assignments.get(c.providerKey)!, 0, seen, RL_TEST_CONFIG);
      const v = pre.ok ? checkRecomputed(c, pre, f.passes[i]!, RL_TEST_CONFIG, 1, 'nonce-1') : pre;
      if (v.ok) {
        seen.add(v.hash);
        accepted.push(c);
      } else refused.push(`${c.providerKey}:${v.reason}`);
    });
    expect(accepted.filter((c) => c.providerKey !== 'faker')).toHaveLength(16);
    expect(refused).toHaveLength(8);
    expect(
      refused.every((r) => /^faker:(malformed|sketch|sampling)$/.test(r)),
      refused.join(),
    ).toBe(true);
    const { rollouts, sources } = scoreAccepted(plan, accepted);
    const rows = sources.map((c) => claims.indexOf(c));
    const step = grpoUpdate(
      b,
      rollouts,
      rows,
      rows.map((r) => f.newLogprobs[r]!),
      { ...ADAMW_DEFAULTS, lr: 1e-4 },
      1,
    );
    // Fresh rollouts: π_θ = π_old up to backend noise, so nothing is clipped.
    expect(step.clippedFraction).toBe(0);
    rollouts.forEach((r, k) =>
      Array.from(r.oldLogprobs).forEach((x, j) =>
        expect(Math.abs(f.newLogprobs[rows[k]!]![j]! - x)).toBeLessThan(1e-4),
      ),
    );
    // The faker's rows weigh nothing: its tokens get no gradient (compare with an update on the accepted rows alone).
    const alone = new WasmBackend(arenaFor(RL_TEST_CONFIG, accepted.length, RL_TEST_CONFIG.context));
    restoreInto(alone, newTrainState(RL_TEST_CONFIG, ADAMW_DEFAULTS, 0));
    alone.writeFloats(alone.arena.paramsAt, params);
    const g = forwardRollouts(alone, sources);
    grpoUpdate(
      alone,
      rollouts,
      rollouts.map((_, k) => k),
      g.newLogprobs,
      { ...ADAMW_DEFAULTS, lr: 1e-4 },
      1,
    );
    const [p1, p2] = [b, alone].map((x) => x.readFloats(x.arena.paramsAt, x.arena.params.size));
    let worst = 0;
    for (let i = 0; i < p1!.length; i++) worst = Math.max(worst, Math.abs(p1![i]! - p2![i]!));
    expect(worst).toBeLessThan(1e-6);
    expect(p1!.some((x, i) => x !== params[i])).toBe(true);
  });
});

describe('adaptive audit of trusted keys', () => {
  it('RL-A1: new keys are always checked; trusted keys on a sample ≥ the floor; a refusal resets trust', () => {
    expect(auditRate({ accepted: 0 })).toBe(1);
    expect(auditRate({ accepted: AUDIT_TRUST_AFTER - 1 })).toBe(1);
    expect(auditRate({ accepted: 4 * AUDIT_TRUST_AFTER })).toBe(0.25);
    expect(auditRate({ accepted: 1e6 })).toBe(AUDIT_MIN_RATE);
    const trusted = { accepted: 1e6 };
    const picks = Array.from({ length: 4000 }, (_, i) => chosenForAudit(trusted, 'n', `h${i}`)).filter(Boolean).length;
    expect(picks / 4000).toBeGreaterThan(AUDIT_MIN_RATE * 0.8);
    expect(picks / 4000).toBeLessThan(AUDIT_MIN_RATE * 1.2);
    expect(chosenForAudit({ accepted: 3 }, 'n', 'h')).toBe(true);
    expect(recordVerdict(trusted, false)).toEqual({ accepted: 0 });
    expect(recordVerdict({ accepted: 2 }, true)).toEqual({ accepted: 3 });
  });
});
