import { describe, expect, it } from 'vitest';
import type { Backend } from '../../train';
import { generate, teacherForce } from './runner';
import { rolloutSeed, tempered } from './sampling';
import { sketchHidden } from './sketch';
import { ADDITION_3, taskSet } from './tasks';
import { backendWith, policyParams, RL_TEST_CONFIG, trainedFrom } from './testing';
import { type Assignment, checkRecomputed, precheckRollout, type RolloutClaim } from './verify';
import { EOS, encodeText } from './vocab';

const V = RL_TEST_CONFIG.vocab;
const C = RL_TEST_CONFIG.width;
const set = taskSet(ADDITION_3, 21, 1);
const PROMPTS = new Map(Array.from({ length: 6 }, (_, i) => [i, encodeText(set.train(i).prompt)] as const));
const assignment = (key: string, round = 7): Assignment => ({
  round,
  roundNonce: `beacon-${round}`,
  providerKey: key,
  prompts: PROMPTS,
  samples: 4,
  maxNew: 8,
  temperature: 1,
});

/** Policy versions 3..6: each a few supervised steps after the one before (lr 1e-4, a realistic RL-sized change). */
const VERSIONS = new Map<number, Float32Array>([[3, policyParams(1)]]);
for (let v = 4; v <= 6; v++) VERSIONS.set(v, trainedFrom(VERSIONS.get(v - 1)!, 2, 1e-4));
const CURRENT = 6;

function honest(b: Backend, a: Assignment, promptIndex: number, sample: number, version = CURRENT): RolloutClaim {
  const prompt = PROMPTS.get(promptIndex)!;
  const seed = rolloutSeed({ ...a, promptIndex, sample });
  const r = generate(b, prompt, seed, a.maxNew, a.temperature);
  const { completion, logprobs, sketch } = r;
  return {
    providerKey: a.providerKey,
    round: a.round,
    promptIndex,
    sample,
    seed,
    version,
    prompt,
    completion,
    logprobs,
    sketch,
  };
}

/** The trainer: precheck, then one JS f32 forward with the claimed version's weights. */
function trainerVerify(claim: RolloutClaim, a: Assignment, seen: Set<string>, trainerKind: 'js' | 'wasm' = 'js') {
  const pre = precheckRollout(claim, a, CURRENT, seen, RL_TEST_CONFIG);
  if (!pre.ok) return pre;
  const b = backendWith(trainerKind, VERSIONS.get(claim.version)!);
  const forced = teacherForce(b, [...claim.prompt, ...claim.completion]);
  const verdict = checkRecomputed(claim, pre, forced, { width: C, vocab: V }, a.temperature, 'trainer-nonce');
  if (verdict.ok) seen.add(verdict.hash);
  return verdict;
}

