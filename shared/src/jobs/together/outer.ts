/**
 * The outer step and what a version is. A version is the f32 master weights plus the outer optimizer's
 * state (the momentum buffer when momentum is on), as a PULSE model, named by its content hash. The
 * outer step is plain f32/f64 arithmetic in a fixed order (contributions sorted by the caller), so every
 * peer that applies the same contributions with the same weights gets the same bits.
 */
import { hashModel, hashToHex } from '../../pulse/hash';
import type { Model } from '../../pulse/types';
import { type Contribution, forEachValue } from './compress';
import { TogetherError } from './errors';

export interface OuterOptions {
  /** Outer learning rate (SparseLoCo's SGD; 1 with plain averaging moves weights to the mean end point). */
  readonly lr: number;
  /** Nesterov momentum (DiLoCo: 0.9); 0 is SGD, SparseLoCo's default. */
  readonly momentum: number;
}

export const OUTER_DEFAULTS: OuterOptions = { lr: 1, momentum: 0 };

/** The largest outer learning rate a round takes. */
export const MAX_OUTER_LR = 10;

export function validateOuter(o: OuterOptions): void {
  if (!(o.lr > 0 && o.lr <= MAX_OUTER_LR))
    throw new TogetherError('config', `outer learning rate must be in (0, ${MAX_OUTER_LR}], not ${o.lr}`);
  if (!(o.momentum >= 0 && o.momentum < 1))
    throw new TogetherError('config', `outer momentum must be in [0, 1), not ${o.momentum}`);
}

export interface Version {
  readonly round: number;
  readonly params: Float32Array;
  /** Present when the outer optimizer has momentum. */
  readonly momentum: Float32Array | null;
  /** 32 hex digits. */
  readonly hash: string;
}

export function versionModel(params: Float32Array, momentum: Float32Array | null): Model {
  const f32 = (name: string, a: Float32Array) => ({
    name,
    dtype: 'f32' as const,
    shape: [a.length],
    data: new Uint32Array(a.buffer, a.byteOffset, a.length),
  });
  return { tensors: momentum ? [f32('params', params), f32('momentum', momentum)] : [f32('params', params)] };
}

export async function versionHash(params: Float32Array, momentum: Float32Array | null): Promise<string> {
  return hashToHex(await hashModel(versionModel(params, momentum)));
}

export async function makeVersion(
  round: number,
  params: Float32Array,
  momentum: Float32Array | null,
): Promise<Version> {
  return { round, params, momentum, hash: await versionHash(params, momentum) };
}

/** One accepted contribution and its weight in the average. */
export interface Weighted {
  readonly contribution: Contribution;
  readonly weight: number;
}

/**
 * The outer step from `base` with the accepted contributions (in the caller's canonical order): the
 * weighted mean g of the decompressed pseudo-gradients, then θ ← θ − lr·g (SGD), or with momentum μ
 * m ← μ·m + g, θ ← θ − lr·(g + μ·m) (Nesterov). No contributions leave the version as it is.
 */
export async function outerStep(base: Version, accepted: readonly Weighted[], options: OuterOptions): Promise<Version> {
  const stepped = outerParams(base, accepted, options);
  if (!stepped) return { ...base, round: base.round + 1 };
  return makeVersion(base.round + 1, stepped.params, stepped.momentum);
}

/** outerStep's weights without naming them (no hash): null when no contribution counts. */
export function outerParams(
  base: Version,
  accepted: readonly Weighted[],
  options: OuterOptions,
): { params: Float32Array; momentum: Float32Array | null } | null {
  validateOuter(options);
  // The patch carries both settings as f32; rounding them here makes the sender's step the receiver's.
  const lr = Math.fround(options.lr);
  const mu = Math.fround(options.momentum);
  const n = base.params.length;
  const total = accepted.reduce((s, a) => s + a.weight, 0);
  if (accepted.length === 0 || !(total > 0)) return null;
  const g = new Float64Array(n);
  for (const { contribution, weight } of accepted) {
    if (contribution.n !== n) throw new TogetherError('round', 'a contribution does not match the model size');
    const share = weight / total;
    forEachValue(contribution, (p, v) => {
      g[p] = g[p]! + share * v;
    });
  }
  const params = base.params.slice();
  let momentum: Float32Array | null = null;
  if (mu > 0) {
    momentum = base.momentum ? base.momentum.slice() : new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const gi = Math.fround(g[i]!);
      const m = Math.fround(mu * momentum[i]! + gi);
      momentum[i] = m;
      params[i] = params[i]! - lr * (gi + mu * m);
    }
  } else {
    for (let i = 0; i < n; i++) if (g[i] !== 0) params[i] = params[i]! - lr * Math.fround(g[i]!);
  }
  return { params, momentum };
}
