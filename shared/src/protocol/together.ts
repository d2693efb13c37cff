/**
 * Training together (issue 19) over a data channel: the same stream and framing as the one-provider Train
 * job (train.ts), with its own message types, validated here on both sides.
 *
 * requester → provider
 *   together-start     spec, this provider's shard, the round and version to start from;
 *                      body: the corpus's token ids (u16 LE), then the version (f32 params, f32 momentum),
 *                      or, with `chainBytes`, the round patches from version 0 (audit.ts encodeChain), which
 *                      the provider replays from the spec's seed when that is smaller than the version
 *   together-round     train round `round` from version `versionHash`
 *   together-reveal    the round's deadline has passed: send the contribution committed to
 *   together-patch     body: the round patch (shared/src/jobs/together/patch.ts); `relay` names the
 *                      volunteers this one forwards it to (relay.ts). A co-volunteer forwards the same
 *                      message on a direct link, taken only as the requester's together-relayed says
 *   together-relayed   the round's patch (baseHash → versionHash) comes from a co-volunteer: expect it
 *   together-snapshot  body: a whole version, for a provider whose rebuilt hash did not match
 * provider → requester
 *   together-ready     holds version `versionHash` (after start, patch or snapshot)
 *   together-commit    the digest of its contribution, signed with its key (provider.ts commitMessage),
 *                      with the round's mean training loss and speed
 *   together-contribution  body: the contribution bytes
 *   together-error     it cannot take part (code 'provider') or the job is at fault ('config', 'data')
 */
import * as v from 'valibot';
import { JobIdSchema } from '../ids';
import { TrainSpecSchema } from '../jobs/train/spec';
import { SIGNATURE_PATTERN } from '../identity';
import { decodeFramed, encodeFramed, PeerProtocolError } from './peer';
import { RelayListSchema } from './relay';

export const TOGETHER_WIRE_VERSION = 1;
/** 2^24 tokens (32 MiB as u16) bound a corpus a browser tab trains on together. */
export const MAX_TOGETHER_TOKENS = 2 ** 24;
/** A version of the largest model a provider trains (4 GiB WASM memory bounds it anyway). */
export const MAX_TOGETHER_VERSION_BYTES = 2 ** 31;

const Round = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31));
const Hash = v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/));
const Finite = v.pipe(v.number(), v.finite());
const Count = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(max));
const Text = v.pipe(v.string(), v.maxLength(1024));

export const TogetherToProviderSchema = v.variant('type', [
  v.strictObject({
    type: v.literal('together-start'),
    v: v.pipe(v.number(), v.integer()),
    jobId: JobIdSchema,
    spec: TrainSpecSchema,
    shard: Count(1023),
    shards: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1024)),
    round: Round,
    versionHash: Hash,
    tokens: Count(MAX_TOGETHER_TOKENS),
    paramBytes: Count(MAX_TOGETHER_VERSION_BYTES),
    momentumBytes: Count(MAX_TOGETHER_VERSION_BYTES),
    /** Present: the body carries the chain of round patches instead of the version (paramBytes 0). */
    chainBytes: v.optional(Count(MAX_TOGETHER_VERSION_BYTES)),
  }),
  v.strictObject({ type: v.literal('together-round'), jobId: JobIdSchema, round: Round, versionHash: Hash }),
  v.strictObject({ type: v.literal('together-reveal'), jobId: JobIdSchema, round: Round }),
  v.strictObject({
    type: v.literal('together-patch'),
    jobId: JobIdSchema,
    round: Round,
    relay: v.optional(RelayListSchema),
  }),
  v.strictObject({
    type: v.literal('together-relayed'),
    jobId: JobIdSchema,
    round: Round,
    baseHash: Hash,
    versionHash: Hash,
  }),
  v.strictObject({
    type: v.literal('together-snapshot'),
    jobId: JobIdSchema,
    round: Round,
    versionHash: Hash,
    paramBytes: Count(MAX_TOGETHER_VERSION_BYTES),
  }),
]);
export type TogetherToProvider = v.InferOutput<typeof TogetherToProviderSchema>;

export const TogetherFromProviderSchema = v.variant('type', [
  v.strictObject({
    type: v.literal('together-ready'),
    jobId: JobIdSchema,
    round: Round,
    versionHash: Hash,
    backend: v.pipe(v.string(), v.maxLength(64)),
  }),
  v.strictObject({
    type: v.literal('together-commit'),
    jobId: JobIdSchema,
    round: Round,
    baseHash: Hash,
    digest: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
    signature: v.pipe(v.string(), v.regex(SIGNATURE_PATTERN)),
    loss: v.nullable(Finite),
    tokensPerS: Finite,
  }),
  v.strictObject({ type: v.literal('together-contribution'), jobId: JobIdSchema, round: Round }),
  v.strictObject({
    type: v.literal('together-error'),
    jobId: JobIdSchema,
    code: v.pipe(v.string(), v.maxLength(32)),
    message: Text,
  }),
]);
export type TogetherFromProvider = v.InferOutput<typeof TogetherFromProviderSchema>;

/** True when a train-stream message is a together one (its header type says so); nothing else is parsed. */
export function isTogetherMessage(bytes: Uint8Array): boolean {
  try {
    const { header } = decodeFramed(bytes, v.looseObject({ type: v.string() }));
    return header.type.startsWith('together-');
  } catch {
    return false;
  }
}

export function encodeTogether(header: TogetherToProvider | TogetherFromProvider, body?: Uint8Array): Uint8Array {
  return encodeFramed(header, body);
}

export function decodeTogetherToProvider(bytes: Uint8Array): { header: TogetherToProvider; body: Uint8Array } {
  const m = decodeFramed(bytes, TogetherToProviderSchema, 'together message');
  const h = m.header;
  const want =
    h.type === 'together-start'
      ? 2 * h.tokens + h.paramBytes + h.momentumBytes + (h.chainBytes ?? 0)
      : h.type === 'together-snapshot'
        ? h.paramBytes
        : h.type === 'together-patch'
          ? m.body.length
          : 0;
  if (m.body.length !== want)
    throw new PeerProtocolError(`${h.type} announces ${want} bytes but carries ${m.body.length}`);
  if ((h.type === 'together-start' || h.type === 'together-snapshot') && h.paramBytes % 4 !== 0)
    throw new PeerProtocolError(`${h.type} carries a partial f32 value`);
  if (h.type === 'together-start' && h.chainBytes !== undefined && h.paramBytes + h.momentumBytes !== 0)
    throw new PeerProtocolError('together-start carries either a version or a chain of round patches, not both');
  return m;
}

export function decodeTogetherFromProvider(bytes: Uint8Array): { header: TogetherFromProvider; body: Uint8Array } {
  const m = decodeFramed(bytes, TogetherFromProviderSchema, 'together message');
  if (m.header.type !== 'together-contribution' && m.body.length !== 0)
    throw new PeerProtocolError(`${m.header.type} carries no body`);
  return m;
}
