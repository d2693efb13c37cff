/** Helpers shared by the PULSE tests and the bench: seeded randomness and model builders. Not used by the codec. */

import type { DType, Model, Tensor, TensorData } from './types';
import { allocData } from './types';
import { mulberry32 } from '../random';

/** Seeded uniform [0, 1): the project's mulberry32, under the name the PULSE tests and bench use. */
export const seededRandom: (seed: number) => () => number = mulberry32;

export function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

export function bitsToF32(bits: number): number {
  u32[0] = bits;
  return f32[0]!;
}

/** Round-to-nearest-even f32 → bf16, NaNs kept quiet: what training frameworks do. */
export function bf16Bits(x: number): number {
  const b = f32Bits(x);
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f32 → f16 bits, round to nearest even, with subnormals and overflow to inf. */
export function f16Bits(x: number): number {
  const b = f32Bits(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}

export function encodeValue(dtype: DType, x: number): number {
  return dtype === 'bf16' ? bf16Bits(x) : dtype === 'f16' ? f16Bits(x) : f32Bits(x);
}

export function tensor(name: string, dtype: DType, shape: number[], fill: (i: number) => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data: TensorData = allocData(dtype, n);
  for (let i = 0; i < n; i++) data[i] = fill(i);
  return { name, dtype, shape, data };
}

/** A small model of normally distributed weights (σ = 0.02) and a norm near 1.0. */
export function randomModel(seed: number, dtype: DType = 'bf16', rows = 16, cols = 32): Model {
  const rand = seededRandom(seed);
  return {
    tensors: [
      tensor('embed', dtype, [rows, cols], () => encodeValue(dtype, gaussian(rand) * 0.02)),
      tensor('norm', dtype, [cols], () => encodeValue(dtype, 1 + gaussian(rand) * 0.01)),
    ],
  };
}

/** Copy of a model where about `fraction` of values moved by ±1..3 ulp (and a few flip sign). */
export function perturb(model: Model, seed: number, fraction: number): Model {
  const rand = seededRandom(seed);
  return {
    tensors: model.tensors.map((t) => {
      const data = t.data.slice();
      const mask = t.dtype === 'f32' ? 0xffffffff : 0xffff;
      const sign = t.dtype === 'f32' ? 0x80000000 : 0x8000;
      for (let i = 0; i < data.length; i++) {
        if (rand() >= fraction) continue;
        const r = rand();
        const step = 1 + Math.floor(rand() * 3);
        data[i] = r < 0.05 ? (data[i]! ^ sign) >>> 0 : ((data[i]! + (r < 0.5 ? step : -step)) & mask) >>> 0;
      }
      return { ...t, data };
    }),
  };
}

export function modelsBitEqual(a: Model, b: Model): boolean {
  if (a.tensors.length !== b.tensors.length) return false;
  return a.tensors.every((t, i) => {
    const u = b.tensors[i]!;
    if (
      t.name !== u.name ||
      t.dtype !== u.dtype ||
      t.shape.join() !== u.shape.join() ||
      t.data.length !== u.data.length
    )
      return false;
    for (let j = 0; j < t.data.length; j++) if (t.data[j] !== u.data[j]) return false;
    return true;
  });
}

/** Deep copy, to check later that a model was not mutated. */
export function cloneModel(m: Model): Model {
  return { tensors: m.tensors.map((t) => ({ ...t, shape: [...t.shape], data: t.data.slice() })) };
}

/**
 * An Adam-like step on f32 weights: `fraction` of the values move by about
 * `lr` in value space (lr · tanh(2g), g Gaussian), so their ulp deltas grow
 * as their exponents shrink — the case the scaled kind is for.
 */
export function adamStepF32(model: Model, seed: number, fraction: number, lr = 1e-4): Model {
  const rand = seededRandom(seed);
  return {
    tensors: model.tensors.map((t) => {
      if (t.dtype !== 'f32') return t;
      const data = t.data.slice();
      for (let i = 0; i < data.length; i++) {
        if (rand() >= fraction) continue;
        data[i] = f32Bits(bitsToF32(data[i]!) - lr * Math.tanh(2 * gaussian(rand)));
      }
      return { ...t, data };
    }),
  };
}
