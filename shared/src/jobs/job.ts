/**
 * The job model: what a requester asked for, split into work units by rows
 * of the batch dimension. Everything here is plain data so it can be
 * persisted in IndexedDB and validated when read back.
 */
import * as v from 'valibot';
import { JobIdSchema } from '../ids';
import { WireDtypeSchema } from '../protocol/peer';
import { MODEL_HASH_PATTERN } from '../tensor/model-version';
import { DEFAULT_TOLERANCES } from '../trust/adapterClass';
import { DEFAULT_FALSE_ACCEPT_PROBABILITY } from '../trust/constants';
import { FalseAcceptProbabilitySchema, ToleranceTableSchema } from '../trust/policy';

/** 2: the model is named by its xxh3-128 version hash (tensor/model-version.ts); 1 named it by SHA-256 of the file. */
export const JOB_SCHEMA_VERSION = 2;
export const MAX_UNITS = 100_000;
export const MAX_REDUNDANCY = 5;

const Hash = v.pipe(v.string(), v.regex(MODEL_HASH_PATTERN));
const Count = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

export const TensorSpecSchema = v.strictObject({
  name: v.pipe(v.string(), v.maxLength(256)),
  dtype: WireDtypeSchema,
  /** Dims with the batch dimension first (all of them where `batched` is false); -1 means "per unit". */
  dims: v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(-1))), v.maxLength(8)),
  /**
   * false: the tensor has no batch axis (an input sent whole with every unit, an output of the
   * whole unit). Absent means batched, as every job stored before roles were read from the model.
   */
  batched: v.optional(v.boolean()),
});
export type TensorSpec = v.InferOutput<typeof TensorSpecSchema>;

export const JobSpecSchema = v.strictObject({
  schema: v.literal(JOB_SCHEMA_VERSION),
  id: JobIdSchema,
  name: v.pipe(v.string(), v.maxLength(200)),
  createdAt: v.number(),
  model: v.strictObject({
    hash: Hash,
    name: v.pipe(v.string(), v.maxLength(256)),
    bytes: Count(1, 2 ** 32),
    builtinId: v.optional(v.pipe(v.string(), v.maxLength(64))),
  }),
  inputs: v.pipe(v.array(TensorSpecSchema), v.minLength(1), v.maxLength(16)),
  outputs: v.pipe(v.array(TensorSpecSchema), v.minLength(1), v.maxLength(16)),
  rows: Count(1, 2 ** 31),
  unitRows: Count(1, 2 ** 31),
  redundancy: Count(1, MAX_REDUNDANCY),
  /** Fraction of units the requester re-runs locally to spot-check providers. */
  spotCheckRate: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  maxProviders: Count(1, 64),
  /**
   * How closely a result must match its check, per adapter-class relation (SPEC TRUST-C1/C2).
   * Optional, like falseAcceptProbability: jobs stored before they were settable still load
   * and mean the defaults. Read both through jobVerification().
   */
  tolerance: v.optional(ToleranceTableSchema),
  /** Matrix-product jobs: the chance that Freivalds' check passes a wrong unit (SPEC TRUST-F1). */
  falseAcceptProbability: v.optional(FalseAcceptProbabilitySchema),
});
export type JobSpec = v.InferOutput<typeof JobSpecSchema>;

/** What a job's results are held to, every field present: what checks read and what a form's values must pass. */
export const JobVerificationSchema = v.strictObject({
  tolerance: ToleranceTableSchema,
  falseAcceptProbability: FalseAcceptProbabilitySchema,
});
export type JobVerification = v.InferOutput<typeof JobVerificationSchema>;

/** The job's verification settings, the trust core's defaults where the spec has none (SPEC TRUST-J2). */
export function jobVerification(spec: Pick<JobSpec, 'tolerance' | 'falseAcceptProbability'>): JobVerification {
  return {
    tolerance: spec.tolerance ?? DEFAULT_TOLERANCES,
    falseAcceptProbability: spec.falseAcceptProbability ?? DEFAULT_FALSE_ACCEPT_PROBABILITY,
  };
}

export class JobSpecError extends Error {
  override name = 'JobSpecError';
}

export function unitCount(spec: Pick<JobSpec, 'rows' | 'unitRows'>): number {
  return Math.ceil(spec.rows / spec.unitRows);
}

/** Rows [start, end) of the batch that unit `unitId` covers. */
export function unitRange(spec: Pick<JobSpec, 'rows' | 'unitRows'>, unitId: number): { start: number; end: number } {
  const count = unitCount(spec);
  if (!Number.isInteger(unitId) || unitId < 0 || unitId >= count)
    throw new JobSpecError(`unit ${unitId} is outside 0..${count - 1}`);
  const start = unitId * spec.unitRows;
  return { start, end: Math.min(spec.rows, start + spec.unitRows) };
}

/** Checks the cross-field rules a schema can't express. Throws with a message a user can act on. */
export function checkJobSpec(spec: JobSpec): void {
  const units = unitCount(spec);
  if (units > MAX_UNITS) {
    throw new JobSpecError(
      `${units} units is more than ${MAX_UNITS}: raise the unit size to at least ${Math.ceil(spec.rows / MAX_UNITS)} rows`,
    );
  }
  if (spec.redundancy > spec.maxProviders) {
    throw new JobSpecError(
      `redundancy ${spec.redundancy} needs at least that many providers; max providers is ${spec.maxProviders}`,
    );
  }
  for (const input of spec.inputs) {
    if (input.batched !== false && input.dims[0] !== spec.rows) {
      throw new JobSpecError(
        `input "${input.name}" has ${input.dims[0]} rows but the job has ${spec.rows}: every batched input must share the batch dimension`,
      );
    }
  }
}
