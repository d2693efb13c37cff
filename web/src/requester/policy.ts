/**
 * The verification policy a job runs under, in words for its card: how many
 * replicas and what majority, how results are checked, and the tolerance
 * replicas are compared with (per adapter class, SPEC TRUST-C1/C2).
 */
import { jobVerification, type JobSpec } from '@shared/jobs';
import { matmul256 } from '@shared/models';
import { DEFAULT_MAX_REPLICAS } from '@shared/trust';

export interface PolicyLine {
  label: string;
  value: string;
}

const pct = (rate: number) => `${Number((rate * 100).toFixed(2))}%`;

type PolicyFields = 'redundancy' | 'spotCheckRate' | 'model' | 'tolerance' | 'falseAcceptProbability';

/** The job's own numbers (defaults only where the spec has none), so the card says what its results are held to. */
export function describePolicy(spec: Pick<JobSpec, PolicyFields>): PolicyLine[] {
  const { tolerance, falseAcceptProbability } = jobVerification(spec);
  const { sameClass, crossClass } = tolerance;
  const lines: PolicyLine[] = [];
  if (spec.redundancy > 1) {
    const majority = Math.floor(spec.redundancy / 2) + 1;
    lines.push({
      label: 'redundancy',
      value: `${spec.redundancy} replicas, ${majority} must agree; another replica on disagreement (up to ${Math.max(DEFAULT_MAX_REPLICAS, spec.redundancy)})`,
    });
  } else {
    lines.push({ label: 'redundancy', value: '1 (no replicas)' });
  }
  const algebraic = spec.model.builtinId === matmul256.id;
  if (spec.redundancy > 1) lines.push({ label: 'checks', value: 'the quorum of replicas' });
  else if (spec.spotCheckRate === 0) lines.push({ label: 'checks', value: 'none (spot checks off)' });
  else {
    const how = algebraic ? `Freivalds (false accept ≤ ${falseAcceptProbability})` : 're-run on this device';
    lines.push({
      label: 'checks',
      value: `${how}; every unit of a new provider, then down to ${pct(spec.spotCheckRate)}`,
    });
  }
  lines.push({
    label: 'tolerance',
    value: `same adapter class rtol ${sameClass.rtol} atol ${sameClass.atol}, across classes rtol ${crossClass.rtol} atol ${crossClass.atol}`,
  });
  return lines;
}
