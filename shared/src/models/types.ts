import type { TensorMap, TensorSpec } from '../tensor/types';

/** A model this project ships, generated in code so its bytes never need downloading. */
export interface BuiltinModel {
  id: string;
  name: string;
  description: string;
  /** Declared inputs/outputs; the batch dim is the symbol "N". */
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  /** Floating-point operations per batch row (multiply and add count as two). */
  flopsPerRow: number;
  /** The .onnx bytes: identical on every call and every machine (seeded weights). */
  build(): Uint8Array<ArrayBuffer>;
  /** `rows` rows of inputs drawn from a seeded generator. */
  generateInputs(rows: number, seed?: number): TensorMap;
  /** The same outputs as the model computes, in plain TypeScript (float64 accumulation, float32 results). */
  reference(inputs: TensorMap): TensorMap;
}

/** The name of the batch dim in every built-in model. */
export const BATCH_DIM = 'N';
