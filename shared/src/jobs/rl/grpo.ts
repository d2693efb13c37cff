/**
 * GRPO's maths, pure: advantages relative to each prompt's group of
 * completions, and the clipped-ratio objective
 *   J = (1/G) Σ_i (1/|o_i|) Σ_t min(ρ_t A_i, clip(ρ_t, 1 − ε, 1 + ε) A_i),  ρ_t = π_θ(o_t) / π_old(o_t),
 * where π_old is the policy version that sampled the rollout (the current one, or one or two versions
 * old: the ratio then corrects for the lag, and the clip bounds how far one stale rollout moves the policy).
 * The engine minimises Σ_t w_t · (−log π_θ(o_t)); tokenWeights gives the w_t whose gradient is −∇J.
 * The ratio uses the distributions at temperature 1, so RL rollouts are sampled at τ = 1.
 */
import { GRPO_CLIP_EPS, GRPO_STD_EPS } from './constants';

/** (r − mean) / (std + eps) within one prompt's group (population std); an all-equal group teaches nothing: zeros. */
export function groupAdvantages(rewards: readonly number[], eps = GRPO_STD_EPS): number[] {
  const n = rewards.length;
  if (n === 0) return [];
  const mean = rewards.reduce((s, r) => s + r, 0) / n;
  const std = Math.sqrt(rewards.reduce((s, r) => s + (r - mean) ** 2, 0) / n);
  if (std < eps) return rewards.map(() => 0);
  return rewards.map((r) => (r - mean) / (std + eps));
}

export interface ScoredRollout {
  readonly advantage: number;
  /** log π_old per completion token: the verified log-probabilities the provider reported. */
  readonly oldLogprobs: ArrayLike<number>;
}

function ratioTerm(a: number, rho: number, eps: number): { value: number; active: boolean } {
  const clipped = Math.min(Math.max(rho, 1 - eps), 1 + eps);
  const un = rho * a;
  const cl = clipped * a;
  // The min picks the clipped branch only when it is strictly smaller; there the gradient is 0.
  return cl < un ? { value: cl, active: false } : { value: un, active: true };
}

/** J for the given new log-probabilities (one array per rollout, aligned with oldLogprobs). */
export function clippedObjective(
  rollouts: readonly ScoredRollout[],
  newLogprobs: readonly ArrayLike<number>[],
  eps = GRPO_CLIP_EPS,
): number {
  let j = 0;
  rollouts.forEach((r, i) => {
    const n = r.oldLogprobs.length;
    let s = 0;
    for (let t = 0; t < n; t++)
      s += ratioTerm(r.advantage, Math.exp(newLogprobs[i]![t]! - r.oldLogprobs[t]!), eps).value;
    if (n > 0) j += s / n;
  });
  return rollouts.length > 0 ? j / rollouts.length : 0;
}

export interface TokenWeights {
  /** Per rollout, per completion token: w = A·ρ / (G·|o|) where the unclipped branch is active, else 0. */
  readonly weights: Float64Array[];
  /** Fraction of tokens whose ratio was clipped (a diagnostic; large means stale or too large a step). */
  readonly clippedFraction: number;
}

export function tokenWeights(
  rollouts: readonly ScoredRollout[],
  newLogprobs: readonly ArrayLike<number>[],
  eps = GRPO_CLIP_EPS,
): TokenWeights {
  const G = rollouts.length;
  let clipped = 0;
  let total = 0;
  const weights = rollouts.map((r, i) => {
    const n = r.oldLogprobs.length;
    const w = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      const rho = Math.exp(newLogprobs[i]![t]! - r.oldLogprobs[t]!);
      const term = ratioTerm(r.advantage, rho, eps);
      total++;
      if (term.active) w[t] = (r.advantage * rho) / (G * n);
      else clipped++;
    }
    return w;
  });
  return { weights, clippedFraction: total > 0 ? clipped / total : 0 };
}
