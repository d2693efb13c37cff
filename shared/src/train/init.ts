/**
 * Seeded initial weights, GPT-2's scheme: weights ~ N(0, 0.02), the two
 * residual projections per block scaled by 1/√(2·layers), biases 0,
 * LayerNorm gains 1. The RNG is mulberry32 (shared/src/random.ts) with
 * Box–Muller for normals, so every engine and the TF.js twin start from the
 * same bits. Values are made in float64 and rounded once by the backend.
 */
import { mulberry32 } from '../random';
import type { ModelConfig } from './config';
import type { Layout } from './layout';

/** GPT-2's initializer range. */
export const INIT_STD = 0.02;

export function normals(seed: number): () => number {
  const u = mulberry32(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    // 1 - u() lies in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const th = 2 * Math.PI * u();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
}

export function initParams(config: ModelConfig, layout: Layout, seed: number): Float64Array {
  const out = new Float64Array(layout.size);
  const next = normals(seed);
  const layers = config.kind === 'gpt' ? config.layers : 1;
  for (const t of layout.tensors) {
    const leaf = t.name.slice(t.name.lastIndexOf('.') + 1);
    if (/^ln.*w$/.test(leaf)) out.fill(1, t.offset, t.offset + t.size);
    else if (t.shape.length === 2) {
      const std = leaf === 'attprojw' || leaf === 'fcprojw' ? INIT_STD / Math.sqrt(2 * layers) : INIT_STD;
      const scale = config.kind === 'mlp' ? Math.sqrt(2 / t.shape[1]!) : std;
      for (let i = 0; i < t.size; i++) out[t.offset + i] = next() * scale;
    }
  }
  return out;
}