describe('rollout verification decisions', () => {
  it('RL-V1: honest rollouts are never refused, WASM provider → JS f32 trainer and the reverse, 0-2 versions old', () => {
    let accepted = 0;
    for (const [providerKind, trainerKind] of [
      ['wasm', 'js'],
      ['js', 'wasm'],
    ] as const) {
      const a = assignment(`honest-${providerKind}`);
      const seen = new Set<string>();
      for (const version of [CURRENT, CURRENT - 1, CURRENT - 2]) {
        const b = backendWith(providerKind, VERSIONS.get(version)!);
        for (let p = 0; p < 3; p++)
          for (let s = 0; s < 2; s++) {
            const v = trainerVerify(honest(b, a, p, s, version), a, seen, trainerKind);
            expect(v, JSON.stringify(v)).toMatchObject({ ok: true, lag: CURRENT - version });
            accepted++;
          }
      }
    }
    expect(accepted).toBe(36);
  });

  it('RL-V2: a hand-written correct answer (with honest sketch and log-probs for it) fails the sampling replay', () => {
    const a = assignment('writer');
    const b = backendWith('wasm', VERSIONS.get(CURRENT)!);
    const claim = honest(b, a, 0, 0);
    const completion = [...encodeText(set.train(0).answer), EOS];
    const seq = [...claim.prompt, ...completion];
    const f = teacherForce(b, seq);
    const logprobs = completion.map((id, j) =>
      Math.log(tempered(f.logits, 1, (claim.prompt.length - 1 + j) * V, V)[id]!),
    );
    const forged = { ...claim, completion, logprobs, sketch: sketchHidden(f.hidden, seq.length, C) };
    expect(trainerVerify(forged, a, new Set())).toMatchObject({ ok: false, reason: 'sampling' });
  });

  it('RL-V3: rollouts from another model fail the sketch', () => {
    const a = assignment('impostor');
    const b = backendWith('wasm', policyParams(2));
    for (let p = 0; p < 3; p++)
      expect(trainerVerify(honest(b, a, p, 0), a, new Set())).toMatchObject({ ok: false, reason: 'sketch' });
  });

  it('RL-V4: a version ≥ 3 behind is refused, whether declared or passed off as current', () => {
    const a = assignment('laggard');
    const old = backendWith('wasm', VERSIONS.get(CURRENT - 3)!);
    expect(trainerVerify(honest(old, a, 0, 0, CURRENT - 3), a, new Set())).toMatchObject({ reason: 'stale-version' });
    expect(trainerVerify(honest(old, a, 0, 0, CURRENT + 1), a, new Set())).toMatchObject({ reason: 'future-version' });
    for (let p = 0; p < 3; p++) {
      const v = trainerVerify(honest(old, a, p, 1, CURRENT), a, new Set());
      expect(v.ok, JSON.stringify(v)).toBe(false);
      expect(['sketch', 'sampling', 'logprobs']).toContain(v.ok ? '' : v.reason);
    }
  });

  it('RL-V5: self-chosen seeds are refused, declared or not', () => {
    const a = assignment('chooser');
    const b = backendWith('wasm', VERSIONS.get(CURRENT)!);
    const claim = honest(b, a, 1, 0);
    const own = generate(b, claim.prompt, 12345, a.maxNew);
    expect(trainerVerify({ ...claim, ...own, seed: 12345 }, a, new Set())).toMatchObject({ reason: 'seed' });
    expect(trainerVerify({ ...claim, ...own }, a, new Set())).toMatchObject({ ok: false, reason: 'sampling' });
  });

  it('RL-V6: tampered log-probabilities are refused (a shift of 0.05 nats on one token)', () => {
    const a = assignment('tamperer');
    const b = backendWith('wasm', VERSIONS.get(CURRENT)!);
    const claim = honest(b, a, 2, 0);
    const logprobs = claim.logprobs.map((x, j) => (j === 0 ? x - 0.05 : x));
    expect(trainerVerify({ ...claim, logprobs }, a, new Set())).toMatchObject({ reason: 'logprobs' });
    expect(trainerVerify({ ...claim, logprobs: claim.logprobs.map(() => 1) }, a, new Set())).toMatchObject({
      reason: 'malformed',
    });
  });

  it('RL-V7: replays are refused: the same rollout twice, under another version, or in a later round', () => {
    const a = assignment('replayer');
    const b = backendWith('wasm', VERSIONS.get(CURRENT)!);
    const seen = new Set<string>();
    const claim = honest(b, a, 3, 0);
    expect(trainerVerify(claim, a, seen).ok).toBe(true);
    expect(trainerVerify(claim, a, seen)).toMatchObject({ reason: 'replay' });
    expect(trainerVerify({ ...claim, version: CURRENT - 1 }, a, seen)).toMatchObject({ reason: 'replay' });
    expect(trainerVerify(claim, assignment('replayer', 8), seen)).toMatchObject({ reason: 'not-assigned' });
    expect(trainerVerify({ ...claim, round: 8 }, assignment('replayer', 8), seen)).toMatchObject({ reason: 'seed' });
    expect(trainerVerify({ ...claim, providerKey: 'thief' }, assignment('thief'), seen)).toMatchObject({
      reason: 'seed',
    });
  });

  it('RL-V8: unassigned prompts or samples, out-of-vocabulary tokens and malformed sketches are refused before any forward pass', () => {
    const a = assignment('sloppy');
    const b = backendWith('wasm', VERSIONS.get(CURRENT)!);
    const claim = honest(b, a, 4, 0);
    const refusals = [
      { ...claim, promptIndex: 99 },
      { ...claim, sample: 4 },
      { ...claim, prompt: encodeText('999+999=') },
      { ...claim, sketch: { ...claim.sketch, positions: 3 } },
      { ...claim, completion: [], logprobs: [] },
      { ...claim, completion: [V, ...claim.completion.slice(1)] },
      { ...claim, completion: [1.5, ...claim.completion.slice(1)] },
    ].map((c) => precheckRollout(c, a, CURRENT, new Set(), RL_TEST_CONFIG));
    expect(refusals.map((r) => (r.ok ? 'ok' : r.reason))).toEqual([
      'not-assigned',
      'not-assigned',
      'not-assigned',
      'malformed',
      'malformed',
      'malformed',
      'malformed',
    ]);
  });
});
