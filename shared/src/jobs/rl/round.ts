/**
 * One RL round's pure plan and bookkeeping (plan → dispatch → compute →
 * verify → accept): the trainer deals distinct training prompts to each
 * provider with the round's nonce, and turns the accepted rollouts into
 * GRPO's training rollouts, computing every reward itself from the task.
 */
import type { TrainingRollout } from './grpo-step';
import { groupAdvantages } from './grpo';
import { exactMatchReward, type Example, type TaskSet } from './tasks';
import type { Assignment, RolloutClaim } from './verify';
import { decodeIds, encodeText } from './vocab';

export interface RoundConfig {
  readonly round: number;
  /** Public randomness fixed when the round opens; seeds hash it, so nobody knew them earlier. */
  readonly roundNonce: string;
  readonly promptsPerProvider: number;
  /** Completions per prompt (GRPO's group size G). */
  readonly samples: number;
  readonly maxNew: number;
  readonly temperature: number;
}

export interface RoundPlan {
  readonly assignments: ReadonlyMap<string, Assignment>;
  /** The training example behind each prompt index (the rewards' source). */
  readonly examples: ReadonlyMap<number, Example>;
  /** The next unused training index. */
  readonly nextIndex: number;
}

/** Providers get consecutive training indices from `firstIndex`, in the order given. */
export function planRound(
  task: TaskSet,
  cfg: RoundConfig,
  providerKeys: readonly string[],
  firstIndex: number,
): RoundPlan {
  const assignments = new Map<string, Assignment>();
  const examples = new Map<number, Example>();
  let index = firstIndex;
  for (const key of providerKeys) {
    const prompts = new Map<number, readonly number[]>();
    for (let k = 0; k < cfg.promptsPerProvider; k++, index++) {
      const e = task.train(index);
      examples.set(index, e);
      prompts.set(index, encodeText(e.prompt));
    }
    assignments.set(key, { ...cfg, providerKey: key, prompts });
  }
  return { assignments, examples, nextIndex: index };
}

export interface ScoredGroup {
  readonly promptIndex: number;
  readonly rewards: readonly number[];
}

/**
 * Rewards and group-relative advantages for accepted claims: one group per (provider, prompt), since each
 * provider's G samples of a prompt share its seed stream. Claims for prompts the plan lacks are skipped.
 * sources[i] is the claim behind rollouts[i] (to find its row in the trainer's forward).
 */
export function scoreAccepted(
  plan: RoundPlan,
  accepted: readonly RolloutClaim[],
): { readonly rollouts: TrainingRollout[]; readonly sources: RolloutClaim[]; readonly groups: ScoredGroup[] } {
  const byGroup = new Map<string, RolloutClaim[]>();
  for (const c of accepted) {
    if (!plan.examples.has(c.promptIndex)) continue;
    const key = `${c.providerKey}\u0000${c.promptIndex}`;
    byGroup.set(key, [...(byGroup.get(key) ?? []), c]);
  }
  const rollouts: TrainingRollout[] = [];
  const sources: RolloutClaim[] = [];
  const groups: ScoredGroup[] = [];
  for (const claims of byGroup.values()) {
    const example = plan.examples.get(claims[0]!.promptIndex)!;
    const rewards = claims.map((c) => exactMatchReward(example, decodeIds(c.completion)));
    const advantages = groupAdvantages(rewards);
    groups.push({ promptIndex: claims[0]!.promptIndex, rewards });
    claims.forEach((c, i) => {
      rollouts.push({ prompt: c.prompt, completion: c.completion, oldLogprobs: c.logprobs, advantage: advantages[i]! });
      sources.push(c);
    });
  }
  return { rollouts, sources, groups };
}
