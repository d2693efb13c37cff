/**
 * Every tunable of the RL job's verification and update in one place, each
 * with where its value comes from. Tolerances were measured in this folder's
 * tests (JS f32 against WASM, both in Node) on the test configs; the margins
 * are asserted there, so a change that erodes one fails a test.
 */

/** Bring-your-own JSONL: checked before parsing, so a huge upload is refused without work. */
export const JSONL_MAX_BYTES = 8 * 1024 * 1024;
export const JSONL_MAX_LINES = 100_000;
/** A prompt plus its answer must fit the policy's context (the tiny preset has 64). */
export const JSONL_MAX_FIELD_CHARS = 200;

/**
 * Cumulative-probability slack for a token at a CDF boundary. Across JS f32 and WASM the cumulative
 * probabilities differ by at most 2.4e-7 at the test sizes (sampling.test.ts asserts < 1e-6); 1e-4 leaves
 * ~400× for WebGPU's different summation orders and exp (E2E-RL3: a WebGPU tab on SwiftShader beside the WASM
 * trainer, tiny preset, had no token at a boundary and log-probs within 1.2e-6 nats; on a real GPU, Dawn on an H100
 * under bench:rl-gpu, 640 rollouts had none either, log-probs within 2.6e-5 nats), while a cheater may move only
 * the tokens whose uniform falls within 1e-4 of a boundary: ~2e-4 of tokens, to a neighbouring token.
 */
export const CDF_BOUNDARY_TOL = 1e-4;

/** A rollout whose boundary-tolerated tokens exceed this fraction is refused: honest ones see ~2·tol. */
export const MAX_BOUNDARY_FRACTION = 0.05;

/**
 * |claimed − recomputed| log-probability allowed per token, nats. Backend noise is ≤ 1.6e-6 nats at these
 * sizes (JS f32 vs WASM; sampling.test.ts asserts < 1e-4), ≤ 2.6e-5 with WebGPU on a real GPU (bench:rl-gpu,
 * Dawn on an H100, the tiny preset: 640 rollouts, 210 fully checked, none refused); 1e-2 still catches any tampering that matters
 * to the update (a 1% shift of the importance ratio), and a policy 1 step of AdamW at lr 1e-5 away
 * already moves log-probs by ~0.04 nats.
 */
export const LOGPROB_TOL = 1e-2;

/** GRAIL: top-16 activations per position, K = 32 positions checked. */
export const SKETCH_TOP_K = 16;
export const SKETCH_POSITIONS = 32;
/** Log buckets: 8 per octave (each ~9% wide), so f32 noise of ~1e-5 relative crosses one rarely, by one. */
export const SKETCH_BUCKETS_PER_OCTAVE = 8;
/** Magnitudes below 2^-12 share the lowest bucket (LayerNorm outputs are O(1)). */
export const SKETCH_MIN_LOG2 = -12;
/** An entry matches when its bucket is within this many of the trainer's. */
export const SKETCH_BUCKET_TOL = 1;
/**
 * A claimed index must be within the trainer's top (k + slack): ties near the k-th magnitude may reorder
 * across backends. Measured: honest JS-f32 vs WASM never needs slack; a different model misses most.
 */
export const SKETCH_RANK_SLACK = 4;
/** Entries that may fail per checked position before it counts as a mismatch (an entry near a bucket edge). */
export const SKETCH_ENTRY_FAILS = 2;

/**
 * A rollout made with policy version v is used at trainer version v + lag for lag ≤ 2 with an importance
 * ratio (issue 22); lag ≥ 3 is refused, as Templar treats a peer more than 3 steps behind as out of sync.
 */
export const MAX_VERSION_LAG = 2;

/**
 * The warm-up stops at the first evaluation at or above the requester's target; one that lands more than
 * this far above it (accuracy on addition rises in a jump) goes back and evaluates more often (warmup.ts).
 */
export const WARMUP_OVERSHOOT = 0.1;

/** GRPO's clipping range (PPO's ε = 0.2) and the std floor that keeps an all-equal group's advantages 0. */
export const GRPO_CLIP_EPS = 0.2;
export const GRPO_STD_EPS = 1e-6;
