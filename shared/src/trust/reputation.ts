/**
 * Reputation per provider key, from the requester's verified history.
 * Persisted by the requester (IndexedDB: `toJSON()` is structured-clone and
 * JSON safe), validated on read because storage is as untrusted as the wire,
 * and summarised compactly for the server's matchmaker.
 */
import * as v from 'valibot';
import type { PeerId } from '../identity';
import { LIMITS, REJECTION_WEIGHT, REPUTATION_WILSON_Z } from './constants';
import { InvalidRecordError } from './errors';

export const REPUTATION_SCHEMA_VERSION = 1;

const PeerIdSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/, 'peer id is a base64url Ed25519 public key'));
const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(LIMITS.maxCount));
const Time = v.pipe(v.number(), v.integer(), v.minValue(0));

export const ProviderReputationSchema = v.strictObject({
  peerId: PeerIdSchema,
  /** Results accepted (checked or not) with no caught failure in between: the "clean count". */
  accepted: Count,
  /** Of those, results a check agreed with. */
  verified: Count,
  /** Results caught wrong (disagreed with the canonical result). */
  rejected: Count,
  /** Results received and not yet decided. */
  pending: Count,
  excluded: v.boolean(),
  reason: v.optional(v.pipe(v.string(), v.maxLength(512))),
  firstSeen: Time,
  lastSeen: Time,
});
export type ProviderReputation = v.InferOutput<typeof ProviderReputationSchema>;

export const ReputationSnapshotSchema = v.strictObject({
  v: v.literal(REPUTATION_SCHEMA_VERSION),
  providers: v.pipe(v.array(ProviderReputationSchema), v.maxLength(LIMITS.maxProviders)),
});
export type ReputationSnapshot = v.InferOutput<typeof ReputationSnapshotSchema>;

/** What the server needs for matchmaking: small, and no job detail. */
export const ReputationSummarySchema = v.strictObject({
  peerId: PeerIdSchema,
  units: Count,
  rejected: Count,
  excluded: v.boolean(),
  score: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
});
export type ReputationSummary = v.InferOutput<typeof ReputationSummarySchema>;

/**
 * Wilson lower bound of the success proportion, each rejection weighing as
 * much as the whole clean history (at least REJECTION_WEIGHT results): 0 for a
 * new key, → 1 with a long clean history, and one caught failure caps a key
 * below 1/2, under any clean key with a couple of dozen units.
 */
export function reputationScore(r: Pick<ProviderReputation, 'accepted' | 'rejected'>): number {
  const good = r.accepted;
  const n = good + r.rejected * Math.max(REJECTION_WEIGHT, good);
  if (n === 0) return 0;
  const z = REPUTATION_WILSON_Z;
  const p = good / n;
  const centre = p + (z * z) / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return Math.max(0, (centre - margin) / (1 + (z * z) / n));
}

export class ReputationBook {
  private readonly records = new Map<PeerId, ProviderReputation>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  get(peerId: PeerId): ProviderReputation | undefined {
    const r = this.records.get(peerId);
    return r ? { ...r } : undefined;
  }

  private touch(peerId: PeerId): ProviderReputation {
    const t = Math.floor(this.now());
    let r = this.records.get(peerId);
    if (!r) {
      r = { peerId, accepted: 0, verified: 0, rejected: 0, pending: 0, excluded: false, firstSeen: t, lastSeen: t };
      this.records.set(peerId, r);
    }
    r.lastSeen = Math.max(r.lastSeen, t);
    return r;
  }

  /** A result arrived and awaits a decision. */
  recordPending(peerId: PeerId): void {
    this.touch(peerId).pending++;
  }

  /** A result was accepted; `verified` when a check agreed with it. */
  recordAccepted(peerId: PeerId, verified: boolean): void {
    const r = this.touch(peerId);
    r.pending = Math.max(0, r.pending - 1);
    r.accepted++;
    if (verified) r.verified++;
  }

  /** A result accepted unchecked was verified afterwards (a copy of its unit agreed). */
  recordVerified(peerId: PeerId): void {
    const r = this.records.get(peerId);
    if (r && r.verified < r.accepted) r.verified++;
  }

  /** A result was caught wrong: the key is excluded (SPEC TRUST-P2). */
  recordRejected(peerId: PeerId, reason: string): void {
    const r = this.touch(peerId);
    r.pending = Math.max(0, r.pending - 1);
    r.rejected++;
    r.excluded = true;
    r.reason = reason.slice(0, 512);
  }

  /** A result that will never be decided (unit cancelled, provider lost). */
  recordDropped(peerId: PeerId): void {
    const r = this.records.get(peerId);
    if (r) r.pending = Math.max(0, r.pending - 1);
  }

  isExcluded(peerId: PeerId): boolean {
    return this.records.get(peerId)?.excluded === true;
  }

  summary(peerId: PeerId): ReputationSummary | undefined {
    const r = this.records.get(peerId);
    return r && { peerId, units: r.accepted, rejected: r.rejected, excluded: r.excluded, score: reputationScore(r) };
  }

  summaries(): ReputationSummary[] {
    return [...this.records.keys()].map((id) => this.summary(id)!);
  }

  toJSON(): ReputationSnapshot {
    return { v: REPUTATION_SCHEMA_VERSION, providers: [...this.records.values()].map((r) => ({ ...r })) };
  }

  /** Restores from storage; throws InvalidRecordError on anything malformed (a corrupted store must not grant trust). */
  static fromJSON(value: unknown, now: () => number = Date.now): ReputationBook {
    const parsed = v.safeParse(ReputationSnapshotSchema, value);
    if (!parsed.success)
      throw new InvalidRecordError(
        parsed.issues.map((i) => `${v.getDotPath(i) ?? 'snapshot'}: ${i.message}`).join('; '),
      );
    const book = new ReputationBook(now);
    for (const r of parsed.output.providers) {
      if (book.records.has(r.peerId)) throw new InvalidRecordError(`duplicate provider ${r.peerId}`);
      if (r.verified > r.accepted) throw new InvalidRecordError(`verified > accepted for ${r.peerId}`);
      if (r.rejected > 0 && !r.excluded) throw new InvalidRecordError(`rejected key not excluded: ${r.peerId}`);
      book.records.set(r.peerId, { ...r });
    }
    return book;
  }
}
