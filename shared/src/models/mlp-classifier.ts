import { checkInputs } from '../tensor/check-inputs';
import type { TensorSpec } from '../tensor/types';
import { encodeModel, floatInitializer, node } from './onnx-builder';
import { uniformFloats } from './random';
import { addBias, matmul, relu, softmax } from './reference';
import { float32Input, float32Tensor, memoBytes } from './model-helpers';
import { BATCH_DIM, type BuiltinModel } from './types';

const FEATURES = 64;
const HIDDEN = 32;
const CLASSES = 10;
const WEIGHT_SEED = 0x6d6c70; // "mlp"

const inputs: TensorSpec[] = [{ name: 'features', dtype: 'float32', dims: [BATCH_DIM, FEATURES] }];
const outputs: TensorSpec[] = [{ name: 'probabilities', dtype: 'float32', dims: [BATCH_DIM, CLASSES] }];

/** Weights scaled by 1/√fan-in so activations stay O(1) and softmax is not saturated. */
function weights() {
  return {
    w1: uniformFloats(WEIGHT_SEED + 1, FEATURES * HIDDEN, -1 / Math.sqrt(FEATURES), 1 / Math.sqrt(FEATURES)),
    b1: uniformFloats(WEIGHT_SEED + 2, HIDDEN, -0.1, 0.1),
    w2: uniformFloats(WEIGHT_SEED + 3, HIDDEN * CLASSES, -1 / Math.sqrt(HIDDEN), 1 / Math.sqrt(HIDDEN)),
    b2: uniformFloats(WEIGHT_SEED + 4, CLASSES, -0.1, 0.1),
  };
}
let cached: ReturnType<typeof weights> | undefined;
const getWeights = () => (cached ??= weights());

export const mlpClassifier: BuiltinModel = {
  id: 'mlp-classifier',
  name: 'MLP classifier',
  description: `Two-layer perceptron: ${FEATURES} features → ${HIDDEN} hidden (ReLU) → ${CLASSES} class probabilities (softmax).`,
  inputs,
  outputs,
  flopsPerRow: 2 * FEATURES * HIDDEN + 2 * HIDDEN + 2 * HIDDEN * CLASSES + 4 * CLASSES,
  build: memoBytes(() => {
    const w = getWeights();
    return encodeModel({
      name: 'mlp_classifier',
      inputs,
      outputs,
      initializers: [
        floatInitializer('w1', [FEATURES, HIDDEN], w.w1),
        floatInitializer('b1', [HIDDEN], w.b1),
        floatInitializer('w2', [HIDDEN, CLASSES], w.w2),
        floatInitializer('b2', [CLASSES], w.b2),
      ],
      nodes: [
        node('MatMul', ['features', 'w1'], ['h_mm']),
        node('Add', ['h_mm', 'b1'], ['h_pre']),
        node('Relu', ['h_pre'], ['h']),
        node('MatMul', ['h', 'w2'], ['logits_mm']),
        node('Add', ['logits_mm', 'b2'], ['logits']),
        node('Softmax', ['logits'], ['probabilities'], [{ name: 'axis', int: -1 }]),
      ],
    });
  }),
  generateInputs: (rows, seed = 1) => ({
    features: float32Tensor([rows, FEATURES], uniformFloats(seed, rows * FEATURES)),
  }),
  reference(given) {
    checkInputs(inputs, given);
    const { data, rows } = float32Input(given, 'features');
    const w = getWeights();
    const h = relu(addBias(matmul(data, w.w1, rows, FEATURES, HIDDEN), w.b1));
    const probabilities = softmax(addBias(matmul(h, w.w2, rows, HIDDEN, CLASSES), w.b2), CLASSES);
    return { probabilities: float32Tensor([rows, CLASSES], probabilities) };
  },
};
