/**
 * Model configurations for the training engine: the decoder-only GPT (token
 * and position embeddings, pre-norm LayerNorm, causal multi-head attention,
 * GELU MLP, output head tied to the token embedding) and the small MLP
 * classifier. Everything a backend allocates follows from these numbers.
 */

import { TrainConfigError } from './errors';

export interface GptConfig {
  readonly kind: 'gpt';
  /** Transformer blocks. */
  readonly layers: number;
  /** Residual stream width C. */
  readonly width: number;
  /** Attention heads; width must divide evenly among them. */
  readonly heads: number;
  /** Longest sequence T (position embeddings exist for 0..context-1). */
  readonly context: number;
  /** Token vocabulary V (the tokenizer's size). */
  readonly vocab: number;
}

export interface MlpConfig {
  readonly kind: 'mlp';
  readonly inputs: number;
  readonly hidden: number;
  readonly classes: number;
}

export type ModelConfig = GptConfig | MlpConfig;

/** Issue 18's presets. tiny: CI-sized, runs on SwiftShader WebGPU; small: ~6M parameters, the benchmark size. */
export const PRESETS = {
  tiny: { kind: 'gpt', layers: 2, width: 128, heads: 4, context: 64, vocab: 512 },
  small: { kind: 'gpt', layers: 6, width: 256, heads: 8, context: 128, vocab: 2048 },
} as const satisfies Record<string, GptConfig>;

export type PresetName = keyof typeof PRESETS;

/** The MLP classifier kept trainable beside the GPT (e.g. the built-in digits-style models). */
export const MLP_CLASSIFIER: MlpConfig = { kind: 'mlp', inputs: 64, hidden: 128, classes: 10 };

/**
 * LayerNorm epsilon, as in GPT-2 and PyTorch's default: the TF.js twin in the
 * benchmark uses the same value so losses can be compared.
 */
export const LAYERNORM_EPS = 1e-5;

export function validateGptConfig(c: GptConfig): GptConfig {
  for (const k of ['layers', 'width', 'heads', 'context', 'vocab'] as const)
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new TrainConfigError(`${k} must be a positive integer, got ${c[k]}`);
  if (c.width % c.heads !== 0) throw new TrainConfigError(`width ${c.width} is not divisible by heads ${c.heads}`);
  // The WASM kernels work on 4-wide SIMD lanes along the width and the head size.
  if ((c.width / c.heads) % 4 !== 0)
    throw new TrainConfigError(`head size ${c.width / c.heads} is not a multiple of 4`);
  return c;
}
