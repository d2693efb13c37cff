/**
 * The single-worker baseline of a job trained together (issue 19's dashboard): one worker training the same
 * model on the same corpus and seed with AdamW at batch N·B for the same number of steps — the
 * data-parallel equivalent, as bench:train-net runs it. Its validation curve goes on the together job's
 * chart, so a requester sees what training together cost against one machine doing all the work.
 */
import type { TrainSpec } from '@shared/jobs';

/** The spec of the baseline of together job `spec`, under a new id. */
export function baselineSpec(spec: TrainSpec, id: string, createdAt: number): TrainSpec {
  const together = spec.together;
  if (spec.where !== 'together' || !together) throw new Error(`"${spec.name}" is not trained together`);
  const { together: _, ...rest } = spec;
  return {
    ...rest,
    id,
    createdAt,
    name: `${spec.name} · one worker`.slice(0, 200),
    where: 'here',
    batch: spec.batch * together.providers,
  };
}

/** True when `candidate` trains what `spec` trains together, alone: the same model, data and steps at batch N·B. */
export function isBaselineOf(candidate: TrainSpec, spec: TrainSpec): boolean {
  const together = spec.together;
  if (!together || candidate.where === 'together' || candidate.id === spec.id) return false;
  return (
    candidate.seed === spec.seed &&
    candidate.steps === spec.steps &&
    candidate.batch === spec.batch * together.providers &&
    JSON.stringify(candidate.model) === JSON.stringify(spec.model) &&
    JSON.stringify(candidate.corpus) === JSON.stringify(spec.corpus) &&
    JSON.stringify(candidate.lr) === JSON.stringify(spec.lr)
  );
}

/** The baseline among `jobs` that got furthest (the newest of equals), or undefined. */
export function findBaseline<J extends { spec: TrainSpec; step: number }>(jobs: readonly J[], spec: TrainSpec) {
  let best: J | undefined;
  for (const j of jobs)
    if (
      isBaselineOf(j.spec, spec) &&
      (!best || j.step > best.step || (j.step === best.step && j.spec.createdAt > best.spec.createdAt))
    )
      best = j;
  return best;
}
