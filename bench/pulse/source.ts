/**
 * Source entropy of an Adam-step corpus case: the information content of the
 * next model given the base under the model that generated it (corpus.ts),
 * positions and values together. No code that does not know the seed can
 * average less, so unlike the plug-in bound (bound.ts) it cannot be biased
 * low by deltas that are mostly unique (f32), and where deltas repeat
 * (bf16, f16) it should agree with the plug-in bound.
 *
 * The generator: a master weight w (f32) is published rounded to the dtype;
 * with probability `stepFraction` it moves by s = lr · (u + weightDecay · w),
 * u = tanh(2g), g ~ N(0, 1), and the result is published rounded again. The
 * receiver knows the published base value b. For f32, w is b. For bf16 and
 * f16, w is taken as uniform over b's rounding cell (the master's density
 * barely changes across a cell: by under 1% for the corpus's matrices, by up
 * to ~40% for its norms near 1.0, which hold 0.1% of the values), and
 * weightDecay · w as weightDecay · b.
 *
 * P(next = v | b) = (1 − stepFraction)·[v = b] + stepFraction · P(w − s lands in v's cell),
 * integrated over g (where the integrands are smooth: u-space has a spike of
 * density at ±1) by composite Simpson's rule.
 */

import { DTYPES, type DType, type Model } from '@shared/pulse';
import { bitsToF32 } from '@shared/pulse/testing';
import { ordered, unordered } from './bound';

export interface StepModel {
  readonly lr: number;
  readonly weightDecay: number;
  /** Probability that a value takes the step at all (1 for a dense Adam step). */
  readonly stepFraction: number;
}

/** Simpson intervals per integral: P(v | b) over all v sums to 1 within 1e-6 in source.test.ts's cases. */
const SIMPSON = 64;
/** g beyond ±G_MAX has probability < 1e-15. */
const G_MAX = 8.2;

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const phi = (g: number): number => INV_SQRT_2PI * Math.exp(-0.5 * g * g);

/** erfc, fractional error < 1.2e-7 (Numerical Recipes' erfcc). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(g1 < g < g2) for g ~ N(0, 1). */
function normalMass(g1: number, g2: number): number {
  if (g2 <= g1) return 0;
  // Narrow intervals by quadrature: a difference of two CDFs would lose the digits that matter.
  if (g2 - g1 < 1) return simpson(phi, g1, g2);
  return 0.5 * (erfc(g1 / Math.SQRT2) - erfc(g2 / Math.SQRT2));
}

function simpson(f: (g: number) => number, a: number, b: number): number {
  const h = (b - a) / SIMPSON;
  let sum = f(a) + f(b);
  for (let k = 1; k < SIMPSON; k++) sum += (k % 2 === 1 ? 4 : 2) * f(a + k * h);
  return (sum * h) / 3;
}

/** The g at which u = tanh(2g) = t, clamped to ±G_MAX (u outside (−1, 1) has no mass). */
function gOf(t: number): number {
  if (t <= -1) return -G_MAX;
  if (t >= 1) return G_MAX;
  return Math.max(-G_MAX, Math.min(G_MAX, 0.5 * Math.atanh(t)));
}

/** The value of a bit pattern of `dtype`. */
export function valueOf(dtype: DType, bits: number): number {
  if (dtype === 'f32') return bitsToF32(bits);
  if (dtype === 'bf16') return bitsToF32(bits << 16);
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >>> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}

/** The interval of reals that round to `bits` (halfway to each neighbour). */
export function cellOf(dtype: DType, bits: number): [number, number] {
  const width = DTYPES[dtype].width;
  const o = ordered(bits, width);
  const v = valueOf(dtype, bits);
  const below = valueOf(dtype, unordered(o - 1, width));
  const above = valueOf(dtype, unordered(o + 1, width));
  return [(below + v) / 2, (v + above) / 2];
}

/**
 * E over g of max(0, min(hiB, hiV + s) − max(loB, loV + s)) for s = lr · (tanh(2g) + c): the length of b's cell that a step moves into v's cell.
 * Piecewise linear in s between its four breakpoints; each piece is integrated over the g that give it.
 */
