/**
 * Weight distribution over PeerStream.weights: the requester publishes
 * versions of a model (content-hashed PULSE chains) and providers fetch only
 * what they lack; a provider can forward what it holds to a co-provider of the
 * same job (signaling SPEC RELAY3). Same framing as the job protocol
 * (`peer.ts`): [u32 LE header length][UTF-8 JSON header][body]. Headers are
 * validated on receipt; bodies are PULSE containers, checked by the codec's
 * limits and hashes. Flow:
 *
 *   requester → provider   weights-offer   {modelId, version, hash}
 *   provider  → requester  weights-have    {modelId, held}
 *   requester → provider   weights-patch   {modelId, version, target, entries} + the entries' PULSE bytes end to end
 *   provider  → requester  weights-ack     {modelId, hash}  |  weights-error {modelId, code, reason, peerId?}
 *   requester → provider   weights-forward {modelId, hash, to}   ("once you hold hash, bring these co-providers to it")
 *   provider  → requester  weights-forwarded {modelId, hash, peerId, bytes}
 *
 * Between co-providers the forwarder plays the requester's part of
 * offer/have/patch/ack; the receiver acknowledges to its own requester too.
 */
import * as v from 'valibot';
import { decodeFramed, encodeFramed, PeerProtocolError } from './peer';

/** Most entries in one patch message: a chain longer than an anchor interval (10) plus one anchor is never the cheapest. */
export const MAX_WEIGHTS_ENTRIES = 32;
/** Most hashes a provider lists as held for one model: it keeps one version applied, more are room for later caches. */
export const MAX_HELD_HASHES = 8;
/** Most co-providers in one forward request: the matchmaker's maxProviders is at most 64. */
export const MAX_FORWARD_TARGETS = 64;

const ModelId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'model id is 1–64 of A–Z a–z 0–9 _ . -'));
/** PULSE content hashes are xxh3-128: 32 lowercase hex digits. */
const Hash = v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/, 'hash is 32 lowercase hex digits (xxh3-128)'));
const PeerId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/));
const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 32));
const Text = v.pipe(v.string(), v.maxLength(1024));

export const WeightsEntrySchema = v.strictObject({
  /** The version this patch is diffed against; null for an anchor (full snapshot). */
  from: v.nullable(Hash),
  to: Hash,
  byteLength: Count,
});
export type WeightsEntry = v.InferOutput<typeof WeightsEntrySchema>;

export const WeightsErrorCodeSchema = v.picklist([
  'bad-message',
  'unwanted',
  'no-base',
  'corrupt',
  'hash-mismatch',
  'forward-failed',
  'storage',
]);
export type WeightsErrorCode = v.InferOutput<typeof WeightsErrorCodeSchema>;

export const WeightsHeaderSchema = v.variant('type', [
  v.strictObject({ type: v.literal('weights-offer'), modelId: ModelId, version: Count, hash: Hash }),
  v.strictObject({
    type: v.literal('weights-have'),
    modelId: ModelId,
    held: v.pipe(v.array(Hash), v.maxLength(MAX_HELD_HASHES)),
  }),
  v.strictObject({
    type: v.literal('weights-patch'),
    modelId: ModelId,
    version: Count,
    target: Hash,
    entries: v.pipe(v.array(WeightsEntrySchema), v.minLength(1), v.maxLength(MAX_WEIGHTS_ENTRIES)),
  }),
  v.strictObject({ type: v.literal('weights-ack'), modelId: ModelId, hash: Hash }),
  v.strictObject({
    type: v.literal('weights-error'),
    modelId: ModelId,
    code: WeightsErrorCodeSchema,
    reason: Text,
    peerId: v.optional(PeerId),
  }),
  v.strictObject({
    type: v.literal('weights-forward'),
    modelId: ModelId,
    hash: Hash,
    to: v.pipe(v.array(PeerId), v.minLength(1), v.maxLength(MAX_FORWARD_TARGETS)),
  }),
  v.strictObject({ type: v.literal('weights-forwarded'), modelId: ModelId, hash: Hash, peerId: PeerId, bytes: Count }),
]);
export type WeightsHeader = v.InferOutput<typeof WeightsHeaderSchema>;
export type WeightsHeaderOf<T extends WeightsHeader['type']> = Extract<WeightsHeader, { type: T }>;

export interface WeightsMessage {
  header: WeightsHeader;
  /** Only weights-patch has one: its entries' PULSE containers end to end, in order. */
  body: Uint8Array;
}

export function encodeWeightsMessage(header: WeightsHeader, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  return encodeFramed(header, body);
}

/** Decodes and validates one message; throws PeerProtocolError with a reason on anything malformed. */
export function decodeWeightsMessage(bytes: Uint8Array): WeightsMessage {
  const { header, body } = decodeFramed(bytes, WeightsHeaderSchema, 'weights header');

  if (header.type === 'weights-patch') {
    const total = header.entries.reduce((sum, e) => sum + e.byteLength, 0);
    if (total !== body.length)
      throw new PeerProtocolError(`patch entries declare ${total} bytes, body has ${body.length}`);
    if (header.entries.at(-1)!.to !== header.target)
      throw new PeerProtocolError('the last entry does not reach the target');
    for (let i = 1; i < header.entries.length; i++) {
      const from = header.entries[i]!.from;
      if (from !== null && from !== header.entries[i - 1]!.to)
        throw new PeerProtocolError(`entry ${i} does not continue from entry ${i - 1}`);
    }
  } else if (body.length !== 0) {
    throw new PeerProtocolError(`${header.type} carries no body`);
  }
  return { header, body };
}

/** Packs entries' PULSE bytes for a weights-patch. */
export function packEntries(entries: readonly { from: string | null; to: string; payload: Uint8Array }[]): {
  entries: WeightsEntry[];
  body: Uint8Array;
} {
  const body = new Uint8Array(entries.reduce((sum, e) => sum + e.payload.length, 0));
  let offset = 0;
  for (const e of entries) {
    body.set(e.payload, offset);
    offset += e.payload.length;
  }
  return { entries: entries.map((e) => ({ from: e.from, to: e.to, byteLength: e.payload.length })), body };
}

/** The inverse of packEntries over a validated message: views into the body, in order. */
export function unpackEntries(
  entries: readonly WeightsEntry[],
  body: Uint8Array,
): { from: string | null; to: string; payload: Uint8Array }[] {
  let offset = 0;
  return entries.map((e) => {
    const payload = body.subarray(offset, offset + e.byteLength);
    offset += e.byteLength;
    return { from: e.from, to: e.to, payload };
  });
}
