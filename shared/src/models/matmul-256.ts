import { checkInputs } from '../tensor/check-inputs';
import type { TensorSpec } from '../tensor/types';
import { encodeModel, floatInitializer, node } from './onnx-builder';
import { uniformFloats } from './random';
import { matmul } from './reference';
import { float32Input, float32Tensor, memoBytes } from './model-helpers';
import { BATCH_DIM, type BuiltinModel } from './types';

/** 256 wide: big enough that a row is mostly multiply-adds, small enough for tiny SwiftShader runs. */
const SIZE = 256;
const WEIGHT_SEED = 0x6d6d; // "mm"

const inputs: TensorSpec[] = [{ name: 'x', dtype: 'float32', dims: [BATCH_DIM, SIZE] }];
const outputs: TensorSpec[] = [{ name: 'y', dtype: 'float32', dims: [BATCH_DIM, SIZE] }];

let cached: Float32Array | undefined;
const getWeight = () => (cached ??= uniformFloats(WEIGHT_SEED, SIZE * SIZE, -1 / Math.sqrt(SIZE), 1 / Math.sqrt(SIZE)));

/** Y = X·W: the benchmark model (pure matmul, so FLOP/s are well defined). */
export const matmul256: BuiltinModel = {
  id: 'matmul-256',
  name: 'MatMul 256',
  description: `Y = X·W with X [N, ${SIZE}] and a fixed W [${SIZE}, ${SIZE}]; also the capability benchmark.`,
  inputs,
  outputs,
  flopsPerRow: 2 * SIZE * SIZE,
  build: memoBytes(() =>
    encodeModel({
      name: 'matmul_256',
      inputs,
      outputs,
      initializers: [floatInitializer('w', [SIZE, SIZE], getWeight())],
      nodes: [node('MatMul', ['x', 'w'], ['y'])],
    }),
  ),
  generateInputs: (rows, seed = 1) => ({ x: float32Tensor([rows, SIZE], uniformFloats(seed, rows * SIZE)) }),
  reference(given) {
    checkInputs(inputs, given);
    const { data, rows } = float32Input(given, 'x');
    return { y: float32Tensor([rows, SIZE], matmul(data, getWeight(), rows, SIZE, SIZE)) };
  },
};
