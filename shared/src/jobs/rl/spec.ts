/**
 * An RL job as the requester asked for it: the task (built in, or the requester's own JSONL), the policy's
 * preset, the warm-up that brings it to a useful starting accuracy, and GRPO's settings. Plain data,
 * persisted in IndexedDB and validated whenever it is read back. The policy config follows from the preset
 * and the task: the character vocabulary, and a context just long enough for the task's longest prompt
 * and answer (a shorter row makes every forward of rollout and check cheaper; the model is otherwise the
 * preset's).
 */
import * as v from 'valibot';
import { JobIdSchema } from '../../ids';
import { type GptConfig, PRESETS } from '../../train';
import { JSONL_MAX_BYTES } from './constants';
import { RlError } from './errors';
import { type CustomTask, parseExamplesJsonl, splitExamples } from './jsonl';
import { type Example, type TaskSet, type TaskSpec, taskSet } from './tasks';
import { encodeText, VOCAB_SIZE } from './vocab';

export const RL_SPEC_VERSION = 1;
export const MAX_RL_STEPS = 10_000;
export const MAX_RL_PROVIDERS = 16;

const Int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const Num = (min: number, max: number) => v.pipe(v.number(), v.finite(), v.minValue(min), v.maxValue(max));

export const RlTaskSchema = v.variant('kind', [
  v.strictObject({ kind: v.literal('addition'), digits: Int(1, 7), reversed: v.optional(v.boolean()) }),
  v.strictObject({ kind: v.literal('sort'), length: Int(2, 12) }),
  v.strictObject({ kind: v.literal('reverse'), minLength: Int(1, 20), maxLength: Int(1, 20) }),
  v.strictObject({ kind: v.literal('word') }),
  /** The requester's own examples; the text is kept beside the spec (it may be megabytes). */
  v.strictObject({ kind: v.literal('jsonl'), name: v.pipe(v.string(), v.maxLength(200)), lines: Int(1, 100_000) }),
]);
export type RlTask = v.InferOutput<typeof RlTaskSchema>;

export const RlSpecSchema = v.pipe(
  v.strictObject({
    v: v.literal(RL_SPEC_VERSION),
    id: JobIdSchema,
    name: v.pipe(v.string(), v.maxLength(120)),
    createdAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
    task: RlTaskSchema,
    preset: v.picklist(['tiny', 'small']),
    seed: Int(0, 2 ** 31 - 1),
    /** GRPO steps (policy updates), each one round of rollouts. */
    steps: Int(1, MAX_RL_STEPS),
    lr: Num(1e-9, 1e-1),
    providers: Int(1, MAX_RL_PROVIDERS),
    promptsPerProvider: Int(1, 64),
    /** Completions per prompt: GRPO's group size. */
    samples: Int(2, 32),
    temperature: Num(0.05, 4),
    evalSize: Int(8, 1000),
    /** Supervised warm-up on the task format, stopped once held-out accuracy reaches `warmupTarget` (landing within WARMUP_OVERSHOOT above it where an evaluated step does). */
    warmupSteps: Int(0, 100_000),
    warmupLr: Num(1e-6, 1e-1),
    warmupTarget: Num(0, 1),
  }),
  v.check((s) => s.task.kind !== 'reverse' || s.task.minLength <= s.task.maxLength, 'reverse: min length > max length'),
);
export type RlSpec = v.InferOutput<typeof RlSpecSchema>;

export function parseRlSpec(value: unknown): RlSpec {
  const r = v.safeParse(RlSpecSchema, value);
  if (r.success) return r.output;
  const issue = r.issues[0]!;
  const path = v.getDotPath(issue);
  throw new RlError('config', `RL job: ${path === null ? '' : `${path}: `}${issue.message}`);
}

/** Training examples of a bring-your-own task, drawn in a fixed order that repeats after the last one. */
export function customTaskSet(name: string, custom: CustomTask): TaskSet {
  const held = new Set(custom.eval.map((e) => e.prompt));
  return {
    name,
    eval: custom.eval,
    train: (index) => custom.train[index % custom.train.length]!,
    isHeldOut: (prompt) => held.has(prompt),
  };
}

/** The job's task set. `jsonl` is the uploaded text for a bring-your-own task (ignored otherwise). */
export function rlTaskSet(spec: RlSpec, jsonl?: string): TaskSet {
  const t = spec.task;
  if (t.kind === 'jsonl') {
    if (jsonl === undefined) throw new RlError('task', 'the job’s JSONL examples are missing: upload them again');
    if (jsonl.length > JSONL_MAX_BYTES) throw new RlError('jsonl', `more than ${JSONL_MAX_BYTES} characters`);
    const custom = splitExamples(parseExamplesJsonl(jsonl), 0.1, spec.seed);
    return customTaskSet(t.name, { train: custom.train, eval: custom.eval.slice(0, spec.evalSize) });
  }
  const builtin: TaskSpec = t;
  return taskSet(builtin, spec.seed, spec.evalSize);
}

/** The longest prompt and answer among the first training examples and the held-out set. */
function longest(set: TaskSet, probe = 2000): { prompt: number; answer: number } {
  let prompt = 0;
  let answer = 0;
  const see = (e: Example) => {
    prompt = Math.max(prompt, encodeText(e.prompt).length);
    answer = Math.max(answer, encodeText(e.answer).length);
  };
  set.eval.forEach(see);
  for (let i = 0; i < probe; i++) see(set.train(i));
  return { prompt, answer };
}

export interface RlShape {
  readonly config: GptConfig;
  /** Completion tokens a rollout may sample (the longest answer, EOS, and two spare). */
  readonly maxNew: number;
}

/** The policy's config and rollout length for a job: the preset's model over the character vocabulary. */
export function rlShape(spec: Pick<RlSpec, 'preset'>, set: TaskSet): RlShape {
  const preset = PRESETS[spec.preset];
  const { prompt, answer } = longest(set);
  const maxNew = answer + 3;
  const need = prompt + maxNew;
  if (need > preset.context)
    throw new RlError(
      'task',
      `prompts of ${prompt} and answers of ${answer} characters do not fit the ${spec.preset} preset's ${preset.context} positions`,
    );
  const context = Math.min(preset.context, Math.ceil(need / 8) * 8);
  return { config: { ...preset, vocab: VOCAB_SIZE, context }, maxNew };
}
