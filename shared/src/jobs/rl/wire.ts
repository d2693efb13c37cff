/**
 * A rollout claim as JSON, for whatever message carries it: validated with
 * valibot and size-limited before the trainer looks at it (a claim comes from
 * an untrusted peer). Log-probabilities travel as JSON numbers, which
 * round-trip float64 exactly; the sketch as two integer arrays.
 */
import * as v from 'valibot';
import type { Sketch } from './sketch';
import type { RolloutClaim } from './verify';

/** The small preset's context is 128 tokens; a wire claim may not exceed 4× that. */
export const MAX_CLAIM_TOKENS = 512;
/** GRAIL's top-16 with room for larger widths. */
export const MAX_SKETCH_K = 64;

const Int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const Ids = v.pipe(v.array(Int(0, 65535)), v.maxLength(MAX_CLAIM_TOKENS));

export const RolloutClaimWireSchema = v.pipe(
  v.strictObject({
    providerKey: v.pipe(v.string(), v.maxLength(256)),
    round: Int(0, 2 ** 31),
    promptIndex: Int(0, 2 ** 31),
    sample: Int(0, 1024),
    seed: Int(0, 2 ** 32 - 1),
    version: Int(0, 2 ** 31),
    prompt: v.pipe(Ids, v.minLength(1)),
    completion: v.pipe(Ids, v.minLength(1)),
    logprobs: v.pipe(v.array(v.pipe(v.number(), v.finite(), v.maxValue(0))), v.maxLength(MAX_CLAIM_TOKENS)),
    sketch: v.strictObject({
      k: Int(1, MAX_SKETCH_K),
      positions: Int(1, MAX_CLAIM_TOKENS),
      indices: v.pipe(v.array(Int(0, 65535)), v.maxLength(MAX_CLAIM_TOKENS * MAX_SKETCH_K)),
      buckets: v.pipe(v.array(Int(-127, 127)), v.maxLength(MAX_CLAIM_TOKENS * MAX_SKETCH_K)),
    }),
  }),
  v.check((c) => c.logprobs.length === c.completion.length, 'one log-probability per completion token'),
  v.check(
    (c) =>
      c.sketch.indices.length === c.sketch.k * c.sketch.positions &&
      c.sketch.buckets.length === c.sketch.indices.length,
    'sketch arrays hold k × positions entries',
  ),
);
export type RolloutClaimWire = v.InferOutput<typeof RolloutClaimWireSchema>;

export function claimToWire(c: RolloutClaim): RolloutClaimWire {
  return {
    ...c,
    prompt: [...c.prompt],
    completion: [...c.completion],
    logprobs: [...c.logprobs],
    sketch: { ...c.sketch, indices: Array.from(c.sketch.indices), buckets: Array.from(c.sketch.buckets) },
  };
}

/** The claim, or the first reason it is not one. */
export function claimFromWire(value: unknown): { ok: true; claim: RolloutClaim } | { ok: false; error: string } {
  const r = v.safeParse(RolloutClaimWireSchema, value);
  if (!r.success) {
    const issue = r.issues[0]!;
    const path = v.getDotPath(issue);
    return { ok: false, error: `${path === null ? '' : `${path}: `}${issue.message}` };
  }
  const w = r.output;
  const sketch: Sketch = {
    k: w.sketch.k,
    positions: w.sketch.positions,
    indices: Uint16Array.from(w.sketch.indices),
    buckets: Int8Array.from(w.sketch.buckets),
  };
  return { ok: true, claim: { ...w, sketch } };
}
