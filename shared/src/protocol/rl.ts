/**
 * The RL job (issue 22, GRAIL-style) over a data channel: the Train job's stream and framing, its own
 * message types (prefix `rl-`), validated here on both sides.
 *
 * requester → provider
 *   rl-start     the policy's config and sampling settings; body: the current policy as a PULSE snapshot
 *   rl-round     roll out these prompts with version `version` under the seeds the round fixes
 *                (rolloutSeed of round, roundNonce, providerKey, prompt index, sample)
 *   rl-patch     body: the PULSE patch from version − 1 (hash baseHash) to `version` (hash versionHash);
 *                `relay` names the volunteers this one forwards it to (relay.ts). A co-volunteer forwards
 *                the same message on a direct link, and it is taken only as the requester's rl-relayed says
 *   rl-relayed   version `version` (hash versionHash, from baseHash) comes from a co-volunteer: expect it
 *   rl-snapshot  body: the whole policy, for a provider whose rebuilt hash did not match
 * provider → requester
 *   rl-ready     holds version `version` with hash `versionHash` (after start, patch or snapshot)
 *   rl-rollouts  body: the round's claims as a UTF-8 JSON array (wire.ts validates each one)
 *   rl-error     it cannot take part (code 'provider') or the job is at fault ('config')
 */
import * as v from 'valibot';
import { JobIdSchema } from '../ids';
import { MAX_CLAIM_TOKENS } from '../jobs/rl/wire';
import { decodeFramed, encodeFramed, PeerProtocolError } from './peer';
import { RelayListSchema } from './relay';

export const RL_WIRE_VERSION = 1;
/** A round's claims: 64 prompts × 32 samples of ≤ 512 tokens would be ~100 MB; a tab sends far less. */
export const MAX_RL_ROLLOUT_BYTES = 16 * 1024 * 1024;
/** A policy snapshot of the largest preset (small: ~6M bf16 values) with room to spare. */
export const MAX_RL_POLICY_BYTES = 256 * 1024 * 1024;
export const MAX_RL_PROMPTS = 64;

const Version = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31));
const Hash = v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/));
const Int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const Num = (min: number, max: number) => v.pipe(v.number(), v.finite(), v.minValue(min), v.maxValue(max));
const Text = v.pipe(v.string(), v.maxLength(1024));
const Ids = v.pipe(v.array(Int(0, 65535)), v.minLength(1), v.maxLength(MAX_CLAIM_TOKENS));

export const RlPolicyConfigSchema = v.strictObject({
  kind: v.literal('gpt'),
  layers: Int(1, 48),
  width: Int(4, 4096),
  heads: Int(1, 64),
  context: Int(2, MAX_CLAIM_TOKENS),
  vocab: Int(2, 65536),
});

export const RlToProviderSchema = v.variant('type', [
  v.strictObject({
    type: v.literal('rl-start'),
    v: v.pipe(v.number(), v.integer()),
    jobId: JobIdSchema,
    config: RlPolicyConfigSchema,
    /** The provider's key as the trainer names it: seeds hash it, so the provider checks it is its own. */
    providerKey: v.pipe(v.string(), v.maxLength(256)),
    version: Version,
    versionHash: Hash,
  }),
  v.strictObject({
    type: v.literal('rl-round'),
    jobId: JobIdSchema,
    round: Version,
    roundNonce: v.pipe(v.string(), v.maxLength(128)),
    version: Version,
    versionHash: Hash,
    providerKey: v.pipe(v.string(), v.maxLength(256)),
    prompts: v.pipe(
      v.array(v.strictObject({ index: Int(0, 2 ** 31), ids: Ids })),
      v.minLength(1),
      v.maxLength(MAX_RL_PROMPTS),
    ),
    samples: Int(1, 32),
    maxNew: Int(1, MAX_CLAIM_TOKENS),
    temperature: Num(0.05, 4),
  }),
  v.strictObject({
    type: v.literal('rl-patch'),
    jobId: JobIdSchema,
    version: Version,
    baseHash: Hash,
    versionHash: Hash,
    relay: v.optional(RelayListSchema),
  }),
  v.strictObject({
    type: v.literal('rl-relayed'),
    jobId: JobIdSchema,
    version: Version,
    baseHash: Hash,
    versionHash: Hash,
  }),
  v.strictObject({ type: v.literal('rl-snapshot'), jobId: JobIdSchema, version: Version, versionHash: Hash }),
]);
export type RlToProvider = v.InferOutput<typeof RlToProviderSchema>;

export const RlFromProviderSchema = v.variant('type', [
  v.strictObject({
    type: v.literal('rl-ready'),
    jobId: JobIdSchema,
    version: Version,
    versionHash: Hash,
    backend: v.pipe(v.string(), v.maxLength(64)),
  }),
  v.strictObject({
    type: v.literal('rl-rollouts'),
    jobId: JobIdSchema,
    round: Version,
    count: Int(0, MAX_RL_PROMPTS * 32),
    /** Seconds the provider spent generating (the bench's and dashboard's verification-cost denominator). */
    seconds: Num(0, 1e7),
  }),
  v.strictObject({
    type: v.literal('rl-error'),
    jobId: JobIdSchema,
    code: v.pipe(v.string(), v.maxLength(32)),
    message: Text,
  }),
]);
export type RlFromProvider = v.InferOutput<typeof RlFromProviderSchema>;

/** True when a train-stream message is an RL one (its header type says so); nothing else is parsed. */
export function isRlMessage(bytes: Uint8Array): boolean {
  try {
    const { header } = decodeFramed(bytes, v.looseObject({ type: v.string() }));
    return header.type.startsWith('rl-');
  } catch {
    return false;
  }
}

export function encodeRl(header: RlToProvider | RlFromProvider, body?: Uint8Array): Uint8Array {
  return encodeFramed(header, body);
}

export function decodeRlToProvider(bytes: Uint8Array): { header: RlToProvider; body: Uint8Array } {
  const m = decodeFramed(bytes, RlToProviderSchema, 'rl message');
  const carries = m.header.type === 'rl-start' || m.header.type === 'rl-patch' || m.header.type === 'rl-snapshot';
  if (carries ? m.body.length === 0 || m.body.length > MAX_RL_POLICY_BYTES : m.body.length !== 0)
    throw new PeerProtocolError(`${m.header.type} carries ${m.body.length} bytes`);
  return m;
}

export function decodeRlFromProvider(bytes: Uint8Array): { header: RlFromProvider; body: Uint8Array } {
  const m = decodeFramed(bytes, RlFromProviderSchema, 'rl message');
  const carries = m.header.type === 'rl-rollouts';
  if (carries ? m.body.length > MAX_RL_ROLLOUT_BYTES : m.body.length !== 0)
    throw new PeerProtocolError(`${m.header.type} carries ${m.body.length} bytes`);
  return m;
}

/** The claims' JSON array of an rl-rollouts body; each element still goes through claimFromWire. */
export function rolloutsFromBody(body: Uint8Array): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (error) {
    throw new PeerProtocolError(`rl-rollouts body is not UTF-8 JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(value)) throw new PeerProtocolError('rl-rollouts body is not an array');
  return value;
}

export function rolloutsBody(claims: readonly unknown[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(claims));
}
