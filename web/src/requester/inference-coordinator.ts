/**
 * The verification policy a batch-inference job runs under, from its spec:
 * replicas up front when it asks for redundancy; otherwise adaptive checks
 * re-run on this device (every unit of a new key, down to the job's spot-check
 * rate), or none at rate 0 or without a local engine (SPEC TRUST-A1, TRUST-J2).
 */
import { JobCoordinator, jobVerification, type InferenceResult, type JobKind, type JobSpec } from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import {
  DEFAULT_MAX_REPLICAS,
  resolvePolicy,
  unitRandomSource,
  type JobPolicy,
  type ReputationBook,
} from '@shared/trust';

export function inferencePolicy(spec: JobSpec, canCheck: boolean): JobPolicy {
  const { tolerance, falseAcceptProbability } = jobVerification(spec);
  const checks = spec.spotCheckRate > 0 && canCheck;
  return resolvePolicy({
    redundancy: spec.redundancy,
    adaptive: checks,
    sampleRate: checks ? spec.spotCheckRate : 0,
    checkWith: 'requester',
    tolerance,
    falseAcceptProbability,
    maxReplicas: Math.max(DEFAULT_MAX_REPLICAS, spec.redundancy),
  });
}

export interface InferenceCoordinatorOptions {
  spec: JobSpec;
  kind: JobKind<RawTensor[], InferenceResult>;
  reputation: ReputationBook;
  /** Whether this browser can re-run units (a local engine started). */
  canCheck: boolean;
  /** What the job store holds: units stored, and stored units to compute again. */
  done: number[];
  rerun: number[];
  /** Draws which units are checked (tests inject a seeded one); WebCrypto otherwise. */
  random?: () => number;
}

/** The coordinator for a batch-inference job: its policy, the kind's comparisons, and what is already stored. */
export function inferenceCoordinator(o: InferenceCoordinatorOptions): JobCoordinator<InferenceResult> {
  return new JobCoordinator({
    jobId: o.spec.id,
    units: o.kind.units,
    policy: inferencePolicy(o.spec, o.canCheck),
    reputation: o.reputation,
    agree: o.kind.agree,
    explain: o.kind.explain,
    blamesModel: o.kind.blamesModel,
    // SPEC TRUST-F*: a matrix product is checked by Freivalds on every unit once checks are on.
    algebraicCheck: o.spec.spotCheckRate > 0 ? o.kind.algebraicCheck : undefined,
    canCheck: o.canCheck,
    done: o.done,
    rerun: o.rerun,
    rng: o.random ? unitRandomSource(o.random) : undefined,
  });
}
