/**
 * Rollout verification as pure decisions. A claim first passes the cheap
 * checks against what the trainer assigned (precheckRollout: shape, the
 * assignment, the version window, the seed, replays); then the trainer runs
 * one teacher-forced pass over prompt + completion with the claimed
 * version's weights — the pass GRPO reuses — and checkRecomputed judges the
 * sketch at trainer-chosen positions, the sampling replay and the
 * log-probabilities against it. Each refusal names its reason.
 */
import { CDF_BOUNDARY_TOL, LOGPROB_TOL, MAX_BOUNDARY_FRACTION, MAX_VERSION_LAG, SKETCH_TOP_K } from './constants';
import { hashHex } from './hash';
import type { ForcedPass } from './runner';
import { replaySampling, rolloutSeed, tempered } from './sampling';
import { checkSketch, choosePositions, type Sketch } from './sketch';

export interface RolloutClaim {
  readonly providerKey: string;
  readonly round: number;
  readonly promptIndex: number;
  readonly sample: number;
  readonly seed: number;
  readonly version: number;
  readonly prompt: readonly number[];
  readonly completion: readonly number[];
  /** log p_τ per completion token, as the provider sampled it. */
  readonly logprobs: readonly number[];
  readonly sketch: Sketch;
}

/** What the trainer assigned one provider for one round. */
export interface Assignment {
  readonly round: number;
  readonly roundNonce: string;
  readonly providerKey: string;
  /** Prompt ids by prompt index. */
  readonly prompts: ReadonlyMap<number, readonly number[]>;
  /** Completions per prompt (G). */
  readonly samples: number;
  readonly maxNew: number;
  readonly temperature: number;
}

export type RefuseReason =
  | 'malformed'
  | 'not-assigned'
  | 'future-version'
  | 'stale-version'
  | 'seed'
  | 'replay'
  | 'sketch'
  | 'sampling'
  | 'logprobs';

export interface Refusal {
  readonly ok: false;
  readonly reason: RefuseReason;
  readonly detail: string;
}

export interface Prechecked {
  readonly ok: true;
  /** Dedupe key over (seed, prompt, completion): the same rollout under any claimed version is one rollout. */
  readonly hash: string;
  /** Trainer version − rollout version (0..MAX_VERSION_LAG): the GRPO ratio corrects for it. */
  readonly lag: number;
}

export interface Accepted extends Prechecked {
  /** Tokens accepted only through the CDF boundary slack. */
  readonly boundaryTokens: number;
  /** Largest |claimed − recomputed| log-probability over the completion (nats): the backends' disagreement. */
  readonly logprobGap: number;
}

function refuse(reason: RefuseReason, detail: string): Refusal {
  return { ok: false, reason, detail };
}

export function rolloutHash(c: Pick<RolloutClaim, 'seed' | 'prompt' | 'completion'>): string {
  return hashHex(['rollout', c.seed, c.prompt, c.completion]);
}

/** The policy's shape, so that nothing a provider sends can make the trainer's forward pass throw. */
export interface PolicyShape {
  readonly vocab: number;
  readonly context: number;
}

