import { describe, expect, it } from 'vitest';
import { imageFilter, matmul256, mlpClassifier } from '../models';
import { encodeModel, floatInitializer, node } from '../models/onnx-builder';
import { estimateOnnxFlopsPerRow } from './onnx-flops';

const zeros = (dims: number[]) =>
  floatInitializer(dims.join('x'), dims, new Float32Array(dims.reduce((p, d) => p * d, 1)));

describe('FLOPs of an uploaded ONNX model, from its graph', () => {
  it('FLOPS1: the built-in models read from their bytes match their declared cost (matmuls and convs)', async () => {
    expect(estimateOnnxFlopsPerRow(await matmul256.build())).toBe(matmul256.flopsPerRow);
    // MatMuls only (2·64·32 + 2·32·10); the Adds, Relu and Softmax are not counted, so it errs low.
    const mlp = estimateOnnxFlopsPerRow(await mlpClassifier.build())!;
    expect(mlp).toBe(2 * 64 * 32 + 2 * 32 * 10);
    expect(mlp).toBeLessThanOrEqual(mlpClassifier.flopsPerRow);
    // Conv 4 filters 3×3 over 16×16 with bias (and padding 1): 4·256·(2·9 + 1); Relu not counted.
    const conv = estimateOnnxFlopsPerRow(await imageFilter.build())!;
    expect(conv).toBe(4 * 16 * 16 * (2 * 9 + 1));
    expect(conv).toBeLessThanOrEqual(imageFilter.flopsPerRow);
  });

  it('FLOPS2: Gemm with transB and bias, a strided Conv, a pool and Flatten carry shapes through', () => {
    const w = zeros([8, 3, 3, 3]);
    const fc = zeros([10, 8 * 4 * 4]);
    const bias = zeros([10]);
    const bytes = encodeModel({
      name: 'cnn',
      inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 3, 16, 16] }],
      outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 10] }],
      initializers: [w, fc, bias],
      nodes: [
        node(
          'Conv',
          ['x', w.name!],
          ['c'],
          [
            { name: 'strides', ints: [2, 2] },
            { name: 'pads', ints: [1, 1, 1, 1] },
          ],
        ),
        node('Relu', ['c'], ['r']),
        node(
          'MaxPool',
          ['r'],
          ['p'],
          [
            { name: 'kernel_shape', ints: [2, 2] },
            { name: 'strides', ints: [2, 2] },
          ],
        ),
        node('Flatten', ['p'], ['f']),
        node('Gemm', ['f', fc.name!, bias.name!], ['y'], [{ name: 'transB', int: 1 }]),
      ],
    });
    const convFlops = 8 * 8 * 8 * (2 * 3 * 9); // 8 out channels over an 8×8 output, no bias
    const gemmFlops = 2 * 128 * 10 + 10;
    expect(estimateOnnxFlopsPerRow(bytes)).toBe(convFlops + gemmFlops);
  });

  it('FLOPS3: no countable op, unknown sizes, or bytes that are not ONNX: undefined (credits 0, as before)', () => {
    const relu = encodeModel({
      name: 'relu',
      inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 4] }],
      initializers: [],
      nodes: [node('Relu', ['x'], ['y'])],
    });
    expect(estimateOnnxFlopsPerRow(relu)).toBeUndefined();
    const unknown = encodeModel({
      name: 'mm',
      inputs: [
        { name: 'x', dtype: 'float32', dims: ['batch', 'k'] },
        { name: 'w', dtype: 'float32', dims: ['batch', 'n'] },
      ],
      outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 'n'] }],
      initializers: [],
      nodes: [node('MatMul', ['x', 'w'], ['y'])],
    });
    expect(estimateOnnxFlopsPerRow(unknown)).toBeUndefined();
    expect(estimateOnnxFlopsPerRow(new Uint8Array([0xff, 0xff, 0xff]))).toBeUndefined();
  });
});
