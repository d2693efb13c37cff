/**
 * A provider's work for one assignment: every assigned prompt sampled `samples` times under the seeds
 * the assignment fixes (rolloutSeed), with the policy version it holds, each completion committed to by
 * its hidden-state sketch. The same function runs in the bench (Node, WASM) and in a volunteer's tab.
 */
import type { Backend } from '../../train';
import { generateGroup, generateGroupAsync, type ReadAsync } from './runner';
import { rolloutSeed } from './sampling';
import type { Assignment, RolloutClaim } from './verify';

export interface RolloutProgress {
  readonly done: number;
  readonly total: number;
}

/**
 * The claims for `a`, in (prompt index, sample) order. A prompt's samples are decoded as one group (its
 * positions computed once: generateGroup); `between` runs after each completion of it (a tab yields to the
 * page there; it may throw to stop).
 */
export async function rollOut(
  b: Backend,
  a: Assignment,
  version: number,
  between?: (p: RolloutProgress) => void | Promise<void>,
  /** For a backend read asynchronously (WebGPU): its read. */
  read?: ReadAsync,
): Promise<RolloutClaim[]> {
  const claims: RolloutClaim[] = [];
  const indices = [...a.prompts.keys()].sort((x, y) => x - y);
  const total = indices.length * a.samples;
  for (const promptIndex of indices) {
    const prompt = a.prompts.get(promptIndex)!;
    const seeds = Array.from({ length: a.samples }, (_, sample) => rolloutSeed({ ...a, promptIndex, sample }));
    const group = read
      ? await generateGroupAsync(b, read, prompt, seeds, a.maxNew, a.temperature)
      : generateGroup(b, prompt, seeds, a.maxNew, a.temperature);
    for (let sample = 0; sample < a.samples; sample++) {
      const seed = seeds[sample]!;
      const r = group[sample]!;
      claims.push({
        providerKey: a.providerKey,
        round: a.round,
        promptIndex,
        sample,
        seed,
        version,
        prompt: [...prompt],
        completion: r.completion,
        logprobs: r.logprobs,
        sketch: r.sketch,
      });
      await between?.({ done: claims.length, total });
    }
  }
  return claims;
}
