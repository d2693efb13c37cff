/**
 * Seeded sampling that the trainer can replay. A provider's seed for one
 * completion is a hash of (round, the round's public nonce, its key, prompt
 * index, sample index), so it cannot pick one; the j-th completion token
 * takes the j-th uniform of mulberry32(seed) and is the inverse CDF of
 * softmax(logits / τ) at it (ids in order, cumulative sums in float64).
 * Replaying recomputes the distribution from the trainer's own forward pass
 * and asks whether the claimed token is the one that uniform selects, with
 * CDF_BOUNDARY_TOL of slack for a uniform that falls at a boundary, where
 * f32 noise between backends may flip the choice to the neighbouring token.
 */
import { mulberry32 } from '../../random';
import { CDF_BOUNDARY_TOL } from './constants';
import { hash32 } from './hash';

export interface SeedInput {
  readonly round: number;
  /** Public randomness fixed when the round opens (the provider learns it with its assignment). */
  readonly roundNonce: string;
  readonly providerKey: string;
  readonly promptIndex: number;
  readonly sample: number;
}

export function rolloutSeed(s: SeedInput): number {
  return hash32(['grail-seed', s.round, s.roundNonce, s.providerKey, s.promptIndex, s.sample]);
}

/** The first n uniforms in [0, 1) of a seed: one per completion token. */
export function uniforms(seed: number, n: number): Float64Array {
  const u = mulberry32(seed);
  return Float64Array.from({ length: n }, () => u());
}

/** softmax(row / τ) in float64 (max-subtracted). */
export function tempered(logits: ArrayLike<number>, temperature: number, at = 0, V = logits.length - at): Float64Array {
  if (!(temperature > 0)) throw new RangeError(`temperature must be positive, got ${temperature}`);
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[at + i]!);
  const p = new Float64Array(V);
  let sum = 0;
  for (let i = 0; i < V; i++) {
    p[i] = Math.exp((logits[at + i]! - max) / temperature);
    sum += p[i]!;
  }
  for (let i = 0; i < V; i++) p[i] = p[i]! / sum;
  return p;
}

/** The smallest id whose cumulative probability exceeds u (the last id with mass if rounding leaves u above 1). */
export function inverseCdf(p: ArrayLike<number>, u: number): number {
  let c = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i]! <= 0) continue;
    c += p[i]!;
    last = i;
    if (u < c) return i;
  }
  return last;
}

export type TokenReplay = 'exact' | 'boundary' | 'mismatch';

/** Whether `token` is what u selects under p: exactly, or only within `tol` of its interval's ends. */
export function replayToken(p: ArrayLike<number>, u: number, token: number, tol = CDF_BOUNDARY_TOL): TokenReplay {
  if (!(token >= 0 && token < p.length)) return 'mismatch';
  if (inverseCdf(p, u) === token) return 'exact';
  let below = 0;
  for (let i = 0; i < token; i++) below += p[i]!;
  const above = below + p[token]!;
  return u >= below - tol && u < above + tol ? 'boundary' : 'mismatch';
}

export interface SamplingReplay {
  /** Positions (within the completion) whose token the seed does not give. */
  readonly mismatches: readonly number[];
  /** Tokens accepted only through the boundary slack. */
  readonly boundary: number;
  /** Largest |cumulative probability − u| distance by which a boundary token was let through (0 if none). */
  readonly worstBoundaryGap: number;
}

/**
 * Replays a completion: `logits` holds the trainer's rows for the positions that predict each completion
 * token (row j predicts completion[j]), V wide.
 */
export function replaySampling(
  logits: ArrayLike<number>,
  V: number,
  temperature: number,
  seed: number,
  completion: ArrayLike<number>,
  tol = CDF_BOUNDARY_TOL,
): SamplingReplay {
  const us = uniforms(seed, completion.length);
  const mismatches: number[] = [];
  let boundary = 0;
  let worst = 0;
  for (let j = 0; j < completion.length; j++) {
    const p = tempered(logits, temperature, j * V, V);
    const r = replayToken(p, us[j]!, completion[j]!, tol);
    if (r === 'mismatch') mismatches.push(j);
    else if (r === 'boundary') {
      boundary++;
      let below = 0;
      for (let i = 0; i < completion[j]!; i++) below += p[i]!;
      const above = below + p[completion[j]!]!;
      worst = Math.max(worst, us[j]! < below ? below - us[j]! : us[j]! - above);
    }
  }
  return { mismatches, boundary, worstBoundaryGap: worst };
}
