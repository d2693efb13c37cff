/**
 * Test-only numerics: an MLP and a matmul computed the way different backends
 * would (summation order, FMA or not, f32 or f64 accumulation, tanh formula),
 * and an adversarial provider mode. Imported by tests and bench/trust.ts only.
 */
import { nextGaussian, nextInt, type RandomSource } from '../random';

export type SumOrder = 'forward' | 'reverse' | 'pairwise' | 'blocked4' | 'blocked16';

export interface BackendVariant {
  name: string;
  adapterClass: string;
  order: SumOrder;
  /** Fused multiply-add: the product is not rounded before the add. */
  fma: boolean;
  /** Accumulator precision (WASM SIMD kernels sometimes widen). */
  accumulate: 'f32' | 'f64';
  /** tanh via exp (as some shader libraries do) instead of Math.tanh. */
  tanhViaExp: boolean;
}

export const BACKEND_VARIANTS: readonly BackendVariant[] = [
  {
    name: 'wasm-simd',
    adapterClass: 'wasm/unknown/unknown/f32',
    order: 'blocked4',
    fma: false,
    accumulate: 'f32',
    tanhViaExp: false,
  },
  {
    name: 'wasm-relaxed',
    adapterClass: 'wasm/unknown/unknown/f32',
    order: 'blocked4',
    fma: true,
    accumulate: 'f32',
    tanhViaExp: false,
  },
  {
    name: 'webgpu-nvidia',
    adapterClass: 'webgpu/nvidia/ampere/f32',
    order: 'blocked16',
    fma: true,
    accumulate: 'f32',
    tanhViaExp: true,
  },
  {
    name: 'webgpu-amd',
    adapterClass: 'webgpu/amd/rdna-3/f32',
    order: 'pairwise',
    fma: true,
    accumulate: 'f32',
    tanhViaExp: true,
  },
  {
    name: 'webgpu-swiftshader',
    adapterClass: 'webgpu/google/swiftshader/f32',
    order: 'forward',
    fma: false,
    accumulate: 'f32',
    tanhViaExp: false,
  },
  {
    name: 'cpu-reference',
    adapterClass: 'cpu/reference/f64/f32',
    order: 'reverse',
    fma: false,
    accumulate: 'f64',
    tanhViaExp: false,
  },
];

const f = Math.fround;

/** Σ terms[i] in the variant's order and precision; terms are already-rounded products (or exact ones when fma). */
function reduce(products: Float64Array, v: BackendVariant): number {
  const round = v.accumulate === 'f32' ? f : (x: number) => x;
  const n = products.length;
  const addRange = (lo: number, hi: number, reverse: boolean): number => {
    let acc = 0;
    if (reverse) for (let i = hi - 1; i >= lo; i--) acc = round(acc + products[i]!);
    else for (let i = lo; i < hi; i++) acc = round(acc + products[i]!);
    return acc;
  };
  switch (v.order) {
    case 'forward':
      return addRange(0, n, false);
    case 'reverse':
      return addRange(0, n, true);
    case 'pairwise': {
      const rec = (lo: number, hi: number): number =>
        hi - lo <= 8 ? addRange(lo, hi, false) : round(rec(lo, (lo + hi) >> 1) + rec((lo + hi) >> 1, hi));
      return rec(0, n);
    }
    case 'blocked4':
    case 'blocked16': {
      const lanes = v.order === 'blocked4' ? 4 : 16;
      const partial = new Array<number>(lanes).fill(0);
      for (let i = 0; i < n; i++) partial[i % lanes] = round(partial[i % lanes]! + products[i]!);
      let acc = 0;
      for (const p of partial) acc = round(acc + p);
      return acc;
    }
  }
}

/** One dot product as backend `v` computes it (FMA: exact product, one rounding per add). */
export function dot(
  a: Float32Array,
  aOff: number,
  aStride: number,
  b: Float32Array,
  bOff: number,
  bStride: number,
  k: number,
  v: BackendVariant,
  scratch = new Float64Array(k),
): number {
  for (let i = 0; i < k; i++) {
    const p = a[aOff + i * aStride]! * b[bOff + i * bStride]!; // exact in f64 for f32 inputs
    scratch[i] = v.fma || v.accumulate === 'f64' ? p : f(p);
  }
  return f(reduce(scratch.subarray(0, k), v));
}

