/**
 * Turns what a requester chose in the form (a model, inputs, settings) into a
 * validated job: spec, input tensors and model bytes. Every error says what
 * was wrong and what to do; nothing is stored until the whole plan is valid.
 */
import * as v from 'valibot';
import {
  checkJobSpec,
  JOB_SCHEMA_VERSION,
  MAX_UNITS,
  jobVerification,
  JobVerificationSchema,
  type JobSpec,
  type JobVerification,
  type ModelRoles,
  readBatchRoles,
  REEXPORT_HINT,
  type TensorSpec as JobTensorSpec,
} from '@shared/jobs';
import { getBuiltinModel } from '@shared/models';
import { uniformFloats } from '@shared/models';
import { rawFromTensor, type RawTensor } from '@shared/protocol';
import {
  checkInputs,
  inspectOnnxModel,
  isDType,
  modelVersion,
  parseJsonInputs,
  parseNpy,
  type Dim,
  type TensorMap,
  type TensorSpec,
} from '@shared/tensor';
import type { ToleranceTable } from '@shared/trust';
import { messageOf } from '@shared/errors';
import { checkJobFitsBrowser, checkUnitFits } from './plan-limits';
import { PlanError } from './plan-error';

export type ModelChoice = { kind: 'builtin'; id: string } | { kind: 'upload'; fileName: string; bytes: Uint8Array };
export type InputChoice =
  | { kind: 'generated'; rows: number; seed: number }
  | { kind: 'upload'; fileName: string; bytes: Uint8Array };

export interface JobDraft {
  name: string;
  model: ModelChoice;
  inputs: InputChoice;
  unitRows: number;
  redundancy: number;
  spotCheckRate: number;
  maxProviders: number;
  /** Verification (advanced). A relation or value left out keeps the trust core's default. */
  tolerance?: Partial<ToleranceTable>;
  falseAcceptProbability?: number;
}

export interface PlannedJob {
  spec: JobSpec;
  inputs: RawTensor[];
  modelBytes: Uint8Array;
  /** Which axis of each input and output the model says is the batch (the submit check settles outputs). */
  roles: ModelRoles;
  /** What the plan decided that the requester did not ask for (e.g. the unit size a fixed batch sets). */
  notes: string[];
}

/** A stage of preparing a job, for the form's "Preparing…"; `done`/`total` in bytes where it has them. */
export interface PlanProgress {
  stage: string;
  done?: number;
  total?: number;
}

export interface PlanOptions {
  now?: number;
  id?: string;
  /** Bytes the origin may still store; the job is refused before anything is generated if it needs more. */
  storageLeft?: number;
  progress?: (stage: PlanProgress) => void;
}

/** The batch axis's name while inputs are checked: any size, the same in every batched input. */
const BATCH = 'batch (axis 0)';

/** The model's inputs as the uploaded tensors must fit them: a fixed batch may hold any multiple of itself. */
function inputShapes(facts: ModelFacts, roles: ModelRoles): TensorSpec[] {
  return facts.inputs.map((spec, i) =>
    roles.inputs[i]?.batched ? { ...spec, dims: [BATCH, ...spec.dims.slice(1)] } : spec,
  );
}

interface ModelFacts {
  bytes: Uint8Array;
  name: string;
  builtinId?: string;
  inputs: readonly TensorSpec[];
  outputs: readonly { name: string; dtype: string; dims: readonly Dim[] }[];
}

function modelFacts(choice: ModelChoice): ModelFacts {
  if (choice.kind === 'builtin') {
    const model = getBuiltinModel(choice.id);
    if (!model) throw new PlanError(`there is no built-in model "${choice.id}"`);
    return {
      bytes: model.build(),
      name: model.name,
      builtinId: model.id,
      inputs: model.inputs,
      outputs: model.outputs,
    };
  }
  const info = inspectOnnxModel(choice.bytes);
  return { bytes: choice.bytes, name: choice.fileName, inputs: info.inputs, outputs: info.outputs };
}

