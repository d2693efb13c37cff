/**
 * The requester ⇄ provider protocol spoken over a WebRTC data channel (after
 * the signaling server paired them). A message is one framed-transport message:
 *
 *   [u32 LE header length][header: UTF-8 JSON][body: raw bytes]
 *
 * Headers are validated with these schemas on receipt: the other side is an
 * anonymous browser and is untrusted. Tensor payloads travel in the body so a
 * 10 MB model or input batch is never JSON-encoded.
 */
import * as v from 'valibot';
import { JobIdSchema as JobId } from '../ids';
import { BYTES_PER_ELEMENT, DTYPES, TYPED_ARRAY_CTOR, type DType, type Tensor } from '../tensor/types';
import { ReceiptSchema } from '../trust/receipts';
import { SignedResultSchema } from '../trust/signedResult';

/** 2: models are named by their xxh3-128 version hash and travel as a frame plus PULSE entries; units and results name their version. */
export const PEER_PROTOCOL_VERSION = 2;

/**
 * Streams of the framed channel: control never waits behind a model upload.
 * `weights` carries PULSE weight distribution; the job cores hand it to their
 * LinkExtension untouched (its own module validates it). `train` carries a Train
 * job's messages (train.ts), which only the training cores decode.
 */
export const PeerStream = { control: 0, model: 1, work: 2, weights: 3, train: 4 } as const;

/** Limits a receiver enforces before allocating. */
export const MAX_PEER_HEADER_BYTES = 64 * 1024;
export const MAX_TENSORS_PER_MESSAGE = 16;

/** A model version (tensor/model-version.ts), a frame or a PULSE weights hash: xxh3-128, 32 lowercase hex digits. */
const Hash = v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/, 'hash is 32 lowercase hex characters (xxh3-128)'));
const Index = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31));
const Bytes = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 32));
const Text = v.pipe(v.string(), v.maxLength(1024));

export const WireDtypeSchema = v.picklist(DTYPES);
export type WireDtype = DType;

/** Where one tensor lies in the message body. */
export const TensorRefSchema = v.strictObject({
  name: v.pipe(v.string(), v.maxLength(256)),
  dtype: WireDtypeSchema,
  dims: v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31))), v.maxLength(8)),
  byteOffset: Bytes,
  byteLength: Bytes,
});
export type TensorRef = v.InferOutput<typeof TensorRefSchema>;
const Tensors = v.pipe(v.array(TensorRefSchema), v.maxLength(MAX_TENSORS_PER_MESSAGE));

/** Most versions a provider lists as held for one model; more never make a shorter chain. */
export const MAX_HELD_VERSIONS = 8;
/** Most PULSE entries in one model message: a chain longer than an anchor interval (10) plus its anchor is never the cheapest. */
export const MAX_MODEL_ENTRIES = 32;

/** One PULSE container in a model message's body: from a weights hash (null: a full snapshot) to another. */
export const ModelEntrySchema = v.strictObject({ from: v.nullable(Hash), to: Hash, byteLength: Bytes });
export type ModelEntry = v.InferOutput<typeof ModelEntrySchema>;