/** C = A·B (row-major n×k by k×m), f32 output. */
export function matmul(
  a: Float32Array,
  b: Float32Array,
  n: number,
  k: number,
  m: number,
  v: BackendVariant,
): Float32Array {
  const out = new Float32Array(n * m);
  const scratch = new Float64Array(k);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[i * m + j] = dot(a, i * k, 1, b, j, m, k, v, scratch);
  return out;
}

export interface Mlp {
  sizes: number[];
  weights: Float32Array[]; // layer l: sizes[l] × sizes[l+1], row-major
  biases: Float32Array[];
}

export function randomMatrix(rng: RandomSource, length: number, scale = 1): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = nextGaussian(rng) * scale;
  return out;
}

export function makeMlp(rng: RandomSource, sizes: number[]): Mlp {
  const weights: Float32Array[] = [];
  const biases: Float32Array[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    weights.push(randomMatrix(rng, sizes[l]! * sizes[l + 1]!, 1 / Math.sqrt(sizes[l]!)));
    biases.push(randomMatrix(rng, sizes[l + 1]!, 0.1));
  }
  return { sizes, weights, biases };
}

function tanh(x: number, v: BackendVariant): number {
  if (!v.tanhViaExp) return f(Math.tanh(x));
  if (Math.abs(x) > 9) return Math.sign(x);
  const e = f(Math.exp(f(2 * x)));
  return f(f(e - 1) / f(e + 1));
}

/** Forward pass over a batch (rows × sizes[0]); tanh between layers, linear output. */
export function mlpForward(mlp: Mlp, input: Float32Array, rows: number, v: BackendVariant): Float32Array {
  let x = input;
  for (let l = 0; l < mlp.weights.length; l++) {
    const k = mlp.sizes[l]!;
    const m = mlp.sizes[l + 1]!;
    const y = matmul(x, mlp.weights[l]!, rows, k, m, v);
    const last = l === mlp.weights.length - 1;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < m; j++) {
        const z = f(y[i * m + j]! + mlp.biases[l]![j]!);
        y[i * m + j] = last ? z : tanh(z, v);
      }
    }
    x = y;
  }
  return x;
}

export type Corruption = 'noise' | 'perturb' | 'stale' | 'copy';
export const CORRUPTIONS: readonly Corruption[] = ['noise', 'perturb', 'stale', 'copy'];

export interface CorruptionContext {
  rng: RandomSource;
  /** This adversary's output for an earlier unit (stale), if any. */
  previousOwn?: Float32Array;
  /** Another unit's correct output (copy), if any. */
  otherUnit?: Float32Array;
}

/**
 * Adversarial provider mode (tests and bench only). 'perturb' is the subtle
 * one: ~1% of entries moved by 1e-3 of the tensor's scale — 100× the
 * cross-class tolerance, far below anything a glance would notice.
 */
export function corrupt(honest: Float32Array, how: Corruption, ctx: CorruptionContext): Float32Array {
  let scale = 0;
  for (const x of honest) scale = Math.max(scale, Math.abs(x));
  switch (how) {
    case 'noise':
      return randomMatrix(ctx.rng, honest.length, scale / 2 || 1);
    case 'perturb': {
      const out = honest.slice();
      const count = Math.max(1, Math.floor(out.length / 100));
      for (let c = 0; c < count; c++) {
        const i = nextInt(ctx.rng, out.length);
        out[i] = f(out[i]! + (nextInt(ctx.rng, 2) ? 1 : -1) * 1e-3 * (scale || 1));
      }
      return out;
    }
    case 'stale':
      return (ctx.previousOwn ?? ctx.otherUnit ?? randomMatrix(ctx.rng, honest.length, scale || 1)).slice();
    case 'copy':
      return (ctx.otherUnit ?? ctx.previousOwn ?? randomMatrix(ctx.rng, honest.length, scale || 1)).slice();
  }
}
