/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter) with bias correction,
 * as in llm.c and PyTorch: weight decay applies to every parameter (llm.c's
 * choice; the TF.js twin in the benchmark does the same), and gradients come
 * in pre-scaled by the global-norm clip factor.
 */
import type { AdamWHyper } from './kernels';
import type { Vec } from './layers/types';

/** GPT-2-style defaults (llm.c's train_gpt2.c uses the same betas and eps). */
export const ADAMW_DEFAULTS: AdamWHyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01 };

/** Clip the global gradient norm at 1.0, GPT-2/3 practice; clipScale says by how much to scale. */
export const GRAD_CLIP = 1.0;

export function clipScale(sumSquares: number, maxNorm: number): number {
  const norm = Math.sqrt(sumSquares);
  return norm > maxNorm ? maxNorm / norm : 1;
}

export function adamwUpdate(p: Vec, g: Vec, m: Vec, v: Vec, n: number, hp: AdamWHyper, t: number, gradScale: number) {
  const c1 = 1 - hp.beta1 ** t;
  const c2 = 1 - hp.beta2 ** t;
  for (let i = 0; i < n; i++) {
    const grad = g[i]! * gradScale;
    const mi = hp.beta1 * m[i]! + (1 - hp.beta1) * grad;
    const vi = hp.beta2 * v[i]! + (1 - hp.beta2) * grad * grad;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i]! - hp.lr * (mi / c1 / (Math.sqrt(vi / c2) + hp.eps) + hp.weightDecay * p[i]!);
  }
}
