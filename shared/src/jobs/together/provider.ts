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
import { AheadDroppedError, ContributionError, TogetherError } from './errors';
import type { Entry } from './rounds';

export interface RoundWork {
  readonly contribution: Contribution;
  readonly bytes: Uint8Array;
  /** The pseudo-gradient Δ = θ_start − θ_end the contribution was compressed from. */
  readonly delta: Float32Array;
  /** Training losses of the inner steps (before each update). */
  readonly losses: number[];
  /** Milliseconds spent waiting for the round's version after the last step (training ahead only). */
  readonly waitedMs: number;
}

/** Where training ahead learns of the round's version. */
export interface AheadSource {
  /** The round's version once it is here, else null (asked before every inner step). */
  poll(): Float32Array | null;
  /** Resolves with the round's version (awaited when the steps are done before it came). */
  arrived(): Promise<Float32Array>;
}

export class RoundTrainer {
  constructor(
    readonly engine: TrainEngine,
    /** Inner state: its params are replaced by each round's version; m, v and step carry over. */
    readonly state: TrainState,
    readonly feedback: ErrorFeedback,
    readonly hyper: AdamWHyper,
  ) {}

  /**
   * Warms a fresh inner optimizer: one step on each of `batches` from `version` at learning rate 0, so
   * AdamW's moments (and their bias correction) hold real gradients and the weights stay where they are.
   * A tab that joins mid-training calls it before its first round: from zero moments AdamW's first steps
   * are sign-like, lr on every weight whatever its gradient, and E2E-TOGETHER2 saw such a joiner's first
   * contribution gain ~0 on every validation batch (refused at top 64 of 4096; a Node replay of that test
   * did not reproduce it, but warming nearly doubled the joiner's first gain over its bar there). Round 0
   * needs none: there every volunteer starts fresh and the loss falls fast (see `needsWarm`).
   */
  async warm(version: Float32Array, batches: readonly Batch[], between?: () => Promise<void>): Promise<void> {
    const s = this.state;
    if (version.length !== s.params.length) throw new TogetherError('round', 'the version does not fit this model');
    s.params.set(version);
    await this.engine.load(s);
    const still = { ...this.hyper, lr: 0 };
    for (const batch of batches) {
      s.step++;
      await this.engine.step(batch, still, s.step);
      await between?.();
    }
    await this.engine.save(s);
  }

  /** Whether round `round` finds a new inner optimizer after round 0 (a tab joining): warm it first. */
  needsWarm(round: number): boolean {
    return this.state.step === 0 && round > 0;
  }

  /** `between` runs after each inner step (a page yields there so it stays responsive). */
  async train(start: Float32Array, batches: readonly Batch[], between?: () => Promise<void>): Promise<RoundWork> {
    return this.trainAhead(batches, { poll: () => start, arrived: async () => start }, between);
  }

  /**
   * Trains a round before its version has arrived, so a provider computes while the round before it is
   * revealed, scored and relayed (overlap with eager updates: DiLoCo's "eager" one-step overlap). The
   * first steps start from where this trainer's last round ended, its own progress standing in for the
   * round's aggregate; when the version comes (`source.poll()` is asked before every step, and
   * `source.arrived()` awaited after the last if it had not) the weights move by (version − last end), so
   * the rest of the round and Δ are relative to the version. A version there before the first step gives
   * exactly what train(version, …) gives. `cancelled` is asked between steps: the work is dropped.
   */
  async trainAhead(
    batches: readonly Batch[],
    source: AheadSource,
    between?: () => Promise<void>,
    cancelled: () => boolean = () => false,
  ): Promise<RoundWork> {
    const s = this.state;
    const from = s.params.slice();
    let start: Float32Array | null = null;
    const rebase = async (version: Float32Array, stepsDone: number) => {
      if (version.length !== s.params.length) throw new TogetherError('round', 'the version does not fit this model');
      if (stepsDone === 0) s.params.set(version);
      else {
        await this.engine.save(s);
        for (let i = 0; i < s.params.length; i++) s.params[i] = s.params[i]! + (version[i]! - from[i]!);
      }
      await this.engine.load(s);
      start = version;
    };
    const losses: number[] = [];
    if (!(start = source.poll())) await this.engine.load(s);
    else await rebase(start, 0);
    for (const batch of batches) {
      if (start === null) {
        const version = source.poll();
        if (version) await rebase(version, losses.length);
      }
      s.step++;
      const r = await this.engine.step(batch, this.hyper, s.step);
      losses.push(r.loss);
      await between?.();
      if (cancelled()) throw new AheadDroppedError();
    }
    let waitedMs = 0;
    if (start === null) {
      const t0 = performance.now();
      const version = await source.arrived();
      waitedMs = performance.now() - t0;
      if (cancelled()) throw new AheadDroppedError();
      await rebase(version, losses.length);
    }
    await this.engine.save(s);
    const begin: Float32Array = start!;
    const delta = new Float32Array(begin.length);
    for (let i = 0; i < delta.length; i++) {
      const d = begin[i]! - s.params[i]!;
      if (!Number.isFinite(d)) throw new TogetherError('round', 'training diverged this round: nothing to send');
      delta[i] = d;
    }
    const contribution = this.feedback.step(delta);
    return { contribution, bytes: encodeContribution(contribution), delta, losses, waitedMs };
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
