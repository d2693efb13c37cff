/**
 * The check a job passes before it opens: the requester's own onnxruntime-web
 * loads the model and runs the first unit (and a smaller slice of it, where
 * the batch is free) on the real inputs. A model that does not load or run is
 * refused at the form with onnxruntime's reason in plain words and a next
 * step; one that runs tells each output's batch role and shape, which the
 * verifier then holds results to (so no provider is blamed for a shape the
 * model itself gives).
 */
import {
  explainModelError,
  inferenceKind,
  ModelRunError,
  REEXPORT_HINT,
  settleOutputs,
  sliceRows,
  unitCount,
  unitRange,
  type ModelRun,
  type TensorSpec as JobTensorSpec,
} from '@shared/jobs';
import { messageOf } from '@shared/errors';
import type { RawTensor } from '@shared/protocol';
import { isDType } from '@shared/tensor';
import type { ComputeEngine } from '../core/ports';
import { checkUnitFits, PlanError, type PlannedJob } from './plan';

type Engine = Pick<ComputeEngine, 'load' | 'run'>;

function refusal(stage: string, error: unknown): PlanError {
  const raw = messageOf(error);
  const e = explainModelError(raw);
  return new PlanError(`${stage}: ${e.summary}. Next step: ${e.next}.`, raw);
}

async function runOnce(engine: Engine, hash: string, inputs: RawTensor[], stage: string): Promise<ModelRun> {
  let outputs: RawTensor[];
  try {
    outputs = await engine.run(hash, inputs);
  } catch (error) {
    throw refusal(stage, error);
  }
  const batched = inputs.find((t) => t.dims.length > 0);
  return { rows: batched?.dims[0] ?? 0, outputs };
}

/** Loads the model in onnxruntime-web; throws PlanError with the reason and a next step when it does not load. */
export async function checkModelLoads(engine: Engine, hash: string, bytes: Uint8Array): Promise<void> {
  try {
    await engine.load(hash, bytes);
  } catch (error) {
    throw refusal('this model does not load in onnxruntime-web', error);
  }
}

/** The planned job, its outputs' roles and shapes settled by running it; throws PlanError when it cannot run. */
export async function checkModelRuns(engine: Engine, planned: PlannedJob): Promise<PlannedJob> {
  const { spec, roles } = planned;
  const hash = spec.model.hash;
  await checkModelLoads(engine, hash, planned.modelBytes);
  const kind = inferenceKind(spec, planned.inputs);
  const first = kind.unit(0);
  const firstRows = unitRange(spec, 0).end;
  const runs = [await runOnce(engine, hash, first, `the model loads but fails on the first ${firstRows} rows`)];
  // A second row count tells which outputs follow the batch; a fixed batch has only one.
  const fewer = firstRows > 1 ? 1 : 2;
  if (roles.batch?.kind === 'free' && fewer <= spec.rows) {
    const source = fewer <= firstRows ? first : planned.inputs;
    const inputs = source.map((t, i) => (spec.inputs[i]?.batched === false ? t : sliceRows(t, 0, fewer)));
    runs.push(await runOnce(engine, hash, inputs, `the model runs on ${firstRows} rows but fails on ${fewer}`));
  }
  let settled;
  try {
    settled = settleOutputs(roles, runs);
  } catch (error) {
    if (error instanceof ModelRunError) throw new PlanError(`${error.message}; ${REEXPORT_HINT}`);
    throw error;
  }
  const notes = [...planned.notes];
  let unitRows = spec.unitRows;
  const outputs: JobTensorSpec[] = settled.map((o) => {
    if (!isDType(o.dtype))
      throw new PlanError(`output "${o.name}" is ${o.dtype}, which results cannot carry; cast it to float32 or int64`);
    return o.batched
      ? { name: o.name, dtype: o.dtype, dims: [spec.rows, ...o.dims] }
      : { name: o.name, dtype: o.dtype, dims: o.dims, batched: false };
  });
  const wholeBatch = settled.filter((o) => !o.batched).map((o) => `"${o.name}"`);
  if (wholeBatch.length > 0 && unitCount(spec) > 1) {
    if (roles.batch?.kind === 'fixed')
      throw new PlanError(
        `output ${wholeBatch.join(', ')} has no batch axis, so it needs the whole batch in one run, and the model takes exactly ${spec.unitRows} rows per run: give ${spec.unitRows} rows, or ${REEXPORT_HINT}`,
      );
    notes.push(`output ${wholeBatch.join(', ')} has no batch axis: the whole batch runs as one unit`);
    unitRows = spec.rows;
    checkUnitFits(spec, planned.inputs, unitRows);
  }
  return { ...planned, spec: { ...spec, outputs, unitRows }, notes };
}
