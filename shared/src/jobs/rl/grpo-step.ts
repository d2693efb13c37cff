/**
 * A GRPO update on the engine, in two halves around the trainer's checks:
 * forwardRollouts loads every claimed rollout as one row of the backend's
 * batch (prompt + completion, PAD after) and runs one forward, returning each
 * row's pass — the distributions and hidden states that verification needs,
 * and π_θ of every completion token that the ratio needs. The trainer judges
 * and scores the rows, then grpoUpdate turns ratios and advantages into
 * per-token weights (0 on prompt and padding positions and on refused rows)
 * and takes the weighted backward and AdamW on the same pass.
 */
import {
  type AdamWHyper,
  type Backend,
  encodeForward,
  GRAD_CLIP,
  loadBatch,
  readHidden,
  readLogits,
  readTargetLogprobs,
  SCALAR_GRAD_NORM,
  weightedBackward,
  weightedUpdate,
} from '../../train';
import { GRPO_CLIP_EPS } from './constants';
import { type ScoredRollout, tokenWeights } from './grpo';
import type { ForcedPass } from './runner';
import { PAD } from './vocab';

export interface RolloutTokens {
  readonly prompt: readonly number[];
  readonly completion: readonly number[];
}

export interface TrainingRollout extends ScoredRollout, RolloutTokens {}

export interface RolloutsForward {
  /** Per row: the pass over its prompt + completion, as teacherForce would return it. */
  readonly passes: ForcedPass[];
  /** Per row: π_θ log-probabilities of its completion tokens. */
  readonly newLogprobs: Float64Array[];
}

export function forwardRollouts(b: Backend, rollouts: readonly RolloutTokens[]): RolloutsForward {
  const { B, T, config } = b.arena;
  if (config.kind !== 'gpt') throw new RangeError('a policy is a GPT');
  if (rollouts.length < 1 || rollouts.length > B) throw new RangeError(`1..${B} rollouts, got ${rollouts.length}`);
  const inputs = new Int32Array(B * T).fill(PAD);
  const targets = new Int32Array(B * T).fill(PAD);
  rollouts.forEach((r, i) => {
    const seq = [...r.prompt, ...r.completion];
    if (seq.length > T || r.prompt.length < 1) throw new RangeError(`rollout ${i} does not fit ${T} tokens`);
    inputs.set(seq, i * T);
    targets.set(seq.slice(1), i * T);
  });
  loadBatch(b, { inputs, targets });
  // Only the filled rows run and come back: a round with fewer rollouts than rows costs only its own.
  const used = rollouts.length;
  encodeForward(b, used);
  const [logits, hidden, logprobs] = [readLogits(b, used), readHidden(b, used), readTargetLogprobs(b, used)];
  const { vocab: V, width: C } = config;
  const passes = rollouts.map((r, i) => {
    const n = r.prompt.length + r.completion.length;
    return {
      logits: logits.slice(i * T * V, (i * T + n - 1) * V),
      hidden: hidden.slice(i * T * C, (i * T + n) * C),
    };
  });
  const newLogprobs = rollouts.map((r, i) =>
    logprobs.slice(i * T + r.prompt.length - 1, i * T + r.prompt.length - 1 + r.completion.length),
  );
  return { passes, newLogprobs };
}

/**
 * The update on the forward forwardRollouts just ran: `rows[k]` is the row of `rollouts[k]` (accepted and
 * scored); every other row weighs nothing, and rows past the last weighted one are not run. With `onto`,
 * the forward ran on a rounding of those weights (the
 * published bf16 policy): the gradient is taken there, at the values providers sampled from, and AdamW then
 * steps `onto` (the f32 master weights), which the backend's parameter buffer holds afterwards — so steps
 * smaller than a bf16 ulp accumulate in the master instead of being rounded away.
 */
export function grpoUpdate(
  b: Backend,
  rollouts: readonly TrainingRollout[],
  rows: readonly number[],
  newLogprobs: readonly ArrayLike<number>[],
  hp: AdamWHyper,
  t: number,
  eps = GRPO_CLIP_EPS,
  onto?: ArrayLike<number>,
): { readonly clippedFraction: number } {
  const { B, T } = b.arena;
  if (rows.length !== rollouts.length || newLogprobs.length !== rollouts.length)
    throw new RangeError('one row and one set of log-probs per rollout');
  rollouts.forEach((r, k) => {
    if (r.oldLogprobs.length !== r.completion.length) throw new RangeError(`rollout ${k}: one log-prob per token`);
    if (!(rows[k]! >= 0 && rows[k]! < B)) throw new RangeError(`row ${rows[k]} outside 0..${B - 1}`);
  });
  const tw = tokenWeights(rollouts, newLogprobs, eps);
  // The backward runs the rows up to the last weighted one (the forward ran at least those).
  const used = Math.max(0, ...rows) + 1;
  const w = new Float64Array(used * T);
  tw.weights.forEach((row, k) => row.forEach((x, j) => (w[rows[k]! * T + rollouts[k]!.prompt.length - 1 + j] = x)));
  if (onto === undefined) weightedUpdate(b, w, hp, t, used);
  else {
    if (onto.length !== b.arena.params.size) throw new RangeError('master weights of another size');
    weightedBackward(b, w, used);
    const a = b.arena;
    b.writeFloats(a.paramsAt, onto);
    b.kernels.clipAdamw(
      a.paramsAt,
      a.gradsAt,
      a.mAt,
      a.vAt,
      a.params.size,
      hp,
      t,
      GRAD_CLIP,
      a.scalarsAt + SCALAR_GRAD_NORM,
    );
  }
  return { clippedFraction: tw.clippedFraction };
}

export interface GrpoStepResult extends RolloutsForward {
  readonly clippedFraction: number;
}

/** Both halves for rollouts already verified and scored (row i = rollout i). */
export function grpoStep(
  b: Backend,
  rollouts: readonly TrainingRollout[],
  hp: AdamWHyper,
  t: number,
  eps = GRPO_CLIP_EPS,
): GrpoStepResult {
  const f = forwardRollouts(b, rollouts);
  const rows = rollouts.map((_, i) => i);
  return { ...f, ...grpoUpdate(b, rollouts, rows, f.newLogprobs, hp, t, eps) };
}
