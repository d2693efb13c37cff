/**
 * Which rollouts get the full check. Every claim is prechecked (free); the
 * sketch, replay and log-prob check needs the claimed version's forward pass,
 * which for a rollout of the current version is the pass GRPO runs anyway but
 * for a stale one is extra work. New keys are checked on every rollout; a key
 * with a record of accepted rollouts on a sample that shrinks with its record,
 * never below AUDIT_MIN_RATE, and any refusal resets it to full checking.
 * The choice hashes the trainer's nonce, so a provider cannot know which
 * rollouts will be checked.
 */
import { hash32 } from './hash';

/** Accepted rollouts a key needs before sampling starts (one round of 8 prompts × 4 samples, twice). */
export const AUDIT_TRUST_AFTER = 64;
/** Floor of the sampled rate: a cheat that passes unchecked ~9 times in 10 is still caught within ~20 tries. */
export const AUDIT_MIN_RATE = 0.1;

export interface KeyRecord {
  /** Accepted since the last refusal. */
  readonly accepted: number;
}

export function auditRate(r: KeyRecord): number {
  if (r.accepted < AUDIT_TRUST_AFTER) return 1;
  return Math.max(AUDIT_MIN_RATE, AUDIT_TRUST_AFTER / r.accepted);
}

export function chosenForAudit(r: KeyRecord, nonce: string, rolloutHash: string): boolean {
  const rate = auditRate(r);
  return rate >= 1 || hash32(['grail-audit', nonce, rolloutHash]) / 2 ** 32 < rate;
}

/** The record after a verdict: a refusal sends the key back to full checking. */
export function recordVerdict(r: KeyRecord, accepted: boolean): KeyRecord {
  return { accepted: accepted ? r.accepted + 1 : 0 };
}
