/**
 * Cheating providers, for the bench and a tab's test harness: each kind
 * turns one assignment's honest work into the claims a cheat would send.
 * The trainer must refuse at least one claim of every cheat and none of an
 * honest provider (RL-V1..V8, bench:rl's adversaries case). Plain
 * TypeScript over a Backend: it runs in Node and in a browser tab.
 *
 *   hand-written       the task's right answer as the completion, with an honest sketch and log-probs over it
 *                      (the tokens are not what the seed draws: `sampling`)
 *   other-model        the assigned seeds, another model's weights (`sketch`)
 *   stale-version      a policy ≥ MAX_VERSION_LAG + 1 versions old passed off as the held version
 *                      (`sketch`/`sampling`/`logprobs`; labelled honestly it would be `stale-version`)
 *   own-seeds          each completion sampled under seeds of its own choosing, keeping one that scores,
 *                      claimed under the assigned seed (`sampling`)
 *   tampered-logprobs  honest rollouts whose reported log-probs are lowered by 0.1 nats, which inflates GRPO's
 *                      ratio π_θ/π_old (`logprobs`)
 *   replay             honest rollouts sent twice, and any earlier claims again (`replay`, `not-assigned`, `seed`)
 */
import type { Backend } from '../../train';
import { hash32 } from './hash';
import { type RolloutProgress, rollOut } from './rollout';
import { generate, teacherForce } from './runner';
import { tempered } from './sampling';
import { sketchHidden } from './sketch';
import type { Assignment, RolloutClaim } from './verify';
import { decodeIds, encodeText, EOS } from './vocab';

export const RL_ADVERSARY_KINDS = [
  'hand-written',
  'other-model',
  'stale-version',
  'own-seeds',
  'tampered-logprobs',
  'replay',
] as const;
export type RlAdversaryKind = (typeof RL_ADVERSARY_KINDS)[number];

/** Shift of every tampered log-probability: 10× LOGPROB_TOL, well under what an update would notice as noise. */
export const TAMPER_NATS = 0.1;
/** Own seeds a cheat tries per completion before keeping the last. */
export const OWN_SEED_TRIES = 4;

export interface CheatContext {
  /** One-row backend holding the policy version the provider holds. */
  readonly backend: Backend;
  readonly assignment: Assignment;
  /** The version the provider holds (and claims). */
  readonly version: number;
  /** The task's answer for an assigned prompt index (a cheat can compute it: the tasks are public). */
  readonly answer: (promptIndex: number) => string;
  /** Another model of the same shape ('other-model'). */
  readonly other?: Backend;
  /** A policy ≥ MAX_VERSION_LAG + 1 versions older than `version` ('stale-version'). */
  readonly stale?: Backend;
  /** Claims sent earlier ('replay'). */
  readonly previous?: readonly RolloutClaim[];
  readonly between?: (p: RolloutProgress) => void | Promise<void>;
}

function need<T>(x: T | undefined, what: string): T {
  if (x === undefined) throw new RangeError(`this cheat needs ${what}`);
  return x;
}

/** A claim for `completion` with an honest sketch and log-probabilities under `b` (what a careful forger sends). */
function forged(b: Backend, base: RolloutClaim, completion: number[], temperature: number): RolloutClaim {
  const seq = [...base.prompt, ...completion];
  const pass = teacherForce(b, seq);
  const c = b.arena.config;
  if (c.kind !== 'gpt') throw new RangeError('a policy is a GPT');
  const V = c.vocab;
  const logprobs = completion.map((id, j) =>
    Math.min(0, Math.log(tempered(pass.logits, temperature, (base.prompt.length - 1 + j) * V, V)[id]!)),
  );
  return { ...base, completion, logprobs, sketch: sketchHidden(pass.hidden, seq.length, c.width) };
}

/** The claims a cheat of `kind` sends for ctx.assignment. */
export async function cheatClaims(kind: RlAdversaryKind, ctx: CheatContext): Promise<RolloutClaim[]> {
  const a = ctx.assignment;
  switch (kind) {
    case 'other-model':
      return rollOut(need(ctx.other, 'another model'), a, ctx.version, ctx.between);
    case 'stale-version':
      return rollOut(need(ctx.stale, 'an older policy'), a, ctx.version, ctx.between);
    case 'tampered-logprobs': {
      const honest = await rollOut(ctx.backend, a, ctx.version, ctx.between);
      return honest.map((c) => ({ ...c, logprobs: c.logprobs.map((x) => x - TAMPER_NATS) }));
    }
    case 'replay': {
      const honest = await rollOut(ctx.backend, a, ctx.version, ctx.between);
      return [...honest, ...honest, ...(ctx.previous ?? [])];
    }
    case 'hand-written':
    case 'own-seeds': {
      const honest = await rollOut(ctx.backend, a, ctx.version, ctx.between);
      return honest.map((c) => {
        if (kind === 'hand-written') {
          const completion = [...encodeText(ctx.answer(c.promptIndex)).slice(0, a.maxNew - 1), EOS];
          return forged(ctx.backend, c, completion, a.temperature);
        }
        // Resample under seeds of its own until one scores (or the tries run out), keeping the assigned seed.
        const right = ctx.answer(c.promptIndex);
        let best: RolloutClaim = c;
        for (let k = 1; k <= OWN_SEED_TRIES; k++) {
          const r = generate(ctx.backend, c.prompt, hash32(['own-seed', c.seed, k]), a.maxNew, a.temperature);
          if (decodeIds(r.completion) === decodeIds(c.completion)) continue;
          best = { ...c, ...r };
          if (decodeIds(r.completion) === right) break;
        }
        return best;
      });
    }
  }
}
