/**
 * A provider's round: start from the round's version, take H inner AdamW steps on the assigned batches
 * (the inner optimizer's moments and step count carry over between rounds, as DiLoCo's do), form the
 * pseudo-gradient Δ = θ_start − θ_end, compress it with error feedback and encode it. Then commit to it
 * (SHA-256 of the bytes, signed with the provider's key together with job, round and base version) and
 * reveal the bytes after the round's deadline.
 */
import { concatBytes, sha256Hex } from '../../bytes';
import type { AdamWHyper, Batch, TrainState } from '../../train';
import type { TrainEngine } from '../train/engine';
import type { Contribution, ErrorFeedback } from './compress';
import { verify } from '../../identity';
import { type ContributionShape, decodeContribution, encodeContribution } from './codec';
import { ContributionError, TogetherError } from './errors';
import type { Entry } from './rounds';

export interface RoundWork {
  readonly contribution: Contribution;
  readonly bytes: Uint8Array;
  /** The pseudo-gradient Δ = θ_start − θ_end the contribution was compressed from. */
  readonly delta: Float32Array;
  /** Training losses of the inner steps (before each update). */
  readonly losses: number[];
}

export class RoundTrainer {
  constructor(
    readonly engine: TrainEngine,
    /** Inner state: its params are replaced by each round's version; m, v and step carry over. */
    readonly state: TrainState,
    readonly feedback: ErrorFeedback,
    readonly hyper: AdamWHyper,
  ) {}

  /** `between` runs after each inner step (a page yields there so it stays responsive). */
  async train(start: Float32Array, batches: readonly Batch[], between?: () => Promise<void>): Promise<RoundWork> {
    const s = this.state;
    if (start.length !== s.params.length) throw new TogetherError('round', 'the version does not fit this model');
    s.params.set(start);
    await this.engine.load(s);
    const losses: number[] = [];
    for (const batch of batches) {
      s.step++;
      const r = await this.engine.step(batch, this.hyper, s.step);
      losses.push(r.loss);
      await between?.();
    }
    await this.engine.save(s);
    const delta = new Float32Array(start.length);
    for (let i = 0; i < delta.length; i++) {
      const d = start[i]! - s.params[i]!;
      if (!Number.isFinite(d)) throw new TogetherError('round', 'training diverged this round: nothing to send');
      delta[i] = d;
    }
    const contribution = this.feedback.step(delta);
    return { contribution, bytes: encodeContribution(contribution), delta, losses };
  }
}

/** What a provider signs when it commits: job, round, the version it trained from, and the digest. */
export function commitMessage(jobId: string, round: number, baseHash: string, digest: string): Uint8Array {
  return new TextEncoder().encode(`together-commit-v1\n${jobId}\n${round}\n${baseHash}\n${digest}`);
}

export async function commitDigest(bytes: Uint8Array): Promise<string> {
  return sha256Hex(concatBytes([new TextEncoder().encode('together-contribution-v1'), bytes]));
}

/** A provider's commitment for a round, as the requester holds it before the reveal. */
export interface Commitment {
  readonly provider: string;
  readonly baseHash: string;
  readonly digest: string;
  readonly signature: string;
}

/**
 * The requester's check of a reveal against its commitment: the signature over the commit message, the
 * digest of the revealed bytes, then the bytes as a contribution of the job's shape. A failure is an entry
 * refused for that reason; it never throws.
 */
export async function entryFromReveal(
  jobId: string,
  round: number,
  commitment: Commitment,
  bytes: Uint8Array,
  shape: ContributionShape,
): Promise<Entry> {
  const base = { provider: commitment.provider, baseHash: commitment.baseHash, bytes };
  const message = commitMessage(jobId, round, commitment.baseHash, commitment.digest);
  if (
    !(await verify(commitment.provider, message, commitment.signature)) ||
    (await commitDigest(bytes)) !== commitment.digest
  )
    return { ...base, contribution: null, refused: 'commitment' };
  try {
    return { ...base, contribution: decodeContribution(bytes, shape) };
  } catch (e) {
    if (e instanceof ContributionError) return { ...base, contribution: null, refused: 'malformed' };
    throw e;
  }
}
