/**
 * Seeded bf16 models for trying weight distribution (the dashboard's demo
 * button, the tests, the e2e hook): transformer-ish tensors, and Adam-like
 * updates that move a fraction of the values by ±1–2 units in the last place.
 */
import type { Model, Tensor } from '@shared/pulse';
import { bf16Bits, gaussian, seededRandom } from '@shared/pulse/testing';

/** A model of `layers` × (attention and MLP matrices of `width`², a norm near 1.0). */
export function demoModel(seed: number, layers = 2, width = 128): Model {
  const rand = seededRandom(seed);
  const tensors: Tensor[] = [];
  const matrix = (name: string, rows: number, cols: number): Tensor => {
    const data = new Uint16Array(rows * cols);
    for (let i = 0; i < data.length; i++) data[i] = bf16Bits(0.02 * gaussian(rand));
    return { name, dtype: 'bf16', shape: [rows, cols], data };
  };
  for (let l = 0; l < layers; l++) {
    tensors.push(matrix(`layers.${l}.attn.qkv`, width, 3 * width), matrix(`layers.${l}.mlp.up`, width, 4 * width));
    const norm = new Uint16Array(width);
    for (let i = 0; i < width; i++) norm[i] = bf16Bits(1 + 0.01 * gaussian(rand));
    tensors.push({ name: `layers.${l}.norm`, dtype: 'bf16', shape: [width], data: norm });
  }
  return { tensors };
}

/** A copy of `model` with about `fraction` of its values nudged by ±1 or ±2 ulp (sign kept). */
export function nudge(model: Model, seed: number, fraction = 0.01): Model {
  const rand = seededRandom(seed);
  return {
    tensors: model.tensors.map((t) => {
      const data = t.data.slice();
      for (let i = 0; i < data.length; i++) {
        if (rand() >= fraction) continue;
        const step = (rand() < 0.7 ? 1 : 2) * (rand() < 0.5 ? -1 : 1);
        const magnitude = data[i]! & 0x7fff;
        // Keep away from zero and infinity so the nudge never flips the sign or leaves the finite range.
        if (magnitude + step <= 0 || magnitude + step >= 0x7f80) continue;
        data[i] = (data[i]! & 0x8000) | (magnitude + step);
      }
      return { ...t, data };
    }),
  };
}

/** Seeded models for the dashboard's demo button: the first call publishes a fresh model, each later one nudges the last. */
export function demoSeries(
  publish: (modelId: string, model: Model) => Promise<{ version: number; hash: string }>,
  modelId = 'demo',
  seed = 1,
) {
  let last: Model | null = null;
  let step = 0;
  return {
    async next(fraction = 0.01, layers = 2, width = 256): Promise<{ version: number; hash: string }> {
      last = last === null ? demoModel(seed, layers, width) : nudge(last, seed + ++step, fraction);
      return publish(modelId, last);
    },
  };
}