/** Random inputs for a model: the batch (first) dim is `rows`; any other symbolic dim cannot be guessed. */
function generateInputs(
  facts: ModelFacts,
  roles: ModelRoles,
  choice: Extract<InputChoice, { kind: 'generated' }>,
): TensorMap {
  const builtin = facts.builtinId ? getBuiltinModel(facts.builtinId) : undefined;
  if (builtin) return builtin.generateInputs(choice.rows, choice.seed);
  const out: TensorMap = {};
  facts.inputs.forEach((spec, i) => {
    const dims = spec.dims.map((d, axis) => {
      if (axis === 0 && roles.inputs[i]?.batched) return choice.rows;
      if (typeof d === 'number' && d > 0) return d;
      throw new PlanError(
        `input "${spec.name}" has a free dimension "${d}" at axis ${axis}; upload inputs (.npy or JSON) instead of generating them`,
      );
    });
    if (spec.dtype !== 'float32')
      throw new PlanError(
        `input "${spec.name}" is ${spec.dtype}; only float32 inputs can be generated — upload inputs instead`,
      );
    const count = dims.reduce((a, b) => a * b, 1);
    out[spec.name] = { dtype: 'float32', dims, data: uniformFloats(choice.seed + i, count) };
  });
  return out;
}

function uploadedInputs(
  facts: ModelFacts,
  shapes: readonly TensorSpec[],
  choice: Extract<InputChoice, { kind: 'upload' }>,
): TensorMap {
  const lower = choice.fileName.toLowerCase();
  if (lower.endsWith('.npy')) {
    if (facts.inputs.length !== 1) {
      throw new PlanError(
        `this model has ${facts.inputs.length} inputs but a .npy file holds one tensor; upload a JSON object {"inputName": …} instead`,
      );
    }
    return { [facts.inputs[0]!.name]: parseNpy(choice.bytes) };
  }
  if (lower.endsWith('.json')) return parseJsonInputs(new TextDecoder().decode(choice.bytes), shapes);
  throw new PlanError(`"${choice.fileName}" is neither .npy nor .json`);
}

function toJobTensorSpec(
  spec: { name: string; dtype: string; dims: readonly Dim[] },
  rows: number,
  what: string,
  batched = true,
): JobTensorSpec {
  if (!isDType(spec.dtype))
    throw new PlanError(
      `${what} "${spec.name}" has dtype ${spec.dtype}, which the network cannot carry; cast it to float32, float64, int32 or int64 in the model`,
    );
  const dims = spec.dims.map((d, axis) => (axis === 0 && batched ? rows : typeof d === 'number' && d >= 0 ? d : -1));
  return { name: spec.name, dtype: spec.dtype, dims, ...(batched ? {} : { batched: false }) };
}

const CLASS_NAMES: Record<string, string> = {
  sameClass: 'same-class',
  crossClass: 'cross-class',
  halfPrecision: 'half-precision',
};

/** "tolerance.sameClass.rtol" → "same-class rtol": the words the form uses. */
function settingName(path: string | null): string {
  if (path === 'falseAcceptProbability') return 'Freivalds false-accept probability';
  const [, relation, bound] = (path ?? '').split('.');
  return relation && bound ? `${CLASS_NAMES[relation] ?? relation} ${bound}` : (path ?? 'verification settings');
}

/** The draft's verification settings over the defaults, checked by the trust core's own schemas. */
function verificationSettings(draft: JobDraft): JobVerification {
  const defaults = jobVerification({});
  const parsed = v.safeParse(JobVerificationSchema, {
    tolerance: { ...defaults.tolerance, ...draft.tolerance },
    falseAcceptProbability: draft.falseAcceptProbability ?? defaults.falseAcceptProbability,
  });
  if (parsed.success) return parsed.output;
  throw new PlanError(
    parsed.issues
      .map((issue) => `${settingName(v.getDotPath(issue))} ${issue.message} (got ${String(issue.input)})`)
      .join('; '),
  );
}

export { PlanError } from './plan-error';
export { checkUnitFits } from './plan-limits';

