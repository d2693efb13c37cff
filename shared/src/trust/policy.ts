/**
 * Verification policy, per job. Defaults are the adaptive policy the bench
 * measures (bench/trust.ts): no up-front redundancy, every result of a new key
 * checked, then one check per block of 1/sampleRate results of each trusted key (3.5%).
 */
import * as v from 'valibot';
import { DEFAULT_TOLERANCES } from './adapterClass';
import { DEFAULT_FALSE_ACCEPT_PROBABILITY, DEFAULT_MAX_REPLICAS, DEFAULT_SAMPLE_RATE } from './constants';
import { InvalidPolicyError } from './errors';

const Probability = v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1));

/** The messages say the allowed range, so a form can show them as they are. */
const TOLERANCE_RANGE = 'must be a number from 0 to 1';
const ToleranceBound = v.pipe(
  v.number(TOLERANCE_RANGE),
  v.finite(TOLERANCE_RANGE),
  v.minValue(0, TOLERANCE_RANGE),
  v.maxValue(1, TOLERANCE_RANGE),
);
export const ToleranceSchema = v.strictObject({ rtol: ToleranceBound, atol: ToleranceBound });
export const ToleranceTableSchema = v.strictObject({
  sameClass: ToleranceSchema,
  crossClass: ToleranceSchema,
  halfPrecision: ToleranceSchema,
});

/** One ±1 round already bounds false accepts by 1/2 (TRUST-F1), so more buys nothing; 0 would need endless rounds. */
const FALSE_ACCEPT_RANGE = 'must be a number greater than 0 and at most 0.5';
export const FalseAcceptProbabilitySchema = v.pipe(
  v.number(FALSE_ACCEPT_RANGE),
  v.finite(FALSE_ACCEPT_RANGE),
  v.gtValue(0, FALSE_ACCEPT_RANGE),
  v.maxValue(0.5, FALSE_ACCEPT_RANGE),
);

export const JobPolicySchema = v.strictObject({
  /** Replicas of every unit dispatched up front (BOINC redundancy). 1 = none; then checks come from sampling. */
  redundancy: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(DEFAULT_MAX_REPLICAS)),
  /** Probability a unit gets an extra check. With `adaptive`, a trusted key's rate: one check per block of 1/sampleRate results. */
  sampleRate: Probability,
  /** Scale checks by the provider key's clean history (new keys: every unit; trusted keys: sampleRate, in blocks). */
  adaptive: v.boolean(),
  /** Who runs a sampled check: another provider (quorum of 2) or the requester's own device. */
  checkWith: v.picklist(['replica', 'requester']),
  /** Float tolerance per adapter-class relation. */
  tolerance: ToleranceTableSchema,
  /** For matrix-product units: Freivalds false-accept probability per unit. */
  falseAcceptProbability: FalseAcceptProbabilitySchema,
  /** Untrusted replicas tried before the requester re-executes a unit itself. */
  maxReplicas: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(16)),
});

export type JobPolicy = v.InferOutput<typeof JobPolicySchema>;
export type JobPolicyInput = Partial<Omit<JobPolicy, 'tolerance'>> & { tolerance?: Partial<JobPolicy['tolerance']> };

export const DEFAULT_POLICY: Readonly<JobPolicy> = Object.freeze({
  redundancy: 1,
  sampleRate: DEFAULT_SAMPLE_RATE,
  adaptive: true,
  checkWith: 'replica',
  tolerance: DEFAULT_TOLERANCES,
  falseAcceptProbability: DEFAULT_FALSE_ACCEPT_PROBABILITY,
  maxReplicas: DEFAULT_MAX_REPLICAS,
});

/** Fills defaults and validates; throws InvalidPolicyError with every issue. Input may come from a stored job or a form. */
export function resolvePolicy(input: unknown = {}): JobPolicy {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InvalidPolicyError('policy must be an object');
  const partial = input as Record<string, unknown>;
  const tolerance = partial['tolerance'];
  const merged = {
    ...DEFAULT_POLICY,
    ...partial,
    tolerance: {
      ...DEFAULT_POLICY.tolerance,
      ...(typeof tolerance === 'object' && tolerance !== null ? tolerance : {}),
    },
  };
  const parsed = v.safeParse(JobPolicySchema, merged);
  if (!parsed.success)
    throw new InvalidPolicyError(parsed.issues.map((i) => `${v.getDotPath(i) ?? 'policy'}: ${i.message}`).join('; '));
  if (parsed.output.maxReplicas < parsed.output.redundancy)
    throw new InvalidPolicyError('maxReplicas must be ≥ redundancy');
  return parsed.output;
}
