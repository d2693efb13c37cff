/** A finished (or cancelled) job's copy for "Re-run as a new job": same model version, inputs and settings. */
import type { JobSpec } from '@shared/jobs';

const RERUN_SUFFIX = / \(re-run \d+\)$/;

/** The copy's spec: a new id and time, the model version the job ended on, and a name that says which re-run it is. */
export function rerunSpec(
  spec: JobSpec,
  modelHash: string,
  names: readonly string[],
  id: string,
  now: number,
): JobSpec {
  const base = spec.name.replace(RERUN_SUFFIX, '').slice(0, 180);
  const count = names.filter((name) => name === base || name.replace(RERUN_SUFFIX, '') === base).length;
  return {
    ...spec,
    id,
    createdAt: now,
    name: `${base} (re-run ${Math.max(1, count)})`,
    model: { ...spec.model, hash: modelHash },
  };
}