function meanOverlap(loB: number, hiB: number, loV: number, hiV: number, lr: number, c: number): number {
  const breaks = [loB - hiV, loB - loV, hiB - hiV, hiB - loV].sort((x, y) => x - y);
  const overlap = (s: number): number => Math.max(0, Math.min(hiB, hiV + s) - Math.max(loB, loV + s));
  let total = 0;
  for (let k = 0; k < 3; k++) {
    const g1 = gOf(breaks[k]! / lr - c);
    const g2 = gOf(breaks[k + 1]! / lr - c);
    if (g2 > g1) total += simpson((g) => overlap(lr * (Math.tanh(2 * g) + c)) * phi(g), g1, g2);
  }
  return total;
}

/** P(next = v | base = b) under the step model. */
export function outcomeProbability(dtype: DType, b: number, v: number, step: StepModel): number {
  const { lr, weightDecay, stepFraction } = step;
  const stay = v === b ? 1 - stepFraction : 0;
  const [loV, hiV] = cellOf(dtype, v);
  const wb = valueOf(dtype, b);
  const c = weightDecay * wb;
  if (dtype === 'f32') {
    // w = b exactly: the step lands in v's cell for u in ((w − hiV)/lr − c, (w − loV)/lr − c).
    return stay + stepFraction * normalMass(gOf((wb - hiV) / lr - c), gOf((wb - loV) / lr - c));
  }
  const [loB, hiB] = cellOf(dtype, b);
  return stay + (stepFraction * meanOverlap(loB, hiB, loV, hiV, lr, c)) / (hiB - loB);
}

/** E|u + c| on a grid of c, for the common case of a value that stays in its cell whatever u is (then P(stay) = 1 − lr·E|u + c| / width). */
const C_GRID = 4000;
const C_MAX = 0.5;
let meanAbsTable: Float64Array | null = null;

function meanAbs(c: number): number {
  meanAbsTable ??= Float64Array.from({ length: C_GRID + 1 }, (_, k) => {
    const ck = -C_MAX + (2 * C_MAX * k) / C_GRID;
    const g0 = gOf(-ck);
    return (
      simpson((g) => -(Math.tanh(2 * g) + ck) * phi(g), -G_MAX, g0) +
      simpson((g) => (Math.tanh(2 * g) + ck) * phi(g), g0, G_MAX)
    );
  });
  const x = ((c + C_MAX) / (2 * C_MAX)) * C_GRID;
  const k = Math.min(C_GRID - 1, Math.floor(x));
  return meanAbsTable[k]! + (x - k) * (meanAbsTable[k + 1]! - meanAbsTable[k]!);
}

/** −log2 P(next | base) summed over every position of every tensor, in bytes (rounded up). Tensors must match in name order, dtype and size. */
export function sourceBoundBytes(base: Model, next: Model, step: StepModel): number {
  let bits = 0;
  next.tensors.forEach((t, ti) => {
    const old = base.tensors[ti]!.data;
    const dtype = t.dtype;
    for (let i = 0; i < t.data.length; i++) {
      const b = old[i]!;
      const v = t.data[i]!;
      let p: number;
      if (v === b && dtype !== 'f32') {
        const [lo, hi] = cellOf(dtype, b);
        const c = step.weightDecay * valueOf(dtype, b);
        p =
          step.lr * (1 + Math.abs(c)) <= hi - lo && Math.abs(c) < C_MAX
            ? 1 - (step.stepFraction * step.lr * meanAbs(c)) / (hi - lo)
            : outcomeProbability(dtype, b, v, step);
      } else p = outcomeProbability(dtype, b, v, step);
      if (!(p > 0))
        throw new Error(
          `source bound: ${t.name}[${i}] ${b.toString(16)} → ${v.toString(16)} has no probability under the step model`,
        );
      bits -= Math.log2(p);
    }
  });
  return Math.ceil(bits / 8);
}
