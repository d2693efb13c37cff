/**
 * "Bring your own model" test models, one per class of issue 17, built with
 * the project's ONNX builder, each with a plain TypeScript reference. Used by
 * unit tests and e2e/byom.spec.ts; not by the product.
 */
import { encodeModel, floatInitializer, node } from '../../../models/onnx-builder';

const W = Float32Array.of(0.5, -1, 2, 0.25);
const BIAS = Float32Array.of(1, -2, 3);
const TABLE = Float32Array.from({ length: 10 * 4 }, (_, i) => i / 4);

/** Opset 6 (pre-2017 exporters): onnxruntime-web has no kernels for its Add, so the model does not load. */
export function oldOpsetModel(): Uint8Array {
  return encodeModel({
    name: 'old-opset-add',
    opset: 6,
    inputs: [{ name: 'x', dtype: 'float32', dims: ['N', 4] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['N', 4] }],
    initializers: [floatInitializer('w', [4], W)],
    nodes: [node('Add', ['x', 'w'], ['y'], [{ name: 'broadcast', int: 1 }])],
  });
}

export const FIXED_BATCH = 20;

/** Exported without dynamic_axes: every run takes exactly 20 rows. y = x · diag(w). */
export function fixedBatchModel(): Uint8Array {
  return encodeModel({
    name: 'fixed-batch-20',
    inputs: [{ name: 'x', dtype: 'float32', dims: [FIXED_BATCH, 4] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [FIXED_BATCH, 4] }],
    initializers: [floatInitializer('w', [4], W)],
    nodes: [node('Mul', ['x', 'w'], ['y'])],
  });
}

export function fixedBatchReference(x: Float32Array): Float32Array {
  return x.map((v, i) => Math.fround(v * W[i % 4]!));
}

/** A bias passed as a second input: y = x + b, where b has no batch axis. */
export function biasInputModel(): Uint8Array {
  return encodeModel({
    name: 'bias-input',
    inputs: [
      { name: 'x', dtype: 'float32', dims: ['batch', 3] },
      { name: 'b', dtype: 'float32', dims: [3] },
    ],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 3] }],
    initializers: [],
    nodes: [node('Add', ['x', 'b'], ['y'])],
  });
}

export const BIAS_INPUT = BIAS;

export function biasInputReference(x: Float32Array, b: Float32Array): Float32Array {
  return x.map((v, i) => Math.fround(v + b[i % b.length]!));
}

/** Two outputs: relu(x) per row, and the mean over the batch (an output without a batch axis). */
export function batchMeanModel(): Uint8Array {
  return encodeModel({
    name: 'batch-mean',
    inputs: [{ name: 'x', dtype: 'float32', dims: ['N', 4] }],
    outputs: [
      { name: 'r', dtype: 'float32', dims: ['N', 4] },
      { name: 'mean', dtype: 'float32', dims: [4] },
    ],
    initializers: [],
    nodes: [
      node('Relu', ['x'], ['r']),
      node(
        'ReduceMean',
        ['x'],
        ['mean'],
        [
          { name: 'axes', ints: [0] },
          { name: 'keepdims', int: 0 },
        ],
      ),
    ],
  });
}

/** Float64 means of each column: what ReduceMean computes, to float32 rounding. */
export function batchMeanReference(x: Float32Array): Float64Array {
  const rows = x.length / 4;
  const out = new Float64Array(4);
  for (let i = 0; i < x.length; i++) out[i % 4]! += x[i]! / rows;
  return out;
}

export const GATHER_ROWS = 10;

/** y = table[idx]: runs only while every index is below 10, so its failures depend on the input. */
export function gatherModel(): Uint8Array {
  return encodeModel({
    name: 'gather',
    inputs: [{ name: 'idx', dtype: 'int64', dims: ['N'] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['N', 4] }],
    initializers: [floatInitializer('table', [GATHER_ROWS, 4], TABLE)],
    nodes: [node('Gather', ['table', 'idx'], ['y'], [{ name: 'axis', int: 0 }])],
  });
}
