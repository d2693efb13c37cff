/**
 * Batch inference as a job kind: unit u is rows [u·unitRows, …) of every
 * input; its result is the model's outputs for those rows. Results are
 * compared with the trust core's tolerance for the two adapter classes (SPEC
 * TRUST-C1/C2) under the job's own table (TRUST-J2); matrix products are
 * checked by Freivalds' test instead of re-execution (TRUST-F*).
 */
import type { Capabilities, RawTensor } from '../../protocol';
import {
  adapterClassKey,
  compareOutputs,
  cryptoRandom,
  describeDisagreement,
  toleranceFor,
  type RandomSource,
} from '../../trust';
import type { ReplicaResult } from '../../trust/quorum';
import { jobVerification, unitCount, unitRange, type JobSpec } from '../job';
import type { JobKind } from '../kind';
import { sliceRows } from '../rows';
import { algebraicCheckFor } from './algebraic';
import { blamesModel } from './model-errors';
import { asUnitOutputs } from './tensors';

export type InferenceResult = RawTensor[];

export interface InferenceKindOptions {
  /** Work per input row, for receipts; 0 when unknown. */
  flopsPerRow?: number;
  /** Draws for Freivalds' vectors (tests inject a seeded one). */
  rng?: RandomSource;
}

/** The class a provider's results are compared under, from what it announced. */
export function providerAdapterClass(capabilities: Pick<Capabilities, 'backend' | 'adapter'> | undefined): string {
  return adapterClassKey({
    backend: capabilities?.backend ?? 'unknown',
    vendor: capabilities?.adapter?.vendor,
    architecture: capabilities?.adapter?.architecture,
  });
}

/**
 * Why `outputs` cannot be the outputs of `rows` rows of this job's model, or undefined when their shapes fit.
 * An output without a batch axis is held to the shape the model gave in the job's test run, so no
 * provider is blamed for a shape the model itself produces.
 */
export function checkOutputShapes(spec: JobSpec, rows: number, outputs: RawTensor[]): string | undefined {
  if (outputs.length !== spec.outputs.length) return `${outputs.length} outputs, expected ${spec.outputs.length}`;
  for (let i = 0; i < outputs.length; i++) {
    const got = outputs[i]!;
    const want = spec.outputs[i]!;
    const batched = want.batched !== false;
    const expected = batched ? [rows, ...want.dims.slice(1)] : want.dims;
    const fits =
      got.name === want.name &&
      got.dtype === want.dtype &&
      got.dims.length === expected.length &&
      expected.every((d, k) => d < 0 || d === got.dims[k]);
    if (!fits)
      return `${got.name} [${got.dims.join(', ')}] ${got.dtype}, expected ${want.name} [${expected.map((d) => (d < 0 ? '*' : d)).join(', ')}] ${want.dtype}`;
  }
  return undefined;
}

const backendOf = (classKey: string) => classKey.split('/')[0];

export function inferenceKind(
  spec: JobSpec,
  inputs: readonly RawTensor[],
  options: InferenceKindOptions = {},
): JobKind<RawTensor[], InferenceResult> {
  const { tolerance } = jobVerification(spec);
  const algebraic = algebraicCheckFor(spec, options.rng ?? cryptoRandom());
  const rows = (unitId: number) => {
    const { start, end } = unitRange(spec, unitId);
    return end - start;
  };
  const unit = (unitId: number) => {
    const { start, end } = unitRange(spec, unitId);
    // An input without a batch axis (a weight, a bias) goes whole with every unit.
    return inputs.map((t, i) => (spec.inputs[i]?.batched === false ? t : sliceRows(t, start, end)));
  };
  const compare = (a: ReplicaResult<InferenceResult>, b: ReplicaResult<InferenceResult>) =>
    compareOutputs(asUnitOutputs(a.result), asUnitOutputs(b.result), toleranceOf(a, b));
  const toleranceOf = (a: ReplicaResult<InferenceResult>, b: ReplicaResult<InferenceResult>) => {
    // SPEC TRUST-A1: the requester's own re-run is held to the same-class row when it ran on the
    // provider's backend (its adapter is the requester's machine, so the class key cannot match).
    if (a.trusted || b.trusted)
      return backendOf(a.adapterClass) === backendOf(b.adapterClass) ? tolerance.sameClass : tolerance.crossClass;
    return toleranceFor(a.adapterClass, b.adapterClass, tolerance);
  };
  return {
    name: 'inference',
    units: unitCount(spec),
    unit,
    size: rows,
    flops: (unitId) => rows(unitId) * (options.flopsPerRow ?? 0),
    validate: (unitId, result) => checkOutputShapes(spec, rows(unitId), result),
    agree: (a, b) => compare(a, b).agree,
    blamesModel,
    explain: (canonical, wrong) => {
      const c = compare(canonical, wrong);
      return c.agree ? 'agrees' : describeDisagreement(c.reason);
    },
    algebraicCheck: algebraic ? (unitId, result) => algebraic(unit(unitId), result) : undefined,
  };
}