export async function planJob(draft: JobDraft, options: PlanOptions = {}): Promise<PlannedJob> {
  const { now = Date.now(), id = newJobId(), storageLeft, progress } = options;
  if (!Number.isInteger(draft.unitRows) || draft.unitRows < 1)
    throw new PlanError('unit size must be a whole number of rows, at least 1');
  if (draft.inputs.kind === 'generated' && (!Number.isInteger(draft.inputs.rows) || draft.inputs.rows < 1)) {
    throw new PlanError('rows must be a whole number, at least 1');
  }
  const verification = verificationSettings(draft);
  const facts = modelFacts(draft.model);
  const roles = readBatchRoles(facts);
  if (!roles.batch)
    throw new PlanError(
      `no input of this model has an axis to split into units (every input is a scalar); ${REEXPORT_HINT}`,
    );
  const shapes = inputShapes(facts, roles);
  if (draft.inputs.kind === 'generated') {
    // Before anything is generated: 2,000,000 rows took 29 s to generate and then failed to store.
    const units = Math.ceil(draft.inputs.rows / draft.unitRows);
    if (units > MAX_UNITS)
      throw new PlanError(
        `${units} units is more than ${MAX_UNITS}: raise the unit size to at least ${Math.ceil(draft.inputs.rows / MAX_UNITS)} rows`,
      );
    checkJobFitsBrowser(facts, roles, draft.inputs.rows, storageLeft);
    progress?.({ stage: 'generating inputs' });
  } else progress?.({ stage: 'reading inputs' });
  const tensors =
    draft.inputs.kind === 'generated'
      ? generateInputs(facts, roles, draft.inputs)
      : uploadedInputs(facts, shapes, draft.inputs);
  checkInputs(shapes, tensors);
  const ordered = facts.inputs.map((spec) => tensors[spec.name]!);
  const batchedAt = roles.inputs.findIndex((r) => r.batched);
  const rows = ordered[batchedAt]!.dims[0] ?? 0;
  for (const [i, t] of ordered.entries()) {
    if (roles.inputs[i]!.batched && t.dims[0] !== rows)
      throw new PlanError(
        `input "${facts.inputs[i]!.name}" has ${t.dims[0]} rows but "${facts.inputs[batchedAt]!.name}" has ${rows}: the inputs with a batch axis must have the same number of rows`,
      );
  }
  if (rows < 1) throw new PlanError('the inputs have no rows');
  if (draft.inputs.kind === 'upload') checkJobFitsBrowser(facts, roles, rows, storageLeft);
  const notes: string[] = [];
  let unitRows = Math.min(draft.unitRows, rows);
  if (roles.batch.kind === 'fixed') {
    const fixed = roles.batch.rows;
    if (rows % fixed !== 0)
      throw new PlanError(
        `the model takes exactly ${fixed} rows per run (its batch size was fixed at export) and the inputs have ${rows}: give a multiple of ${fixed} rows, or ${REEXPORT_HINT} to use any number`,
      );
    if (draft.unitRows !== fixed) notes.push(`units are ${fixed} rows, the batch size fixed in the model`);
    unitRows = fixed;
  }
  const wholeBatch = roles.outputs.filter((o) => o.batched === false).map((o) => `"${o.name}"`);
  if (wholeBatch.length > 0) {
    if (roles.batch.kind === 'fixed' && rows !== roles.batch.rows)
      throw new PlanError(
        `output ${wholeBatch.join(', ')} has no batch axis, so it needs the whole batch in one run, and the model takes exactly ${roles.batch.rows} rows per run: give ${roles.batch.rows} rows, or ${REEXPORT_HINT}`,
      );
    if (unitRows < rows)
      notes.push(`output ${wholeBatch.join(', ')} has no batch axis: the whole batch runs as one unit`);
    unitRows = rows;
  }
  const spec: JobSpec = {
    schema: JOB_SCHEMA_VERSION,
    id,
    name: draft.name.trim() || `${facts.name} × ${rows}`,
    createdAt: now,
    model: {
      hash: (await modelVersion(facts.bytes)).hash,
      name: facts.name,
      bytes: facts.bytes.length,
      ...(facts.builtinId ? { builtinId: facts.builtinId } : {}),
    },
    inputs: facts.inputs.map((s, i) =>
      roles.inputs[i]!.batched
        ? toJobTensorSpec(s, rows, 'input')
        : toJobTensorSpec({ ...s, dims: ordered[i]!.dims }, rows, 'input', false),
    ),
    outputs: facts.outputs.map((s, i) => toJobTensorSpec(s, rows, 'output', roles.outputs[i]!.batched !== false)),
    rows,
    unitRows,
    redundancy: draft.redundancy,
    spotCheckRate: draft.spotCheckRate,
    maxProviders: Math.max(draft.maxProviders, draft.redundancy),
    // Stored explicitly: the job keeps the numbers it was planned with even if the defaults change.
    tolerance: verification.tolerance,
    falseAcceptProbability: verification.falseAcceptProbability,
  };
  try {
    checkJobSpec(spec);
  } catch (error) {
    throw new PlanError(messageOf(error));
  }
  const raw = ordered.map((t, i) => rawFromTensor(facts.inputs[i]!.name, t));
  checkUnitFits(spec, raw, spec.unitRows);
  return {
    spec,
    inputs: raw,
    modelBytes: facts.bytes,
    roles,
    notes,
  };
}

export function newJobId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return `job-${Array.from(bytes, (b) => b.toString(36).padStart(2, '0'))
    .join('')
    .slice(0, 12)}`;
}
