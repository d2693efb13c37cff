/**
 * Every tunable of the trust core, with why this value. Change a value here and
 * the bench (`npm run bench:trust`) is where to see what it costs or buys.
 */

/** Domain tags: every signed or hashed byte string starts with one, so a signature made for one purpose can never be replayed as another. */
export const DOMAIN = {
  /** v2 binds the network, the requester and the pairing session (signaling SPEC BIND1). */
  result: 'basilica-trust/result/v2',
  receipt: 'basilica-trust/receipt/v1',
  receiptLog: 'basilica-trust/receipt-log/v1',
  tensor: 'basilica-trust/tensor/v1',
} as const;

/** f32 unit roundoff (2^-24): the scale every float tolerance below is quoted against. */
export const F32_UNIT_ROUNDOFF = 2 ** -24;

/**
 * Same adapter class (same backend, vendor, architecture, precision) runs the
 * same kernels in the same order, so results are bit-identical except where a
 * kernel reduces with atomics. 1e-6 relative is ~16 ulps of f32: room for that
 * reordering, nothing more.
 */
export const SAME_CLASS_TOLERANCE = { rtol: 1e-6, atol: 1e-6 } as const;

/**
 * Across classes (WebGPU vs WASM, vendor A vs vendor B) summation order, fused
 * multiply-add and transcendental implementations differ. A length-K f32 dot
 * product typically drifts by ~sqrt(K)·u (≈5e-7 relative at K=4096); WGSL
 * allows exp/tanh several ulps and more near large arguments. 1e-4 relative
 * (plus 1e-5 of the tensor's scale for outputs that cancel to near zero) leaves
 * ~100× headroom over that drift for a few-layer network, while a wrong answer
 * (noise, stale or copied output) is off by O(1) of the scale.
 * The atol term is multiplied by the tensor's scale (see compare.ts), so it is
 * relative too.
 */
export const CROSS_CLASS_TOLERANCE = { rtol: 1e-4, atol: 1e-5 } as const;

/**
 * Either side computed in f16 (WebGPU `shader-f16`): u = 2^-11 ≈ 4.9e-4, so a
 * dot product of a few hundred terms drifts ~1e-2. Only used when a class
 * declares precision 'f16'.
 */
export const HALF_PRECISION_TOLERANCE = { rtol: 2e-2, atol: 2e-3 } as const;

/** Freivalds: honest f32 matmul error is at most ~K·u·(|A||B|)ᵢⱼ (Higham γ_K); twice that covers any summation order and FMA. */
export const FREIVALDS_TOLERANCE_PER_TERM = 2 * F32_UNIT_ROUNDOFF;

/** Default false-accept probability for Freivalds: 20 rounds, still O(20·n²) ≪ n³ for n ≥ 64. */
export const DEFAULT_FALSE_ACCEPT_PROBABILITY = 1e-6;

/** Replicas of one unit before the requester stops asking and re-executes it itself. BOINC's default max_total_results is of this order. */
export const DEFAULT_MAX_REPLICAS = 5;

/** Replicas that may be lost (tab closed) per unit before it is handed to the requester's own device. */
export const MAX_LOST_REPLICAS = 3;

/**
 * Adaptive verification: a key's first PROBATION_UNITS accepted results are all
 * checked, so a wrong result anywhere in a new key's first 20 units is caught
 * with certainty (the goal), not with high probability. 12 met it only
 * for adversaries that cheat early; 20 costs ~2 points more overhead
 * (bench/trust.ts: 8.8% overall with 4 honest providers over 1,000 units).
 */
export const PROBATION_UNITS = 20;

/**
 * Default check rate of a trusted key (adaptive) or of every unit (not adaptive).
 * Adaptive checks come one per block of 1/rate results of each key (29 at 3.5%,
 * sampling.ts), so any 57 results in a row of a trusted key hold a check.
 * A key that cheats on fraction f after earning trust is caught after ~1/(f·rate)
 * of its results; its unchecked units are re-run when it is. The former ramp
 * (probability halving every 5 clean results after probation) spent ~2 points of
 * overhead on results 21–45, where a cheater that picks its moment is no likelier;
 * moved to this rate they cover every trusted result (bench/trust.ts: 3% + ramp
 * caught the late cheater in 17/20 runs; 3.5% in blocks, no ramp: see SPEC.md).
 * 4% measured ~0.5 point more overhead, leaving too little margin under 10%.
 */
export const DEFAULT_SAMPLE_RATE = 0.035;

/** Wilson lower bound z for reputation scores (95% one-sided ≈ 1.645; 1.96 is the common two-sided choice). */
export const REPUTATION_WILSON_Z = 1.96;

/** A rejected result weighs at least this many clean ones (and at least the key's whole clean history) in the score: a caught wrong answer should sink a key, not dent it. */
export const REJECTION_WEIGHT = 50;

/** A network id: which deployment a receipt or result belongs to (signaling `--network`). */
export const NETWORK_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** A pairing session id: 16 random bytes, base64url, chosen by the server per pairing. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** Bounds for untrusted input (receipts, persisted records). */
export const LIMITS = {
  idChars: 128,
  maxFlops: 2 ** 53 - 1,
  maxDurationMs: 7 * 24 * 3600 * 1000,
  maxProviders: 100_000,
  maxCount: 2 ** 31,
} as const;
