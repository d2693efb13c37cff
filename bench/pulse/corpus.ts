/**
 * Seeded corpus for bench:pulse: transformer-shaped weights (embeddings,
 * attention and MLP matrices, norms near 1.0) held as f32 master weights and
 * published in bf16/f16/f32, updated by an Adam-like step whose learning rate
 * is calibrated so that a target fraction of the published values change.
 */

import { encodeValue, gaussian, seededRandom } from '@shared/pulse/testing';
import { allocData, type DType, type Model, type Tensor } from '@shared/pulse';
import type { StepModel } from './source';

export interface CorpusCase {
  readonly name: string;
  readonly targetFraction: number;
  readonly base: Model;
  readonly next: Model;
  /** How next was drawn from base, for the source bound (source.ts); absent for the worst cases. */
  readonly step?: StepModel;
}

interface MasterTensor {
  readonly name: string;
  readonly shape: number[];
  readonly w: Float32Array;
  /** Adam's normalised step direction m̂/(√v̂+ε) for this step: mostly near ±1, some small. */
  readonly u: Float32Array;
}

export interface ModelSize {
  readonly vocab: number;
  readonly dim: number;
  readonly layers: number;
}

export const QUICK_SIZE: ModelSize = { vocab: 2048, dim: 128, layers: 2 };
export const FULL_SIZE: ModelSize = { vocab: 8192, dim: 256, layers: 4 };

function masterModel(size: ModelSize, seed: number): MasterTensor[] {
  const rand = seededRandom(seed);
  const { vocab, dim, layers } = size;
  const shapes: [string, number[], 'weight' | 'norm'][] = [['embed.weight', [vocab, dim], 'weight']];
  for (let l = 0; l < layers; l++) {
    shapes.push([`layers.${l}.attn_norm`, [dim], 'norm']);
    for (const p of ['q', 'k', 'v', 'o']) shapes.push([`layers.${l}.attn.${p}`, [dim, dim], 'weight']);
    shapes.push([`layers.${l}.mlp_norm`, [dim], 'norm']);
    shapes.push([`layers.${l}.mlp.up`, [4 * dim, dim], 'weight']);
    shapes.push([`layers.${l}.mlp.down`, [dim, 4 * dim], 'weight']);
  }
  shapes.push(['final_norm', [dim], 'norm']);
  return shapes.map(([name, shape, kind]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const w = new Float32Array(n);
    const u = new Float32Array(n);
    const scale = kind === 'norm' ? 0.02 : 0.02 * (0.5 + rand());
    for (let i = 0; i < n; i++) {
      w[i] = kind === 'norm' ? 1 + gaussian(rand) * scale : gaussian(rand) * scale;
      u[i] = Math.tanh(2 * gaussian(rand));
    }
    return { name, shape, w, u };
  });
}

function publish(master: readonly MasterTensor[], dtype: DType, step: (t: MasterTensor, i: number) => number): Model {
  return {
    tensors: master.map((t): Tensor => {
      const data = allocData(dtype, t.w.length);
      for (let i = 0; i < data.length; i++) data[i] = encodeValue(dtype, step(t, i));
      return { name: t.name, dtype, shape: t.shape, data };
    }),
  };
}

const WEIGHT_DECAY = 0.1;

function adamStep(lr: number) {
  return (t: MasterTensor, i: number): number => t.w[i]! - lr * (t.u[i]! + WEIGHT_DECAY * t.w[i]!);
}

/** Fraction of published values an Adam step with this lr changes, on a sample. */
function changedFraction(master: readonly MasterTensor[], dtype: DType, lr: number, stride: number): number {
  const step = adamStep(lr);
  let changed = 0;
  let total = 0;
  for (const t of master) {
    for (let i = 0; i < t.w.length; i += stride) {
      total++;
      if (encodeValue(dtype, t.w[i]!) !== encodeValue(dtype, step(t, i))) changed++;
    }
  }
  return changed / total;
}

/** Bisection on log lr until the sampled changed fraction is within 2% of the target. */
function calibrate(master: readonly MasterTensor[], dtype: DType, target: number): number {
  let lo = 1e-9;
  let hi = 1;
  for (let iter = 0; iter < 40; iter++) {
    const mid = Math.sqrt(lo * hi);
    const f = changedFraction(master, dtype, mid, 7);
    if (Math.abs(f - target) < target * 0.02) return mid;
    if (f < target) lo = mid;
    else hi = mid;
  }
  return Math.sqrt(lo * hi);
}

function adamCase(size: ModelSize, dtype: DType, fraction: number, seed: number): CorpusCase {
  const master = masterModel(size, seed);
  const lr = calibrate(master, dtype, fraction);
  return {
    name: `${dtype}-adam-${fraction * 100}%`,
    targetFraction: fraction,
    base: publish(master, dtype, (t, i) => t.w[i]!),
    next: publish(master, dtype, adamStep(lr)),
    step: { lr, weightDecay: WEIGHT_DECAY, stepFraction: 1 },
  };
}

/** f32 published weights: a sparse update (e.g. only rows of tokens seen) touches `fraction` of values by an Adam step. */
function sparseF32Case(size: ModelSize, fraction: number, seed: number): CorpusCase {
  const master = masterModel(size, seed);
  const rand = seededRandom(seed + 1);
  const chosen = master.map((t) => Uint8Array.from(t.w, () => (rand() < fraction ? 1 : 0)));
  const lr = 1e-4;
  const step = adamStep(lr);
  return {
    name: `f32-sparse-adam-${fraction * 100}%`,
    targetFraction: fraction,
    base: publish(master, 'f32', (t, i) => t.w[i]!),
    next: publish(master, 'f32', (t, i) => (chosen[master.indexOf(t)]![i] ? step(t, i) : t.w[i]!)),
    step: { lr, weightDecay: WEIGHT_DECAY, stepFraction: fraction },
  };
}

function worstCase(size: ModelSize, kind: 'all-redrawn' | 'random-positions' | 'sign-flips', seed: number): CorpusCase {
  const master = masterModel(size, seed);
  const rand = seededRandom(seed + 2);
  const fraction = kind === 'all-redrawn' ? 1 : 0.01;
  const pick = (t: MasterTensor, i: number): number => {
    if (kind === 'all-redrawn') return gaussian(rand) * 0.02 + (t.shape.length === 1 ? 1 : 0);
    if (rand() >= fraction) return t.w[i]!;
    return kind === 'sign-flips' ? -t.w[i]! : gaussian(rand) * 0.02;
  };
  return {
    name: `worst-bf16-${kind}`,
    targetFraction: fraction,
    base: publish(master, 'bf16', (t, i) => t.w[i]!),
    next: publish(master, 'bf16', pick),
  };
}

export function buildCorpus(size: ModelSize): CorpusCase[] {
  return [
    adamCase(size, 'bf16', 0.005, 11),
    adamCase(size, 'bf16', 0.01, 12),
    adamCase(size, 'bf16', 0.02, 13),
    adamCase(size, 'bf16', 0.05, 14),
    adamCase(size, 'f16', 0.01, 15),
    sparseF32Case(size, 0.01, 16),
    worstCase(size, 'all-redrawn', 17),
    worstCase(size, 'random-positions', 18),
    worstCase(size, 'sign-flips', 19),
  ];
}
