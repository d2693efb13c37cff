import { describe, expect, it } from 'vitest';
import { ADAMW_DEFAULTS, arenaFor, WasmBackend } from '../../train';
import { AUDIT_MIN_RATE, AUDIT_TRUST_AFTER, auditRate, chosenForAudit, recordVerdict } from './audit';
import { grpoStep } from './grpo-step';
import { type RoundConfig, planRound, scoreAccepted } from './round';
import { generate, teacherForce } from './runner';
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

  it('RL-R3: two honest providers (WASM, JS f32) and a faker: honest all accepted, faker refused, the policy steps', () => {
    const params = policyParams(1);
    const plan = planRound(task, CFG, ['wasm-key', 'js-key', 'faker'], 0);
    const seen = new Set<string>();
    const accepted: RolloutClaim[] = [];
    const refused: string[] = [];
    const trainer = backendWith('js', params);
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
          const pre = precheckRollout(claim, a, 0, seen);
          const forced = pre.ok ? teacherForce(trainer, [...prompt, ...claim.completion]) : null;
          const v = pre.ok && forced ? checkRecomputed(claim, pre, forced, RL_TEST_CONFIG, 1, 'nonce-1') : pre;
          if (v.ok) {
            seen.add(v.hash);
            accepted.push(claim);
          } else refused.push(`${key}:${v.reason}`);
        }
    }
    expect(accepted.filter((c) => c.providerKey !== 'faker')).toHaveLength(16);
    expect(refused).toHaveLength(8);
    expect(refused.every((r) => r.startsWith('faker:'))).toBe(true);
    const { rollouts } = scoreAccepted(plan, accepted);
    const b = new WasmBackend(arenaFor(RL_TEST_CONFIG, rollouts.length, RL_TEST_CONFIG.context));
    b.writeFloats(b.arena.paramsAt, params);
    const step = grpoStep(b, rollouts, { ...ADAMW_DEFAULTS, lr: 1e-4 }, 1);
    // Fresh rollouts: π_θ = π_old up to backend noise, so nothing is clipped.
    expect(step.clippedFraction).toBe(0);
    rollouts.forEach((r, i) =>
      Array.from(r.oldLogprobs).forEach((x, j) => expect(Math.abs(step.newLogprobs[i]![j]! - x)).toBeLessThan(1e-4)),
    );
    expect(b.readFloats(b.arena.paramsAt, 8)).not.toEqual(Float64Array.from(params.subarray(0, 8)));
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
