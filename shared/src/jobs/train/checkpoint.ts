/**
 * A training checkpoint as the requester stores it: the job's training state in its byte form (state.ts:
 * weights, both AdamW moments, step, loader position), the tokenizer, and the curves so far. Whatever is
 * read back from storage is untrusted: the record is checked with valibot, the state bytes by
 * deserializeState, the tokenizer by Tokenizer.fromJSON, and the config against the job's.
 */
import * as v from 'valibot';
import {
  deserializeState,
  type GptConfig,
  Tokenizer,
  type TokenizerJson,
  TrainStateError,
  type TrainState,
  serializeState,
} from '../../train';

export const CHECKPOINT_FORMAT = 'train-checkpoint-1';
/** Curves longer than this keep every other point (a million-step run's chart needs no more). */
export const MAX_CURVE_POINTS = 20_000;
export const MAX_SAMPLES_KEPT = 10;

const Point = v.tuple([v.pipe(v.number(), v.integer(), v.minValue(0)), v.pipe(v.number(), v.finite())]);

export const TrainHistorySchema = v.strictObject({
  /** [step, loss] of applied steps. */
  train: v.pipe(v.array(Point), v.maxLength(MAX_CURVE_POINTS)),
  /** [step, validation loss]. */
  val: v.pipe(v.array(Point), v.maxLength(MAX_CURVE_POINTS)),
  /** [step, tokens/s]. */
  speed: v.pipe(v.array(Point), v.maxLength(MAX_CURVE_POINTS)),
  samples: v.pipe(
    v.array(v.strictObject({ step: v.number(), text: v.pipe(v.string(), v.maxLength(10_000)) })),
    v.maxLength(MAX_SAMPLES_KEPT),
  ),
  /** Steps skipped for a non-finite loss. */
  skipped: v.pipe(v.number(), v.integer(), v.minValue(0)),
});
export type TrainHistory = v.InferOutput<typeof TrainHistorySchema>;

export function emptyHistory(): TrainHistory {
  return { train: [], val: [], speed: [], samples: [], skipped: 0 };
}

const CheckpointSchema = v.strictObject({
  format: v.literal(CHECKPOINT_FORMAT),
  step: v.pipe(v.number(), v.integer(), v.minValue(0)),
  savedAt: v.number(),
  state: v.instance(Uint8Array),
  tokenizer: v.unknown(),
  history: TrainHistorySchema,
});
export type CheckpointRecord = v.InferOutput<typeof CheckpointSchema>;

export interface Checkpoint {
  readonly state: TrainState;
  readonly tokenizer: Tokenizer;
  readonly history: TrainHistory;
  readonly savedAt: number;
}

export function checkpointRecord(
  state: TrainState,
  tokenizer: TokenizerJson,
  history: TrainHistory,
  savedAt: number,
): CheckpointRecord {
  return {
    format: CHECKPOINT_FORMAT,
    step: state.step,
    savedAt,
    state: serializeState(state) as Uint8Array<ArrayBuffer>,
    tokenizer,
    history: structuredCopy(history),
  };
}

function structuredCopy(h: TrainHistory): TrainHistory {
  const thin = (p: [number, number][]) => (p.length > MAX_CURVE_POINTS ? p.filter((_, i) => i % 2 === 1) : p);
  return {
    train: thin(h.train.map(([s, l]) => [s, l])),
    val: thin(h.val.map(([s, l]) => [s, l])),
    speed: thin(h.speed.map(([s, l]) => [s, l])),
    samples: h.samples.slice(-MAX_SAMPLES_KEPT).map((x) => ({ ...x })),
    skipped: h.skipped,
  };
}

function sameConfig(a: GptConfig, b: unknown): boolean {
  const o = b as Record<string, unknown>;
  return (['kind', 'layers', 'width', 'heads', 'context', 'vocab'] as const).every((k) => a[k] === o[k]);
}

/** Validates a stored record for a job with this config; throws TrainStateError saying what is wrong. */
export function readCheckpoint(raw: unknown, config: GptConfig): Checkpoint {
  const r = v.safeParse(CheckpointSchema, raw);
  if (!r.success) throw new TrainStateError(`stored checkpoint is malformed: ${r.issues[0].message}`);
  const state = deserializeState(r.output.state);
  if (!sameConfig(config, state.config)) throw new TrainStateError('stored checkpoint is for another model config');
  if (state.step !== r.output.step) throw new TrainStateError('stored checkpoint step disagrees with its state');
  const tokenizer = Tokenizer.fromJSON(r.output.tokenizer);
  if (tokenizer.vocabSize > config.vocab)
    throw new TrainStateError(`stored tokenizer has ${tokenizer.vocabSize} tokens, the model ${config.vocab}`);
  return { state, tokenizer, history: r.output.history, savedAt: r.output.savedAt };
}
