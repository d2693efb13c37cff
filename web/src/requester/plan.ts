/**
 * Turns what a requester chose in the form (a model, inputs, settings) into a
 * validated job: spec, input tensors and model bytes. Every error says what
 * was wrong and what to do; nothing is stored until the whole plan is valid.
 */
import * as v from 'valibot';
import {
  checkJobSpec,
  JOB_SCHEMA_VERSION,
  jobVerification,
  JobVerificationSchema,
  type JobSpec,
  type JobVerification,
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
}

export class PlanError extends Error {
  override name = 'PlanError';
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
function generateInputs(facts: ModelFacts, choice: Extract<InputChoice, { kind: 'generated' }>): TensorMap {
  const builtin = facts.builtinId ? getBuiltinModel(facts.builtinId) : undefined;
  if (builtin) return builtin.generateInputs(choice.rows, choice.seed);
  const out: TensorMap = {};
  facts.inputs.forEach((spec, i) => {
    const dims = spec.dims.map((d, axis) => {
      if (axis === 0) return choice.rows;
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

function uploadedInputs(facts: ModelFacts, choice: Extract<InputChoice, { kind: 'upload' }>): TensorMap {
  const lower = choice.fileName.toLowerCase();
  if (lower.endsWith('.npy')) {
    if (facts.inputs.length !== 1) {
      throw new PlanError(
        `this model has ${facts.inputs.length} inputs but a .npy file holds one tensor; upload a JSON object {"inputName": …} instead`,
      );
    }
    return { [facts.inputs[0]!.name]: parseNpy(choice.bytes) };
  }
  if (lower.endsWith('.json')) return parseJsonInputs(new TextDecoder().decode(choice.bytes), facts.inputs);
  throw new PlanError(`"${choice.fileName}" is neither .npy nor .json`);
}

function toJobTensorSpec(
  spec: { name: string; dtype: string; dims: readonly Dim[] },
  rows: number,
  what: string,
): JobTensorSpec {
  if (!isDType(spec.dtype))
    throw new PlanError(`${what} "${spec.name}" has dtype ${spec.dtype}, which the network cannot carry`);
  return {
    name: spec.name,
    dtype: spec.dtype,
    dims: spec.dims.map((d, axis) => (axis === 0 ? rows : typeof d === 'number' && d >= 0 ? d : -1)),
  };
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

export async function planJob(draft: JobDraft, now = Date.now(), id = newJobId()): Promise<PlannedJob> {
  if (!Number.isInteger(draft.unitRows) || draft.unitRows < 1)
    throw new PlanError('unit size must be a whole number of rows, at least 1');
  if (draft.inputs.kind === 'generated' && (!Number.isInteger(draft.inputs.rows) || draft.inputs.rows < 1)) {
    throw new PlanError('rows must be a whole number, at least 1');
  }
  const verification = verificationSettings(draft);
  const facts = modelFacts(draft.model);
  const tensors =
    draft.inputs.kind === 'generated' ? generateInputs(facts, draft.inputs) : uploadedInputs(facts, draft.inputs);
  checkInputs(facts.inputs, tensors);
  const ordered = facts.inputs.map((spec) => tensors[spec.name]!);
  const rows = ordered[0]!.dims[0] ?? 0;
  for (const [i, t] of ordered.entries()) {
    if (t.dims[0] !== rows)
      throw new PlanError(
        `input "${facts.inputs[i]!.name}" has ${t.dims[0]} rows but "${facts.inputs[0]!.name}" has ${rows}: inputs must share the batch dimension`,
      );
  }
  if (rows < 1) throw new PlanError('the inputs have no rows');
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
    inputs: facts.inputs.map((s) => toJobTensorSpec(s, rows, 'input')),
    outputs: facts.outputs.map((s) => toJobTensorSpec(s, rows, 'output')),
    rows,
    unitRows: Math.min(draft.unitRows, rows),
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
  return { spec, inputs: ordered.map((t, i) => rawFromTensor(facts.inputs[i]!.name, t)), modelBytes: facts.bytes };
}

function newJobId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return `job-${Array.from(bytes, (b) => b.toString(36).padStart(2, '0'))
    .join('')
    .slice(0, 12)}`;
}