export const PeerHeaderSchema = v.variant('type', [
  // requester → provider
  v.strictObject({
    type: v.literal('job'),
    v: v.pipe(v.number(), v.integer()),
    jobId: JobId,
    /** The job's current model version; the requester sends `job` again when it publishes a new one. */
    modelHash: Hash,
    /** The version's frame: versions of one model share it, so what a provider holds of it can be patched. */
    frameHash: Hash,
    modelBytes: Bytes,
  }),
  /**
   * A model version: the body is the frame (frameBytes long, 0 when the provider said it holds it) and then
   * the PULSE entries end to end, a chain from a version the provider holds (or from nothing) to `modelHash`.
   */
  v.strictObject({
    type: v.literal('model'),
    modelHash: Hash,
    frameBytes: Bytes,
    entries: v.pipe(v.array(ModelEntrySchema), v.minLength(1), v.maxLength(MAX_MODEL_ENTRIES)),
  }),
  /** A unit names the model version it is to be computed with. */
  v.strictObject({ type: v.literal('unit'), jobId: JobId, unitId: Index, modelHash: Hash, inputs: Tensors }),
  v.strictObject({ type: v.literal('bye'), jobId: JobId, reason: Text }),
  // Credit for an accepted unit, signed by the requester (SPEC TRUST-R*); the provider verifies and keeps it.
  v.strictObject({ type: v.literal('receipt'), receipt: ReceiptSchema }),
  // provider → requester
  /** Whether the provider holds `modelHash`; if not, the versions of the same frame it does hold (newest first) and whether it holds the frame. */
  v.strictObject({
    type: v.literal('model-status'),
    modelHash: Hash,
    cached: v.boolean(),
    held: v.optional(v.pipe(v.array(Hash), v.maxLength(MAX_HELD_VERSIONS))),
    frame: v.optional(v.boolean()),
  }),
  v.strictObject({ type: v.literal('ready'), modelHash: Hash, loadMs: v.pipe(v.number(), v.minValue(0)) }),
  v.strictObject({
    type: v.literal('result'),
    jobId: JobId,
    unitId: Index,
    /** The version the unit was computed with: the one the unit named. */
    modelHash: Hash,
    outputs: Tensors,
    computeMs: v.pipe(v.number(), v.minValue(0)),
    backend: v.picklist(['webgpu', 'wasm']),
    // The provider's signature over (job, unit, input hash, result hash), SPEC TRUST-S2. A requester with an identity drops results without it.
    signed: v.optional(SignedResultSchema),
  }),
  v.strictObject({
    type: v.literal('unit-error'),
    jobId: JobId,
    unitId: Index,
    message: Text,
    /** The provider did not try the unit (it is paused): nothing is wrong with the unit. */
    declined: v.optional(v.boolean()),
  }),
  v.strictObject({ type: v.literal('paused'), paused: v.boolean() }),
  v.strictObject({
    type: v.literal('error'),
    message: Text,
    /** The provider cannot run this job (its model does not load there) and takes none of its units. */
    declined: v.optional(v.boolean()),
  }),
]);
export type PeerHeader = v.InferOutput<typeof PeerHeaderSchema>;
export type PeerHeaderOf<T extends PeerHeader['type']> = Extract<PeerHeader, { type: T }>;

/** A tensor as it travels: row-major bytes, exactly product(dims) × dtype size. */
export interface RawTensor {
  name: string;
  dtype: WireDtype;
  dims: number[];
  bytes: Uint8Array;
}

export interface PeerMessage {
  header: PeerHeader;
  body: Uint8Array;
}

export class PeerProtocolError extends Error {
  override name = 'PeerProtocolError';
}

/** The framing every data-channel protocol here shares: a length-prefixed JSON header, then raw bytes. */
export function encodeFramed(header: object, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + body.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(body, 4 + json.length);
  return out;
}

/**
 * Splits a framed message and validates its header with `schema`; the header
 * length is checked before anything is parsed. Throws PeerProtocolError saying
 * what is wrong (`what` names the header in the message).
 */
export function decodeFramed<T>(
  bytes: Uint8Array,
  schema: v.GenericSchema<unknown, T>,
  what = 'header',
): { header: T; body: Uint8Array } {
  if (bytes.length < 4) throw new PeerProtocolError('message shorter than its length prefix');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (headerLength > MAX_PEER_HEADER_BYTES)
    throw new PeerProtocolError(`header of ${headerLength} bytes exceeds ${MAX_PEER_HEADER_BYTES}`);
  if (4 + headerLength > bytes.length) throw new PeerProtocolError('header runs past the end of the message');
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(4, 4 + headerLength)));
  } catch {
    throw new PeerProtocolError('header is not valid UTF-8 JSON');
  }
  const parsed = v.safeParse(schema, raw);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new PeerProtocolError(`invalid ${what}${path ? ` at ${path}` : ''}: ${issue.message}`);
  }
  return { header: parsed.output, body: bytes.subarray(4 + headerLength) };
}

