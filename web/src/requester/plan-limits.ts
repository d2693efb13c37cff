/**
 * What a planned job must fit before anything is generated or stored: one
 * unit in one message to a provider, each tensor in one typed array, and the
 * whole job in the storage the origin has left.
 */
import {
  checkJobFits,
  estimateJobSize,
  JobSizeError,
  type JobSpec,
  type ModelRoles,
  type SizedTensor,
} from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import { DEFAULT_MAX_MESSAGE_BYTES } from '@shared/transport';
import { PlanError } from './plan-error';

/** Bytes one unit's inputs take on the wire: its rows of each batched input, and every unbatched input whole. */
function unitBytes(spec: Pick<JobSpec, 'inputs' | 'rows'>, inputs: readonly RawTensor[], unitRows: number): number {
  return inputs.reduce((sum, t, i) => {
    const whole = spec.inputs[i]?.batched === false;
    return sum + (whole ? t.bytes.length : Math.ceil((t.bytes.length / spec.rows) * unitRows));
  }, 0);
}

/** A unit is one message to a provider: refuses one larger than a provider accepts, saying what to change. */
export function checkUnitFits(spec: Pick<JobSpec, 'inputs' | 'rows'>, inputs: readonly RawTensor[], unitRows: number) {
  const bytes = unitBytes(spec, inputs, unitRows);
  if (bytes <= DEFAULT_MAX_MESSAGE_BYTES) return;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  throw new PlanError(
    `one unit of ${unitRows} rows would carry ${mib(bytes)} of inputs, more than the ${mib(DEFAULT_MAX_MESSAGE_BYTES)} a provider accepts in one message; ${
      unitRows === spec.rows ? 'split the inputs into smaller jobs' : 'lower the unit size'
    }`,
  );
}

/** Refuses a job of `rows` rows that cannot fit this browser (one typed array, the storage left), with both figures. */
export function checkJobFitsBrowser(
  facts: { bytes: Uint8Array; inputs: readonly SizedTensor[]; outputs: readonly SizedTensor[] },
  roles: ModelRoles,
  rows: number,
  storageLeft: number | undefined,
): void {
  const batched = <T>(list: readonly T[], role: readonly { batched?: boolean }[]) =>
    list.map((t, i) => ({ ...t, batched: role[i]?.batched !== false }));
  const size = estimateJobSize(
    batched(facts.inputs, roles.inputs),
    batched(facts.outputs, roles.outputs),
    rows,
    facts.bytes.length,
  );
  try {
    checkJobFits(size, storageLeft);
  } catch (error) {
    if (error instanceof JobSizeError) throw new PlanError(error.message);
    throw error;
  }
}
