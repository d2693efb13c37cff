/**
 * Which axis of each input and output is the batch, read from the model
 * rather than assumed. The batch is the first axis of the first input whose
 * first axis is named (else of the first input with an axis): a name ("batch", from dynamic_axes) lets units take any number of
 * rows, a number (an export without dynamic_axes) fixes every unit at that
 * many rows. An input whose first axis is something else (a weight, a bias)
 * has no batch axis and is sent whole with every unit. An output's role is
 * settled by running the model (settleOutputs): an output whose first axis
 * follows the rows given is batched; any other depends on the whole batch.
 */
import type { Dim } from '../../tensor';

export type BatchAxis = { kind: 'free'; name: string } | { kind: 'fixed'; rows: number };

export interface IoRole {
  name: string;
  dtype: string;
  dims: readonly Dim[];
  /** Whether axis 0 is the batch; undefined where the model does not say (an output without shape). */
  batched: boolean | undefined;
}

export interface ModelRoles {
  /** Undefined when no input has an axis (every input is a scalar). */
  batch: BatchAxis | undefined;
  inputs: IoRole[];
  outputs: IoRole[];
}

type Declared = { name: string; dtype: string; dims: readonly Dim[] };

/** The batch roles the model declares. */
export function readBatchRoles(model: { inputs: readonly Declared[]; outputs: readonly Declared[] }): ModelRoles {
  // A named axis says "batch" more surely than a number: a bias listed first must not fix the batch at its length.
  const first =
    model.inputs.find((i) => typeof i.dims[0] === 'string')?.dims[0] ??
    model.inputs.find((i) => i.dims.length > 0)?.dims[0];
  const batch: BatchAxis | undefined =
    first === undefined
      ? undefined
      : typeof first === 'number'
        ? { kind: 'fixed', rows: first }
        : { kind: 'free', name: first };
  const inputs = model.inputs.map((i) => ({ ...i, batched: first !== undefined && i.dims[0] === first }));
  const outputs = model.outputs.map((o) => {
    const axis0 = o.dims[0];
    // No shape, or an unnamed free axis: only a run tells.
    const batched = axis0 === undefined || axis0 === '?' ? undefined : axis0 === first;
    return { ...o, batched };
  });
  return { batch, inputs, outputs };
}

/** One run of the model: how many rows its batched inputs had, and what came out. */
export interface ModelRun {
  rows: number;
  outputs: readonly { name: string; dtype: string; dims: readonly number[] }[];
}

/** An output as the job's results will hold it: -1 marks an axis that varies with the unit. */
export interface SettledOutput {
  name: string;
  dtype: string;
  batched: boolean;
  /** For a batched output, the axes after the batch; otherwise every axis. */
  dims: number[];
}

export class ModelRunError extends Error {
  override name = 'ModelRunError';
}

/**
 * Each output's role and shape from runs of the model (two with different
 * row counts decide; with one, the declaration decides, else whether its
 * first axis equals the rows).
 */
export function settleOutputs(roles: ModelRoles, runs: readonly ModelRun[]): SettledOutput[] {
  const first = runs[0];
  if (!first) throw new ModelRunError('the model never ran, so its outputs are unknown');
  const distinctRows = new Set(runs.map((r) => r.rows)).size > 1;
  return first.outputs.map((out, i) => {
    const seen = runs.map((r) => r.outputs[i]);
    if (seen.some((o) => !o || o.name !== out.name || o.dims.length !== out.dims.length))
      throw new ModelRunError(
        `output "${out.name}" changes its name or number of axes with the batch size; export it with a fixed rank`,
      );
    const declared = roles.outputs.find((o) => o.name === out.name);
    const follows = runs.every((r, k) => out.dims.length > 0 && seen[k]!.dims[0] === r.rows);
    const batched = distinctRows ? follows : (declared?.batched ?? follows);
    // An axis is held to a size only where the model declares that number and every run gave it:
    // a named or undeclared axis may vary with the data (NonZero, a sequence length), and a provider
    // must never be blamed for a shape the model itself gives.
    const fixed = (d: number, axis: number) => declared?.dims[axis] === d && seen.every((o) => o!.dims[axis] === d);
    const axes = out.dims.map((d, axis) => (fixed(d, axis) ? d : -1));
    return { name: out.name, dtype: out.dtype, batched, dims: batched ? axes.slice(1) : axes };
  });
}

const show = (dims: readonly Dim[]) => `[${dims.join(', ')}]`;

/** One line per input and output for the form: name, dtype, shape and what the batch axis is. */
export function describeRoles(roles: ModelRoles): { inputs: string[]; outputs: string[]; batch: string } {
  const batch = !roles.batch
    ? 'no input has a batch axis'
    : roles.batch.kind === 'fixed'
      ? `batch fixed at ${roles.batch.rows} rows by the export: every unit is ${roles.batch.rows} rows`
      : `batch axis "${roles.batch.name}": any unit size`;
  return {
    batch,
    inputs: roles.inputs.map(
      (i) =>
        `${i.name}: ${i.dtype} ${show(i.dims)} — ${i.batched ? 'axis 0 is the batch, split into units' : 'no batch axis: sent whole with every unit'}`,
    ),
    outputs: roles.outputs.map(
      (o) =>
        `${o.name}: ${o.dtype} ${show(o.dims)} — ${
          o.batched === true
            ? 'axis 0 is the batch, joined in unit order'
            : o.batched === false
              ? 'no batch axis: the whole batch runs as one unit'
              : 'batch axis read when the job starts (a test run of the model)'
        }`,
    ),
  };
}
