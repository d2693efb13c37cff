/**
 * The Train job over a data channel (issue 18: one provider trains for the requester). It rides its own
 * stream (PeerStream.train) so the inference cores never see it, and uses the same framing as peer.ts:
 * a length-prefixed JSON header validated here, then raw bytes. Both sides are untrusted by the other.
 *
 * requester → provider: `train-start` (spec, corpus, optional checkpoint to start from), `train-control`.
 * provider → requester: `train-preparing`, `train-started`, `train-event` (loss, eval, sample, …),
 * `train-checkpoint` (every spec.checkpointEvery steps, on pause and at the end), `train-error`.
 *
 * A checkpoint's body is the training state's byte form (state.ts "GTS1") followed by UTF-8 JSON
 * `{ tokenizer, history }`; the receiver checks it with readCheckpoint against the job's config.
 */
import * as v from 'valibot';
import { TrainSpecSchema } from '../jobs/train/spec';
import { JobIdSchema } from '../ids';
import { decodeFramed, encodeFramed, PeerProtocolError } from './peer';

/** 1: the first version; a provider answers another with a train-error. */
export const TRAIN_WIRE_VERSION = 1;

/** The upload form's own ceiling is 50 MiB (web/src/train/form.ts); the wire allows a little more. */
export const MAX_TRAIN_CORPUS_BYTES = 64 * 2 ** 20;
/** WebAssembly's 4 GiB memory bounds any state a browser can train. */
export const MAX_TRAIN_STATE_BYTES = 2 ** 32;
/** Tokenizer JSON plus curves: 2,048 merges and 3 × 20,000 points stay well under this. */
export const MAX_TRAIN_EXTRA_BYTES = 16 * 2 ** 20;

const Step = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31));
const Bytes = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(max));
const Text = v.pipe(v.string(), v.maxLength(1024));
const Finite = v.pipe(v.number(), v.finite());
/** JSON turns NaN and ±Infinity into null: a non-finite loss arrives as null. */
const Loss = v.nullable(Finite);

export const TrainControlSchema = v.picklist(['pause', 'resume', 'cancel']);
export type TrainControl = v.InferOutput<typeof TrainControlSchema>;

export const TrainToProviderSchema = v.variant('type', [
  /** Body: the corpus (UTF-8, corpusBytes), then the starting checkpoint (stateBytes + extraBytes; 0 for none). */
  v.strictObject({
    type: v.literal('train-start'),
    v: v.pipe(v.number(), v.integer()),
    jobId: JobIdSchema,
    spec: TrainSpecSchema,
    /** The starting checkpoint's step (0 without one). */
    fromStep: Step,
    corpusBytes: Bytes(MAX_TRAIN_CORPUS_BYTES),
    stateBytes: Bytes(MAX_TRAIN_STATE_BYTES),
    extraBytes: Bytes(MAX_TRAIN_EXTRA_BYTES),
  }),
  v.strictObject({ type: v.literal('train-control'), jobId: JobIdSchema, action: TrainControlSchema }),
]);
export type TrainToProvider = v.InferOutput<typeof TrainToProviderSchema>;

/** The loop's events that carry no checkpoint (shared/src/jobs/train/session.ts TrainEvent). */
export const TrainWireEventSchema = v.variant('type', [
  v.strictObject({ type: v.literal('step'), step: Step, loss: Finite, lr: Finite, tokensPerS: Finite, etaS: Loss }),
  v.strictObject({ type: v.literal('skipped'), step: Step, loss: Loss, message: Text }),
  v.strictObject({ type: v.literal('eval'), step: Step, valLoss: Loss }),
  v.strictObject({ type: v.literal('sample'), step: Step, text: v.pipe(v.string(), v.maxLength(10_000)) }),
  v.strictObject({ type: v.literal('resumed'), step: Step }),
  v.strictObject({ type: v.literal('failed'), step: Step, message: Text }),
  v.strictObject({ type: v.literal('cancelled'), step: Step }),
]);
export type TrainWireEvent = v.InferOutput<typeof TrainWireEventSchema>;

export const CheckpointKindSchema = v.picklist(['checkpoint', 'paused', 'done']);
export type CheckpointKind = v.InferOutput<typeof CheckpointKindSchema>;

export const TrainFromProviderSchema = v.variant('type', [
  v.strictObject({ type: v.literal('train-preparing'), jobId: JobIdSchema, message: Text }),
  v.strictObject({
    type: v.literal('train-started'),
    jobId: JobIdSchema,
    backend: v.pipe(v.string(), v.maxLength(64)),
    note: Text,
    step: Step,
  }),
  v.strictObject({ type: v.literal('train-event'), jobId: JobIdSchema, event: TrainWireEventSchema }),
  /** Body: state bytes (stateBytes) then `{ tokenizer, history }` as UTF-8 JSON (the rest). */
  v.strictObject({
    type: v.literal('train-checkpoint'),
    jobId: JobIdSchema,
    kind: CheckpointKindSchema,
    step: Step,
    /** The provider's validation loss of exactly these weights: the requester recomputes it before accepting. */
    valLoss: Loss,
    stateBytes: Bytes(MAX_TRAIN_STATE_BYTES),
  }),
  /** `code`: a TrainError code ('config', 'data', …: the job's fault) or 'provider' (this provider cannot run it). */
  v.strictObject({
    type: v.literal('train-error'),
    jobId: JobIdSchema,
    code: v.pipe(v.string(), v.maxLength(32)),
    message: Text,
  }),
]);
export type TrainFromProvider = v.InferOutput<typeof TrainFromProviderSchema>;
export type TrainFromProviderOf<T extends TrainFromProvider['type']> = Extract<TrainFromProvider, { type: T }>;

export function encodeTrainMessage(header: TrainToProvider | TrainFromProvider, body?: Uint8Array): Uint8Array {
  return encodeFramed(header, body);
}

/** Decodes a requester's message; the body must be exactly what the header announces. */
export function decodeTrainToProvider(bytes: Uint8Array): { header: TrainToProvider; body: Uint8Array } {
  const m = decodeFramed(bytes, TrainToProviderSchema, 'train message');
  if (m.header.type === 'train-start') {
    const length = m.header.corpusBytes + m.header.stateBytes + m.header.extraBytes;
    if (length !== m.body.length)
      throw new PeerProtocolError(`train-start announces ${length} bytes but carries ${m.body.length}`);
    if ((m.header.stateBytes === 0) !== (m.header.extraBytes === 0))
      throw new PeerProtocolError('train-start carries half a checkpoint');
  } else if (m.body.length !== 0) throw new PeerProtocolError('train-control carries no body');
  return m;
}

/** Decodes a provider's message; a checkpoint's state must lie inside the body with room for its JSON. */
export function decodeTrainFromProvider(bytes: Uint8Array): { header: TrainFromProvider; body: Uint8Array } {
  const m = decodeFramed(bytes, TrainFromProviderSchema, 'train message');
  if (m.header.type === 'train-checkpoint') {
    const extra = m.body.length - m.header.stateBytes;
    if (m.header.stateBytes === 0 || extra <= 0)
      throw new PeerProtocolError('train-checkpoint needs the state and its tokenizer and history');
    if (extra > MAX_TRAIN_EXTRA_BYTES)
      throw new PeerProtocolError(`train-checkpoint's tokenizer and history exceed ${MAX_TRAIN_EXTRA_BYTES} bytes`);
  } else if (m.body.length !== 0) throw new PeerProtocolError(`${m.header.type} carries no body`);
  return m;
}
