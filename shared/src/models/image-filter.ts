import { checkInputs } from '../tensor/check-inputs';
import type { TensorSpec } from '../tensor/types';
import { encodeModel, floatInitializer, node } from './onnx-builder';
import { uniformFloats } from './random';
import { conv2d, relu, type Conv2dShape } from './reference';
import { float32Input, float32Tensor, memoBytes } from './model-helpers';
import { BATCH_DIM, type BuiltinModel } from './types';

const SIDE = 16;
const KERNEL = 3;
/** Four classic 3×3 filters: box blur, Sobel x, Sobel y, sharpen. */
const FILTERS = [
  [1, 1, 1, 1, 1, 1, 1, 1, 1].map((v) => v / 9),
  [-1, 0, 1, -2, 0, 2, -1, 0, 1],
  [-1, -2, -1, 0, 0, 0, 1, 2, 1],
  [0, -1, 0, -1, 5, -1, 0, -1, 0],
];
const BIAS = [0, 0.05, 0.05, 0];

const inputs: TensorSpec[] = [{ name: 'image', dtype: 'float32', dims: [BATCH_DIM, 1, SIDE, SIDE] }];
const outputs: TensorSpec[] = [{ name: 'filtered', dtype: 'float32', dims: [BATCH_DIM, FILTERS.length, SIDE, SIDE] }];

const weight = new Float32Array(FILTERS.flat());
const bias = new Float32Array(BIAS);
const shape = (batch: number): Conv2dShape => ({
  batch,
  inChannels: 1,
  outChannels: FILTERS.length,
  height: SIDE,
  width: SIDE,
  kernel: KERNEL,
  pad: 1,
});

/** A tiny convolution model, so the network runs something besides matmuls. */
export const imageFilter: BuiltinModel = {
  id: 'image-filter',
  name: 'Image filter',
  description: `Blur, edge (Sobel x/y) and sharpen filters over ${SIDE}×${SIDE} grey images (Conv 3×3, ReLU).`,
  inputs,
  outputs,
  flopsPerRow: FILTERS.length * SIDE * SIDE * (2 * KERNEL * KERNEL + 2),
  build: memoBytes(() =>
    encodeModel({
      name: 'image_filter',
      inputs,
      outputs,
      initializers: [
        floatInitializer('kernels', [FILTERS.length, 1, KERNEL, KERNEL], weight),
        floatInitializer('bias', [FILTERS.length], bias),
      ],
      nodes: [
        node(
          'Conv',
          ['image', 'kernels', 'bias'],
          ['conv'],
          [
            { name: 'kernel_shape', ints: [KERNEL, KERNEL] },
            { name: 'pads', ints: [1, 1, 1, 1] },
          ],
        ),
        node('Relu', ['conv'], ['filtered']),
      ],
    }),
  ),
  generateInputs: (rows, seed = 1) => ({
    image: float32Tensor([rows, 1, SIDE, SIDE], uniformFloats(seed, rows * SIDE * SIDE, 0, 1)),
  }),
  reference(given) {
    checkInputs(inputs, given);
    const { data, rows } = float32Input(given, 'image');
    return {
      filtered: float32Tensor([rows, FILTERS.length, SIDE, SIDE], relu(conv2d(data, weight, bias, shape(rows)))),
    };
  },
};
