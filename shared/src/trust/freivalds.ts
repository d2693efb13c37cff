/**
 * Freivalds' check that C = A·B in O(rounds·n²) instead of recomputing O(n³).
 *
 * Vectors are random signs r ∈ {−1,+1}ᵖ, not {0,1}ᵖ: flipping one rᵢ moves
 * (Cr − ABr)ᵢ by 2·Eᵢⱼ, so if any |Eᵢⱼ| exceeds the row's tolerance at most one
 * of the two signs can hide it: each round misses with probability ≤ 1/2, and
 * rounds = ⌈log2(1/p)⌉ gives false-accept ≤ p. With {0,1} the same argument
 * needs |Eᵢⱼ| > 2·tolerance. Random *float* vectors were not chosen: their miss
 * probability depends on how large the error is next to the tolerance, so there
 * is no clean bound the requester can set, and ±1 entries multiply exactly.
 *
 * Floats: honest f32 C differs from the exact product by at most ~K·u·(|A||B|)ᵢⱼ
 * (any summation order, with or without FMA). So row i's tolerance is
 * perTerm·K·(|A|·(|B|·1))ᵢ, computed once in O(n²); the checks themselves are
 * done in f64, whose own rounding is ~10⁹× smaller. An error below that line is
 * indistinguishable from honest rounding and is, by definition, accepted.
 */
import { FREIVALDS_TOLERANCE_PER_TERM } from './constants';
import { TrustArgumentError } from './errors';
import type { RandomSource } from './random';

/** Row-major dense matrix. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array | Float64Array;
}

export interface FreivaldsOptions {
  /** Probability that a result with an out-of-tolerance entry is accepted anyway. */
  falseAcceptProbability: number;
  rng: RandomSource;
  /** Tolerance per inner-dimension term, in units of (|A||B|)ᵢⱼ. Default 2·u_f32. */
  tolerancePerTerm?: number;
}

export type FreivaldsResult =
  | { ok: true; rounds: number; flops: number }
  | { ok: false; rounds: number; flops: number; failedRound: number; row: number; residual: number; tolerance: number };

/** ⌈log2(1/p)⌉ rounds, at least 1. */
export function freivaldsRounds(falseAcceptProbability: number): number {
  const p = falseAcceptProbability;
  if (!(p > 0 && p < 1)) throw new TrustArgumentError(`falseAcceptProbability must be in (0, 1), got ${p}`);
  return Math.max(1, Math.ceil(Math.log2(1 / p) - 1e-12));
}

/** FLOPs the check spends (to compare with 2·n·k·m for the product itself). */
export function freivaldsFlops(n: number, k: number, m: number, rounds: number): number {
  return 2 * (k * m + n * k) + rounds * 2 * (k * m + n * k + n * m);
}

function matVec(m: Matrix, x: Float64Array, abs: boolean): Float64Array {
  const out = new Float64Array(m.rows);
  const d = m.data;
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    const base = i * m.cols;
    if (abs) for (let j = 0; j < m.cols; j++) s += Math.abs(d[base + j]!) * x[j]!;
    else for (let j = 0; j < m.cols; j++) s += d[base + j]! * x[j]!;
    out[i] = s;
  }
  return out;
}

export function freivaldsCheck(a: Matrix, b: Matrix, c: Matrix, options: FreivaldsOptions): FreivaldsResult {
  if (a.cols !== b.rows || c.rows !== a.rows || c.cols !== b.cols) {
    throw new TrustArgumentError(
      `shapes do not chain: A ${a.rows}×${a.cols}, B ${b.rows}×${b.cols}, C ${c.rows}×${c.cols}`,
    );
  }
  for (const m of [a, b, c])
    if (m.data.length !== m.rows * m.cols) throw new TrustArgumentError('matrix data length ≠ rows·cols');
  const rounds = freivaldsRounds(options.falseAcceptProbability);
  const n = a.rows;
  const k = a.cols;
  const m = b.cols;
  const flops = freivaldsFlops(n, k, m, rounds);
  const perTerm = options.tolerancePerTerm ?? FREIVALDS_TOLERANCE_PER_TERM;

  // Bound per row: perTerm·K·(|A|(|B|·1))ᵢ — the honest worst case summed over the row.
  const ones = new Float64Array(m).fill(1);
  const bound = matVec(a, matVec(b, ones, true), true);
  const tolerance = new Float64Array(n);
  for (let i = 0; i < n; i++) tolerance[i] = perTerm * k * bound[i]! + Number.MIN_VALUE;

  const r = new Float64Array(m);
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < m; j++) r[j] = (options.rng.nextUint32() & 1) === 0 ? 1 : -1;
    const abr = matVec(a, matVec(b, r, false), false);
    const cr = matVec(c, r, false);
    for (let i = 0; i < n; i++) {
      const residual = Math.abs(cr[i]! - abr[i]!);
      // NaN residual (NaN or Inf in C) fails too: !(x <= tol).
      if (!(residual <= tolerance[i]!))
        return { ok: false, rounds, flops, failedRound: round, row: i, residual, tolerance: tolerance[i]! };
    }
  }
  return { ok: true, rounds, flops };
}
