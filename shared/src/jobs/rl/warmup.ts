/**
 * Supervised warm-up before RL: GRPO learns only from groups whose rewards
 * differ, so a policy that never gets an answer right (or always does)
 * teaches nothing. The warm-up trains on the task's format (prompt + answer
 * + EOS, loss on the answer and EOS tokens only, through the engine's
 * weighted cross-entropy) and stops as soon as held-out greedy accuracy
 * lands in [lo, hi] (issue 22: 20%–50% on 3-digit addition), leaving RL the
 * rest of the way. Accuracy on addition rises in a jump (the tiny preset:
 * 41% to 76% in 50 steps), so an evaluation past hi goes back to the last
 * one below lo and takes the same steps again, evaluating five times as
 * often, down to every step: the batches and the engine are deterministic,
 * so the replay retraces the weights bit for bit and stops inside the range
 * if any evaluated step lands there.
 */
import {
  ADAMW_DEFAULTS,
  arenaFor,
  captureFrom,
  type GptConfig,
  newTrainState,
  restoreInto,
  WasmBackend,
  weightedTrainStep,
} from '../../train';
import { greedyAccuracy } from './accuracy';
import { RlError } from './errors';
import type { TaskSet } from './tasks';
import { encodeText, EOS, PAD } from './vocab';

export interface WarmUpOptions {
  readonly task: TaskSet;
  readonly config: GptConfig;
  readonly lr: number;
  /** Examples per step (rows of the engine's batch). */
  readonly batch: number;
  readonly maxSteps: number;
  /** Steps between held-out evaluations (each decodes every held-out prompt); finer after an overshoot. */
  readonly evalEvery: number;
  /** Stop when held-out greedy accuracy is within [lo, hi]. */
  readonly target: readonly [number, number];
  /** Where in the task's training stream the warm-up starts (different seeds, different examples). */
  readonly seed: number;
  /** Held-out prompts evaluated (default: all of the task's). */
  readonly evalSize?: number;
}

export interface WarmUpProgress {
  readonly step: number;
  readonly loss: number;
  /** Set on the steps that evaluated. */
  readonly accuracy?: number;
}

export interface WarmUpResult {
  readonly master: Float32Array;
  readonly steps: number;
  readonly accuracy: number;
  /** Whether the accuracy landed in the target (false: maxSteps ran out, or one step jumped past hi). */
  readonly reached: boolean;
}

/** Answer length plus EOS: what a completion of the task needs (the longest held-out answer). */
export function maxAnswerTokens(task: TaskSet): number {
  return Math.max(...task.eval.map((e) => encodeText(e.answer).length)) + 1;
}

export async function warmUp(
  master: Float32Array,
  options: WarmUpOptions,
  onProgress?: (p: WarmUpProgress) => void | Promise<void>,
): Promise<WarmUpResult> {
  const { task, config: c, batch: B, target } = options;
  if (c.kind !== 'gpt') throw new RlError('config', 'a policy is a GPT');
  const T = c.context;
  const evalSet = task.eval.slice(0, options.evalSize ?? task.eval.length);
  const maxNew = maxAnswerTokens(task);
  const b = new WasmBackend(arenaFor(c, B, T));
  // Held-out evaluation decodes incrementally on one row (greedyAccuracy), the training batch's weights copied in.
  const one = new WasmBackend(arenaFor(c, 1, T));
  const heldOut = () => {
    one.writeFloats(one.arena.paramsAt, b.readFloats(b.arena.paramsAt, b.arena.params.size));
    return greedyAccuracy(one, evalSet, maxNew);
  };
  try {
    const hp = { ...ADAMW_DEFAULTS, lr: options.lr };
    // Zero moments; after the first capture, the last evaluated point below the range: weights, moments
    // and step, to go back to on an overshoot.
    const mark = newTrainState(c, hp, 0);
    restoreInto(b, mark);
    if (master.length !== b.arena.params.size) throw new RlError('config', 'master weights of another model');
    b.writeFloats(b.arena.paramsAt, master);
    const inRange = (a: number) => a >= target[0] && a <= target[1];
    let accuracy = heldOut();
    let step = 0;
    let every = options.evalEvery;
    captureFrom(b, mark);
    const first = options.seed * options.maxSteps * B;
    for (;;) {
      if (accuracy > target[1] && every > 1 && step > mark.step) {
        restoreInto(b, mark);
        step = mark.step;
        every = Math.max(1, Math.floor(every / 5));
        accuracy = -1;
      }
      if (accuracy >= target[0] || step >= options.maxSteps) break;
      const inputs = new Int32Array(B * T).fill(PAD);
      const targets = new Int32Array(B * T).fill(PAD);
      const weights = new Float64Array(B * T);
      let answerTokens = 0;
      for (let r = 0; r < B; r++) {
        const e = task.train(first + step * B + r);
        const prompt = encodeText(e.prompt);
        const seq = [...prompt, ...encodeText(e.answer), EOS];
        if (seq.length > T) throw new RlError('config', `an example of ${seq.length} tokens exceeds the context ${T}`);
        inputs.set(seq, r * T);
        targets.set(seq.slice(1), r * T);
        for (let j = prompt.length - 1; j < seq.length - 1; j++) weights[r * T + j] = 1;
        answerTokens += seq.length - prompt.length;
      }
      for (let i = 0; i < weights.length; i++) weights[i] = weights[i]! / answerTokens;
      const logprobs = weightedTrainStep(b, { inputs, targets }, weights, hp, ++step);
      let loss = 0;
      for (let i = 0; i < weights.length; i++) loss -= weights[i]! * logprobs[i]!;
      const evaluated = (step - mark.step) % every === 0 || step === options.maxSteps;
      if (evaluated) {
        accuracy = heldOut();
        if (accuracy < target[0]) {
          captureFrom(b, mark);
          mark.step = step;
        }
      }
      await onProgress?.({ step, loss, ...(evaluated ? { accuracy } : {}) });
    }
    return {
      master: Float32Array.from(b.readFloats(b.arena.paramsAt, b.arena.params.size)),
      steps: step,
      accuracy,
      reached: inRange(accuracy),
    };
  } finally {
    b.dispose();
    one.dispose();
  }
}
