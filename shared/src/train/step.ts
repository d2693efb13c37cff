/**
 * One training step over any backend: forward, mean loss, backward,
 * global-norm clip, AdamW (encodeTrainStep), then the loss read back (trainStep). The caller owns the step counter (state.ts);
 * nothing here draws random numbers, so a step is a pure function of the
 * buffer's contents and the batch.
 */
import { GRAD_CLIP } from './adamw';
import type { Backend } from './backend';
import { TrainDataError } from './errors';
import { gptBackward, gptForward } from './gpt';
import type { AdamWHyper } from './kernels';
import { SCALAR_GRAD_NORM, SCALAR_LOSS, tensorSpec } from './layout';
import { mlpBackward, mlpForward } from './mlp';

/** One batch: B·T token ids and next-token targets (GPT), or B input rows and class labels (MLP). */
export interface Batch {
  readonly inputs: Int32Array | Float32Array;
  readonly targets: Int32Array;
}

export function loadBatch(b: Backend, batch: Batch): void {
  const a = b.arena;
  const rows = a.B * a.T;
  const c = a.config;
  if (batch.targets.length !== rows) throw new TrainDataError(`expected ${rows} targets, got ${batch.targets.length}`);
  const classes = c.kind === 'gpt' ? c.vocab : c.classes;
  for (const y of batch.targets)
    if (!(y >= 0 && y < classes)) throw new TrainDataError(`target ${y} is outside 0..${classes - 1}`);
  if (c.kind === 'gpt') {
    if (!(batch.inputs instanceof Int32Array) || batch.inputs.length !== rows)
      throw new TrainDataError(`expected ${rows} token ids`);
    for (const x of batch.inputs)
      if (!(x >= 0 && x < c.vocab)) throw new TrainDataError(`token ${x} is outside the vocabulary`);
    b.writeInts(a.tokensAt, batch.inputs);
  } else {
    if (batch.inputs.length !== rows * c.inputs) throw new TrainDataError(`expected ${rows}×${c.inputs} inputs`);
    b.writeFloats(a.actsAt + tensorSpec(a.acts, 'x').offset, batch.inputs);
  }
  b.writeInts(a.targetsAt, batch.targets);
}

/** Forward pass, leaving the mean loss in the loss scalar slot (nothing read back); `rows`: the batch's first rows only (GPT). */
export function encodeForward(b: Backend, rows = b.arena.B): void {
  const a = b.arena;
  if (a.config.kind === 'gpt') gptForward(b.kernels, a, rows);
  else if (rows === a.B) mlpForward(b.kernels, a);
  else throw new RangeError('an MLP forward runs its whole batch');
  b.kernels.meanInto(a.scalarsAt + SCALAR_LOSS, a.actsAt + tensorSpec(a.acts, 'losses').offset, rows * a.T);
}

export function forward(b: Backend): number {
  encodeForward(b);
  return b.readFloats(b.arena.scalarsAt + SCALAR_LOSS, 1)[0]!;
}

export function backward(b: Backend): void {
  if (b.arena.config.kind === 'gpt') gptBackward(b.kernels, b.arena);
  else mlpBackward(b.kernels, b.arena);
}

/** Loss without an update (validation). */
export function evalLoss(b: Backend, batch: Batch): number {
  loadBatch(b, batch);
  return forward(b);
}

/**
 * The whole step as kernel calls, with no read-back: forward, mean loss, backward, clip, AdamW. A device
 * backend encodes it into few command buffers and reads the loss slot afterwards.
 */
export function encodeTrainStep(b: Backend, hp: AdamWHyper, t: number): void {
  const a = b.arena;
  encodeForward(b);
  backward(b);
  const norm = a.scalarsAt + SCALAR_GRAD_NORM;
  b.kernels.clipAdamw(a.paramsAt, a.gradsAt, a.mAt, a.vAt, a.params.size, hp, t, GRAD_CLIP, norm);
}

/** The training step; t is the 1-based step number (AdamW's bias correction). Returns the loss before the update. */
export function trainStep(b: Backend, batch: Batch, hp: AdamWHyper, t: number): number {
  loadBatch(b, batch);
  encodeTrainStep(b, hp, t);
  return b.readFloats(b.arena.scalarsAt + SCALAR_LOSS, 1)[0]!;
}
