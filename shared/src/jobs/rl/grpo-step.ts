/**
 * One GRPO update on the engine: every verified rollout becomes one row of
 * the backend's batch (prompt + completion, PAD after), the forward gives
 * π_θ of each completion token, tokenWeights turns ratios and advantages
 * into per-token weights (0 on prompt and padding positions), and the
 * weighted backward and AdamW take the step.
 */
import { type AdamWHyper, type Backend, weightedTrainStep } from '../../train';
import { GRPO_CLIP_EPS } from './constants';
import { type ScoredRollout, tokenWeights } from './grpo';
import { PAD } from './vocab';

export interface TrainingRollout extends ScoredRollout {
  readonly prompt: readonly number[];
  readonly completion: readonly number[];
}

export interface GrpoStepResult {
  /** π_θ log-probabilities of each rollout's completion tokens before the update. */
  readonly newLogprobs: Float64Array[];
  readonly clippedFraction: number;
}

export function grpoStep(
  b: Backend,
  rollouts: readonly TrainingRollout[],
  hp: AdamWHyper,
  t: number,
  eps = GRPO_CLIP_EPS,
): GrpoStepResult {
  const { B, T } = b.arena;
  if (rollouts.length !== B) throw new RangeError(`the backend holds ${B} rows, got ${rollouts.length} rollouts`);
  const inputs = new Int32Array(B * T).fill(PAD);
  const targets = new Int32Array(B * T).fill(PAD);
  rollouts.forEach((r, i) => {
    const seq = [...r.prompt, ...r.completion];
    if (seq.length > T) throw new RangeError(`rollout ${i} is longer than ${T} tokens`);
    if (r.oldLogprobs.length !== r.completion.length) throw new RangeError(`rollout ${i}: one log-prob per token`);
    inputs.set(seq, i * T);
    targets.set(seq.slice(1), i * T);
  });
  const at = (i: number, j: number) => i * T + rollouts[i]!.prompt.length - 1 + j;
  let result: GrpoStepResult = { newLogprobs: [], clippedFraction: 0 };
  weightedTrainStep(
    b,
    { inputs, targets },
    (logprobs) => {
      const newLogprobs = rollouts.map((r, i) => Float64Array.from(r.completion, (_, j) => logprobs[at(i, j)]!));
      const tw = tokenWeights(rollouts, newLogprobs, eps);
      const w = new Float64Array(B * T);
      tw.weights.forEach((row, i) => row.forEach((x, j) => (w[at(i, j)] = x)));
      result = { newLogprobs, clippedFraction: tw.clippedFraction };
      return w;
    },
    hp,
    t,
  );
  return result;
}
