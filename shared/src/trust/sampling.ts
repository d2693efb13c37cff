/**
 * Which units get checked. New keys are checked on every unit (probation).
 * After it, each key's results in a job are taken in blocks of
 * `blockLength(sampleRate)` (1/sampleRate) and exactly one result per block is
 * checked, at a position drawn uniformly: every result is checked with
 * probability sampleRate, as with independent draws, but a window of n results
 * holds ⌊n/blockLength⌋ − 1 checks or more instead of however many a coin
 * gives, so a key that earns trust and then cheats cannot be lucky for long.
 * A key with any caught wrong result is checked on every unit for good.
 * The draw happens on the requester with unpredictable randomness, and a
 * replica looks to a provider like any other unit, so no provider knows which
 * of its results are checked.
 */
import type { PeerId } from '../identity';
import { PROBATION_UNITS } from './constants';
import type { JobPolicy } from './policy';
import { nextFloat, type RandomSource } from './random';
import type { ProviderReputation } from './reputation';

/** Where a trusted key's next result falls in its current block: `index` results of the block are in, `checked` if one was. */
export interface BlockPosition {
  index: number;
  checked: boolean;
}

const BLOCK_START: Readonly<BlockPosition> = Object.freeze({ index: 0, checked: false });

/** Results per block of a trusted key: one of them is checked. Infinite (never checked) at rate 0. */
export function blockLength(sampleRate: number): number {
  return sampleRate > 0 ? Math.max(1, Math.round(1 / sampleRate)) : Number.POSITIVE_INFINITY;
}

/** Past probation with no caught wrong result: checked by the block schedule rather than on every unit. */
export function isTrusted(reputation: Pick<ProviderReputation, 'accepted' | 'rejected'> | undefined): boolean {
  return reputation !== undefined && reputation.rejected === 0 && reputation.accepted >= PROBATION_UNITS;
}

/**
 * Probability that the next result of a key is checked. Adaptive: 1 for a key in
 * probation or ever caught; for a trusted key, 1/(results left in its block) until
 * the block has its check, then 0 — the check lands uniformly in the block.
 */
export function checkProbability(
  policy: Pick<JobPolicy, 'adaptive' | 'sampleRate'>,
  reputation: Pick<ProviderReputation, 'accepted' | 'rejected'> | undefined,
  block: Readonly<BlockPosition> = BLOCK_START,
): number {
  if (!policy.adaptive) return policy.sampleRate;
  if (!isTrusted(reputation)) return 1;
  if (block.checked) return 0;
  return 1 / (blockLength(policy.sampleRate) - block.index);
}

export type CheckPlan =
  | { check: 'none'; replicas: number; probability: number }
  | { check: 'replica' | 'requester'; replicas: number; probability: number };

/**
 * How to verify the next unit whose primary is a key with `reputation`.
 * `replicas` is how many providers to send it to up front (quorum = majority of them).
 */
export function planCheck(
  policy: JobPolicy,
  reputation: ProviderReputation | undefined,
  rng: RandomSource,
  block: Readonly<BlockPosition> = BLOCK_START,
): CheckPlan {
  if (policy.redundancy >= 2) return { check: 'replica', replicas: policy.redundancy, probability: 1 };
  const probability = checkProbability(policy, reputation, block);
  const drawn = probability >= 1 || (probability > 0 && nextFloat(rng) < probability);
  if (!drawn) return { check: 'none', replicas: 1, probability };
  return policy.checkWith === 'replica'
    ? { check: 'replica', replicas: 2, probability }
    : { check: 'requester', replicas: 1, probability };
}

/** Each trusted key's place in its blocks, for one job (a job starts every key on a fresh block). */
export class CheckSchedule {
  private readonly blocks = new Map<PeerId, BlockPosition>();

  constructor(private readonly length: number) {}

  position(peerId: PeerId): Readonly<BlockPosition> {
    return this.blocks.get(peerId) ?? BLOCK_START;
  }

  /** A trusted key's result was planned (`checked` or not): it takes the next place in its block. */
  advance(peerId: PeerId, checked: boolean): void {
    const block = { ...this.position(peerId) };
    block.index++;
    block.checked ||= checked;
    this.blocks.set(peerId, block.index >= this.length ? { ...BLOCK_START } : block);
  }
}