export function encodePeerMessage(header: PeerHeader, body?: Uint8Array): Uint8Array {
  return encodeFramed(header, body);
}

/** Decodes and validates one message; throws PeerProtocolError with a reason on anything malformed. */
export function decodePeerMessage(bytes: Uint8Array): PeerMessage {
  const { header, body } = decodeFramed(bytes, PeerHeaderSchema);
  if (header.type === 'unit') checkTensorRefs(header.inputs, body.length);
  if (header.type === 'result') checkTensorRefs(header.outputs, body.length);
  if (header.type === 'model') {
    const length = header.entries.reduce((sum, e) => sum + e.byteLength, header.frameBytes);
    if (length !== body.length)
      throw new PeerProtocolError(`model message announces ${length} bytes but carries ${body.length}`);
  }
  return { header, body };
}

export function dtypeBytes(dtype: WireDtype): number {
  return BYTES_PER_ELEMENT[dtype];
}

/** Every tensor must lie inside the body, be aligned for its type and match its dims. */
function checkTensorRefs(refs: readonly TensorRef[], bodyLength: number): void {
  for (const ref of refs) {
    const elements = ref.dims.reduce((a, b) => a * b, 1);
    if (elements * dtypeBytes(ref.dtype) !== ref.byteLength) {
      throw new PeerProtocolError(
        `tensor ${ref.name}: ${ref.byteLength} bytes do not match dims [${ref.dims.join(', ')}] of ${ref.dtype}`,
      );
    }
    if (ref.byteOffset % dtypeBytes(ref.dtype) !== 0)
      throw new PeerProtocolError(`tensor ${ref.name}: misaligned offset`);
    if (ref.byteOffset + ref.byteLength > bodyLength)
      throw new PeerProtocolError(`tensor ${ref.name}: runs past the end of the body`);
  }
}

/** Lays tensors end to end in one body, each aligned to 8 bytes so the receiver can view it in place. */
export function packTensors(tensors: readonly RawTensor[]): { refs: TensorRef[]; body: Uint8Array } {
  const refs: TensorRef[] = [];
  let offset = 0;
  for (const t of tensors) {
    offset = Math.ceil(offset / 8) * 8;
    refs.push({ name: t.name, dtype: t.dtype, dims: [...t.dims], byteOffset: offset, byteLength: t.bytes.length });
    offset += t.bytes.length;
  }
  const body = new Uint8Array(offset);
  tensors.forEach((t, i) => body.set(t.bytes, refs[i]!.byteOffset));
  return { refs, body };
}

/** The inverse of packTensors. Copies, so each tensor owns an aligned buffer. Refs were checked by decodePeerMessage. */
export function unpackTensors(refs: readonly TensorRef[], body: Uint8Array): RawTensor[] {
  return refs.map((ref) => ({
    name: ref.name,
    dtype: ref.dtype,
    dims: [...ref.dims],
    bytes: body.slice(ref.byteOffset, ref.byteOffset + ref.byteLength),
  }));
}

/** A typed tensor (as models and files use) as wire bytes. Copies. */
export function rawFromTensor(name: string, tensor: Tensor): RawTensor {
  const { data } = tensor;
  return {
    name,
    dtype: tensor.dtype,
    dims: [...tensor.dims],
    bytes: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  };
}

/** Wire bytes as a typed tensor. Copies, so the typed array is aligned. */
export function tensorFromRaw(raw: RawTensor): Tensor {
  const buffer = raw.bytes.buffer.slice(
    raw.bytes.byteOffset,
    raw.bytes.byteOffset + raw.bytes.byteLength,
  ) as ArrayBuffer;
  return { dtype: raw.dtype, dims: [...raw.dims], data: new TYPED_ARRAY_CTOR[raw.dtype](buffer) } as Tensor;
}
