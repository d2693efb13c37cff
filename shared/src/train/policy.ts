/**
 * The GPT read as a policy (RL): after a forward pass, the per-position hidden
 * states, next-token distributions and log-probabilities of the targets; and
 * one step on the per-token-weighted loss −Σ w_t log p(y_t) that policy
 * gradients (GRPO) take. The same buffer and kernels as supervised training.
 */
import { GRAD_CLIP } from './adamw';
import type { Backend } from './backend';
import { TrainDataError, TrainError } from './errors';
import { gptBackward, gptHiddenAt, gptLogitsAt, gptLossWeightsAt } from './gpt';
import type { AdamWHyper } from './kernels';
import { SCALAR_GRAD_NORM, tensorSpec } from './layout';
import { type Batch, encodeForward, loadBatch } from './step';

function gptOnly(b: Backend) {
  const c = b.arena.config;
  if (c.kind !== 'gpt') throw new TrainError('config', 'a policy is a GPT');
  return c;
}

/** The final LayerNorm output after the last forward, [B·T, C] row-major (the first `rows` rows). */
export function readHidden(b: Backend, rows = b.arena.B): Float64Array {
  const c = gptOnly(b);
  return b.readFloats(gptHiddenAt(b.arena), rows * b.arena.T * c.width);
}

/** softmax(logits) after the last forward, [B·T, V] row-major: row n is the distribution of the token after position n. */
export function readProbs(b: Backend): Float64Array {
  const c = gptOnly(b);
  const a = b.arena;
  return b.readFloats(a.actsAt + tensorSpec(a.acts, 'probs').offset, a.B * a.T * c.vocab);
}

/** The logits after the last forward, [B·T, V] row-major (samplers temper them: softmax(logits / τ)); the first `rows` rows. */
export function readLogits(b: Backend, rows = b.arena.B): Float64Array {
  const c = gptOnly(b);
  const a = b.arena;
  return b.readFloats(gptLogitsAt(a), rows * a.T * c.vocab);
}

/** log p(target_n) per position after the last forward (the negated per-position losses); the first `rows` rows. */
export function readTargetLogprobs(b: Backend, rows = b.arena.B): Float64Array {
  gptOnly(b);
  const a = b.arena;
  return b.readFloats(a.actsAt + tensorSpec(a.acts, 'losses').offset, rows * a.T).map((x) => -x);
}

/**
 * Gradients of Σ_n w_n · losses[n] = −Σ w_n log p(y_n) into the grads, after a forward over the same batch:
 * its first `rows` rows (rows · T weights; the default, all B).
 */
export function weightedBackward(b: Backend, weights: ArrayLike<number>, rows = b.arena.B): void {
  gptOnly(b);
  const a = b.arena;
  if (weights.length !== rows * a.T) throw new TrainDataError(`expected ${rows * a.T} weights, got ${weights.length}`);
  for (let i = 0; i < weights.length; i++)
    if (!Number.isFinite(weights[i]!)) throw new TrainDataError(`weight ${i} is not finite`);
  b.writeFloats(gptLossWeightsAt(a), weights);
  gptBackward(b.kernels, a, true, rows);
}

/**
 * The update half of a policy step, after a forward over the batch the weights refer to (the caller may
 * read and judge that pass first): weighted backward, global-norm clip and AdamW.
 */
export function weightedUpdate(
  b: Backend,
  weights: ArrayLike<number>,
  hp: AdamWHyper,
  t: number,
  rows = b.arena.B,
): void {
  weightedBackward(b, weights, rows);
  const a = b.arena;
  const norm = a.scalarsAt + SCALAR_GRAD_NORM;
  b.kernels.clipAdamw(a.paramsAt, a.gradsAt, a.mAt, a.vAt, a.params.size, hp, t, GRAD_CLIP, norm);
}

/**
 * One policy step: forward, weighted backward, global-norm clip and AdamW. The weights may depend on this
 * pass's log-probabilities (an importance ratio does): give a function of them. Returns log p(y_n) per
 * position before the update (what the trainer's verification reads from the same pass).
 */
export function weightedTrainStep(
  b: Backend,
  batch: Batch,
  weights: ArrayLike<number> | ((logprobs: Float64Array) => ArrayLike<number>),
  hp: AdamWHyper,
  t: number,
): Float64Array {
  loadBatch(b, batch);
  encodeForward(b);
  const logprobs = readTargetLogprobs(b);
  weightedUpdate(b, typeof weights === 'function' ? weights(logprobs) : weights, hp, t);
  return logprobs;
}