export function precheckRollout(
  c: RolloutClaim,
  a: Assignment,
  currentVersion: number,
  seen: ReadonlySet<string>,
  shape: PolicyShape,
): Prechecked | Refusal {
  const n = c.prompt.length + c.completion.length;
  if (c.completion.length < 1 || c.completion.length > a.maxNew || n > shape.context)
    return refuse('malformed', `completion of ${c.completion.length} tokens (1..${a.maxNew}, ${shape.context} in all)`);
  const isId = (x: number) => Number.isInteger(x) && x >= 0 && x < shape.vocab;
  if (!c.prompt.every(isId) || !c.completion.every(isId)) return refuse('malformed', 'a token is not a valid id');
  if (c.logprobs.length !== c.completion.length || !c.logprobs.every((x) => Number.isFinite(x) && x <= 0))
    return refuse('malformed', 'one finite log-probability ≤ 0 per completion token');
  if (c.sketch.positions !== n) return refuse('malformed', `sketch covers ${c.sketch.positions} of ${n} positions`);
  if (!Number.isInteger(c.version)) return refuse('malformed', 'version is not an integer');
  const prompt = a.prompts.get(c.promptIndex);
  if (c.providerKey !== a.providerKey || c.round !== a.round || prompt === undefined)
    return refuse('not-assigned', `round ${c.round}, prompt ${c.promptIndex} was not assigned to this key`);
  if (!Number.isInteger(c.sample) || c.sample < 0 || c.sample >= a.samples)
    return refuse('not-assigned', `sample ${c.sample} outside 0..${a.samples - 1}`);
  if (prompt.length !== c.prompt.length || prompt.some((x, i) => x !== c.prompt[i]))
    return refuse('not-assigned', 'the prompt differs from the assigned one');
  if (c.version > currentVersion) return refuse('future-version', `version ${c.version} > ${currentVersion}`);
  const lag = currentVersion - c.version;
  if (lag > MAX_VERSION_LAG) return refuse('stale-version', `version ${c.version} is ${lag} behind ${currentVersion}`);
  const seed = rolloutSeed({ ...a, promptIndex: c.promptIndex, sample: c.sample });
  if (c.seed !== seed) return refuse('seed', `seed ${c.seed} is not the assigned ${seed}`);
  const hash = rolloutHash(c);
  if (seen.has(hash)) return refuse('replay', `rollout ${hash} was already submitted`);
  return { ok: true, hash, lag };
}

/**
 * Judges a prechecked claim against the trainer's teacher-forced pass over prompt + completion with the
 * claimed version's weights. `nonce` is the trainer's, revealed only after the claim arrived.
 */
export function checkRecomputed(
  c: RolloutClaim,
  pre: Prechecked,
  forced: ForcedPass,
  dims: { readonly width: number; readonly vocab: number },
  temperature: number,
  nonce: string,
): Accepted | Refusal {
  const { width: C, vocab: V } = dims;
  const n = c.prompt.length + c.completion.length;
  if (forced.hidden.length !== n * C || forced.logits.length !== (n - 1) * V)
    throw new RangeError('the forced pass does not cover this rollout');
  const positions = choosePositions(nonce, pre.hash, n);
  const sketch = checkSketch(c.sketch, forced.hidden, C, positions, SKETCH_TOP_K);
  if (!sketch.ok)
    return refuse(
      'sketch',
      `${sketch.badPositions.length} of ${positions.length} positions disagree (worst ${sketch.worstFails} entries)`,
    );
  const rows = forced.logits.subarray((c.prompt.length - 1) * V);
  const replay = replaySampling(rows, V, temperature, c.seed, c.completion, CDF_BOUNDARY_TOL);
  if (replay.mismatches.length > 0)
    return refuse(
      'sampling',
      `token ${replay.mismatches[0]} is not what the seed draws (${replay.mismatches.length} in all)`,
    );
  if (replay.boundary > Math.max(1, MAX_BOUNDARY_FRACTION * c.completion.length))
    return refuse('sampling', `${replay.boundary} tokens only at a CDF boundary`);
  let logprobGap = 0;
  for (let j = 0; j < c.completion.length; j++) {
    const p = tempered(rows, temperature, j * V, V);
    const mine = Math.log(p[c.completion[j]!]!);
    const gap = Math.abs(mine - c.logprobs[j]!);
    if (!(gap <= LOGPROB_TOL))
      return refuse('logprobs', `token ${j}: claimed ${c.logprobs[j]!.toFixed(4)}, recomputed ${mine.toFixed(4)}`);
    logprobGap = Math.max(logprobGap, gap);
  }
  return { ...pre, boundaryTokens: replay.boundary, logprobGap };
}
