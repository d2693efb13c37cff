/**
 * Which units get checked. New keys are checked on every unit (probation),
 * then the probability halves every HALF_LIFE_UNITS clean results down to the
 * policy's floor, so verification cost falls as trust grows. A key with any
 * caught wrong result is checked on every unit for good.
 * The draw happens on the requester with unpredictable randomness, and a
 * replica looks to a provider like any other unit, so no provider knows which
 * of its results are checked.
 */
import { HALF_LIFE_UNITS, PROBATION_UNITS } from './constants';
import type { JobPolicy } from './policy';
import { nextFloat, type RandomSource } from './random';
import type { ProviderReputation } from './reputation';

export function checkProbability(
  policy: Pick<JobPolicy, 'adaptive' | 'sampleRate'>,
  reputation: Pick<ProviderReputation, 'accepted' | 'rejected'> | undefined,
): number {
  if (!policy.adaptive) return policy.sampleRate;
  if (reputation && reputation.rejected > 0) return 1;
  const clean = reputation?.accepted ?? 0;
  if (clean < PROBATION_UNITS) return 1;
  return Math.max(policy.sampleRate, 2 ** (-(clean - PROBATION_UNITS) / HALF_LIFE_UNITS));
}

export type CheckPlan =
  | { check: 'none'; replicas: number; probability: number }
  | { check: 'replica' | 'requester'; replicas: number; probability: number };

/**
 * How to verify the next unit whose primary is a key with `reputation`.
 * `replicas` is how many providers to send it to up front (quorum = majority of them).
 */
export function planCheck(policy: JobPolicy, reputation: ProviderReputation | undefined, rng: RandomSource): CheckPlan {
  if (policy.redundancy >= 2) return { check: 'replica', replicas: policy.redundancy, probability: 1 };
  const probability = checkProbability(policy, reputation);
  const drawn = probability >= 1 || nextFloat(rng) < probability;
  if (!drawn) return { check: 'none', replicas: 1, probability };
  return policy.checkWith === 'replica'
    ? { check: 'replica', replicas: 2, probability }
    : { check: 'requester', replicas: 1, probability };
}
