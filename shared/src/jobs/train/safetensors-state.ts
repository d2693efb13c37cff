/**
 * A training state as a safetensors file and back: weights under their layout names (wte, h0.qkvw, …),
 * AdamW's moments under adam.m.<name> / adam.v.<name>, and in the metadata the config, optimizer
 * settings, step, loader position and tokenizer. A file started from must match the job's config tensor
 * by tensor; a refusal names what differs.
 */
import { type NamedF32, readSafetensors, writeSafetensors } from '../../tensor';
import {
  type AdamWHyper,
  type GptConfig,
  type LoaderPosition,
  paramLayout,
  Tokenizer,
  TrainStateError,
  type TrainState,
} from '../../train';

export const SAFETENSORS_FORMAT = 'gpt-train-1';

export function stateToSafetensors(state: TrainState, tokenizer: { toJSON(): unknown }): Uint8Array {
  const layout = paramLayout(state.config);
  const tensors: NamedF32[] = [];
  const put = (prefix: string, arr: Float32Array) => {
    for (const t of layout.tensors)
      tensors.push({ name: prefix + t.name, shape: t.shape, data: arr.subarray(t.offset, t.offset + t.size) });
  };
  put('', state.params);
  put('adam.m.', state.m);
  put('adam.v.', state.v);
  return writeSafetensors(tensors, {
    format: SAFETENSORS_FORMAT,
    config: JSON.stringify(state.config),
    hyper: JSON.stringify(state.hyper),
    step: String(state.step),
    initSeed: String(state.initSeed),
    loader: JSON.stringify(state.loader),
    tokenizer: JSON.stringify(tokenizer.toJSON()),
  });
}

function parseJson(s: string | undefined, what: string): unknown {
  if (s === undefined) throw new TrainStateError(`the file's metadata has no ${what}: it was not exported by this app`);
  try {
    return JSON.parse(s);
  } catch {
    throw new TrainStateError(`the file's ${what} metadata is not JSON`);
  }
}

const KEYS = ['layers', 'width', 'heads', 'context', 'vocab'] as const;

/**
 * The state in an uploaded file, checked against the job's config: every differing config field and every
 * missing, extra or differently shaped tensor is named. Moments are optional (a weights-only file starts
 * AdamW afresh at step 0).
 */
export function stateFromSafetensors(
  bytes: Uint8Array,
  config: GptConfig,
  hyper: AdamWHyper,
): { state: TrainState; tokenizer: Tokenizer } {
  const file = readSafetensors(bytes);
  const meta = file.metadata;
  const fileConfig = parseJson(meta.config, 'config') as Record<string, unknown> | null;
  const differs = KEYS.filter((k) => fileConfig?.[k] !== config[k]).map(
    (k) => `${k}: file ${String(fileConfig?.[k])}, job ${config[k]}`,
  );
  if (differs.length > 0)
    throw new TrainStateError(
      `the checkpoint is for another model (${differs.join('; ')}): choose the matching preset or custom config`,
    );
  const tokenizer = Tokenizer.fromJSON(parseJson(meta.tokenizer, 'tokenizer'));
  if (tokenizer.vocabSize > config.vocab)
    throw new TrainStateError(`the file's tokenizer has ${tokenizer.vocabSize} tokens, the model ${config.vocab}`);
  const layout = paramLayout(config);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const problems: string[] = [];
  const fill = (prefix: string, optional: boolean): Float32Array | null => {
    const out = new Float32Array(layout.size);
    const present = layout.tensors.filter((t) => byName.has(prefix + t.name)).length;
    if (optional && present === 0) return null;
    for (const t of layout.tensors) {
      const got = byName.get(prefix + t.name);
      if (got === undefined) {
        problems.push(`${prefix}${t.name} is missing`);
        continue;
      }
      if (got.shape.length !== t.shape.length || got.shape.some((d, i) => d !== t.shape[i])) {
        problems.push(`${prefix}${t.name} has shape [${got.shape}], the job needs [${t.shape}]`);
        continue;
      }
      out.set(got.data, t.offset);
    }
    return out;
  };
  const params = fill('', false)!;
  const m = fill('adam.m.', true);
  const v = fill('adam.v.', true);
  const known = new Set(layout.tensors.flatMap((t) => [t.name, `adam.m.${t.name}`, `adam.v.${t.name}`]));
  for (const t of file.tensors) if (!known.has(t.name)) problems.push(`${t.name} is not a tensor of this model`);
  if ((m === null) !== (v === null)) problems.push('only one of the two AdamW moments is present');
  if (problems.length > 0)
    throw new TrainStateError(
      `the checkpoint does not match the job: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`,
    );
  const withMoments = m !== null && v !== null;
  const step = withMoments ? Number(meta.step ?? 0) : 0;
  if (!Number.isSafeInteger(step) || step < 0) throw new TrainStateError('the file metadata step is not a count');
  const loader = parseJson(meta.loader ?? '{"seed":0,"epoch":0,"cursor":0}', 'loader') as LoaderPosition;
  return {
    state: {
      config,
      hyper,
      initSeed: Number(meta.initSeed ?? 0) || 0,
      step,
      // A new job's loader (its own seed) starts afresh; the position only carries over within one seed.
      loader: { seed: Number(loader.seed) || 0, epoch: Number(loader.epoch) || 0, cursor: Number(loader.cursor) || 0 },
      params,
      m: m ?? new Float32Array(layout.size),
      v: v ?? new Float32Array(layout.size),
    },
    tokenizer,
  };
}
