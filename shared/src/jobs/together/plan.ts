/**
 * The seeded data plan: the corpus is split into disjoint shards (windows dealt round-robin, data.ts), a
 * provider holds one shard, and round r of a shard is the r-th run of H·B windows of its seeded shuffle.
 * Provider and requester compute the same batches from the plan, so the requester can score a
 * contribution on the exact batches its provider was given.
 */
import { type Batch, type GptConfig, type LoaderPosition, TokenLoader } from '../../train';
import { TogetherError } from './errors';

/** The share of the corpus, from its end, the requester keeps for validation in a together job. */
export const TOGETHER_VALIDATION_SHARE = 0.05;

export interface DataPlan {
  readonly seed: number;
  readonly shards: number;
  readonly innerSteps: number;
  readonly batch: number;
  readonly T: number;
  readonly validationShare: number;
}

export function validatePlan(p: DataPlan): void {
  const whole = (x: number, lo: number, hi: number) => Number.isInteger(x) && x >= lo && x <= hi;
  if (!whole(p.shards, 1, 1024)) throw new TogetherError('config', `shards must be 1..1024, not ${p.shards}`);
  if (!whole(p.innerSteps, 1, 10000))
    throw new TogetherError('config', `inner steps must be 1..10000, not ${p.innerSteps}`);
  if (!whole(p.batch, 1, 1024)) throw new TogetherError('config', `batch must be 1..1024, not ${p.batch}`);
}

export function shardLoader(
  tokens: Int32Array,
  config: GptConfig,
  plan: DataPlan,
  shard: number,
  from?: LoaderPosition,
) {
  return new TokenLoader(
    tokens,
    config,
    plan.T,
    { seed: plan.seed, validationShare: plan.validationShare, shard, shards: plan.shards },
    from,
  );
}

/** The H batches of `shard` in `round`. */
export function roundBatches(
  tokens: Int32Array,
  config: GptConfig,
  plan: DataPlan,
  shard: number,
  round: number,
): Batch[] {
  const probe = shardLoader(tokens, config, plan, shard);
  const w = probe.trainWindowCount;
  const k = round * plan.innerSteps * plan.batch;
  const loader = shardLoader(tokens, config, plan, shard, { seed: plan.seed, epoch: Math.floor(k / w), cursor: k % w });
  return Array.from({ length: plan.innerSteps }, () => loader.next(plan.batch));
}

/** The requester's validation batches (the held-out tail, never in any shard). */
export function validationBatches(tokens: Int32Array, config: GptConfig, plan: DataPlan, count: number): Batch[] {
  const loader = shardLoader(tokens, config, plan, 0);
  const out: Batch[] = [];
  for (let k = 0; k < count; k++) {
    const b = loader.validation(plan.batch, k);
    if (!b) break;
    out.push(b);
  }
  if (out.length === 0) throw new TogetherError('config', 'the corpus leaves no validation batch: upload more text');
  return out;
}
