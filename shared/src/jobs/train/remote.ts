/**
 * The pure part of training on a provider (issue 18): how a checkpoint travels (state bytes, then its
 * tokenizer and curves as JSON) and the requester's rule for accepting one as the new base.
 *
 * What the check guarantees (TRAIN-R1..R4 in the tests): a checkpoint becomes the base only if its bytes
 * are a well-formed state for the job's config at the step it names (readCheckpoint), every weight and
 * moment is finite, it is later than the base, and its weights reach — on the requester's own validation
 * batches, recomputed by the requester — the validation loss the provider reported, within
 * VAL_LOSS_TOLERANCE. So a provider cannot pass off random, corrupted or relabelled-stale weights under a
 * good-looking curve, and the chart's validation points at checkpoints are the requester's own numbers.
 * It does not prove the provider took the steps it claims on the batches the seed names: weights reached
 * another way with the loss they report are accepted. Cost: spec.evalBatches forward passes per
 * checkpoint, about evalBatches / (3 × checkpointEvery) of the provider's work.
 */
import { TrainStateError } from '../../train';
import { type Checkpoint, type CheckpointRecord, CHECKPOINT_FORMAT, readCheckpoint } from './checkpoint';
import type { TrainEngine } from './engine';
import { type TrainData, TrainSession } from './session';
import type { TrainSpec } from './spec';

/**
 * Validation losses may differ by this much (absolute, plus the same relative) and still agree. One backend
 * reproduces a loss bit for bit; WebGPU and WASM agree to ~1e-4 on the presets (train-engine.spec.ts), so
 * 1e-3 leaves room for both while a bogus checkpoint misses by far more (random weights sit near ln(vocab)).
 */
export const VAL_LOSS_TOLERANCE = 1e-3;

/** A record as its wire body: state bytes, then `{ tokenizer, history }` as UTF-8 JSON. */
export function checkpointBody(record: CheckpointRecord): { stateBytes: number; body: Uint8Array } {
  const extra = new TextEncoder().encode(JSON.stringify({ tokenizer: record.tokenizer, history: record.history }));
  const body = new Uint8Array(record.state.length + extra.length);
  body.set(record.state, 0);
  body.set(extra, record.state.length);
  return { stateBytes: record.state.length, body };
}

/**
 * The inverse of checkpointBody, then every check readCheckpoint makes against `spec`'s config and a scan
 * for non-finite values. Throws TrainStateError saying what is wrong.
 */
export function checkpointFromBody(
  spec: TrainSpec,
  step: number,
  stateBytes: number,
  body: Uint8Array,
  savedAt: number,
): { record: CheckpointRecord; checkpoint: Checkpoint } {
  let extra: { tokenizer?: unknown; history?: unknown };
  try {
    extra = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(stateBytes)));
  } catch {
    throw new TrainStateError("the checkpoint's tokenizer and history are not valid UTF-8 JSON");
  }
  if (typeof extra !== 'object' || extra === null) throw new TrainStateError('the checkpoint has no tokenizer');
  const record = {
    format: CHECKPOINT_FORMAT,
    step,
    savedAt,
    state: body.slice(0, stateBytes),
    tokenizer: extra.tokenizer,
    history: extra.history,
  } as CheckpointRecord;
  const checkpoint = readCheckpoint(record, spec.model);
  for (const [name, a] of [
    ['weights', checkpoint.state.params],
    ['first moments', checkpoint.state.m],
    ['second moments', checkpoint.state.v],
  ] as const)
    if (!a.every(Number.isFinite)) throw new TrainStateError(`the checkpoint's ${name} hold NaN or Infinity`);
  return { record, checkpoint };
}

/** The validation loss of a checkpoint's weights on the job's validation batches (the loop's own evaluation). */
export async function checkpointValLoss(
  spec: TrainSpec,
  data: TrainData,
  checkpoint: Checkpoint,
  engine: TrainEngine,
): Promise<number> {
  const session = new TrainSession(
    spec,
    { engine, sampler: null, data, emit: () => {}, now: () => 0, yieldNow: async () => {} },
    checkpoint,
  );
  await engine.load(checkpoint.state);
  return session.validationLoss();
}

export type CheckpointVerdict = { accept: true } | { accept: false; reason: string };

/**
 * Whether a received checkpoint may become the base. `recomputed` is the requester's own validation loss
 * of its weights; `claimed` the provider's (null: it reported a non-finite one).
 */
export function judgeCheckpoint(o: {
  baseStep: number;
  step: number;
  claimed: number | null;
  recomputed: number;
  sameWeightsAsBase: boolean;
}): CheckpointVerdict {
  if (o.step < o.baseStep)
    return { accept: false, reason: `sent a checkpoint at step ${o.step}, behind the accepted one at ${o.baseStep}` };
  if (o.step > o.baseStep && o.sameWeightsAsBase)
    return { accept: false, reason: `relabelled the checkpoint of step ${o.baseStep} as step ${o.step}` };
  if (!Number.isFinite(o.recomputed))
    return { accept: false, reason: `sent weights whose validation loss is ${o.recomputed}` };
  if (o.claimed === null || Math.abs(o.claimed - o.recomputed) > VAL_LOSS_TOLERANCE * (1 + Math.abs(o.recomputed)))
    return {
      accept: false,
      reason: `reported a validation loss of ${o.claimed} at step ${o.step}, but its weights give ${o.recomputed.toFixed(5)}`,
    };
  return { accept: true };
}

/** Whether two states' weights are the same bits (a stale checkpoint under a new step). */
export function sameWeights(a: Checkpoint, b: Checkpoint): boolean {
  const x = a.state.params;
  const y = b.state.params;
  if (x.length !== y.length) return false;
  const xi = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const yi = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < xi.length; i++) if (xi[i] !== yi[i]) return false;
  return true;
}
