import { describe, expect, it } from 'vitest';
import { mlpClassifier } from '../models/mlp-classifier';
import { encodeModel, floatInitializer, node } from '../models/onnx-builder';
import { OnnxModelError } from './errors';
import { inspectOnnxModel } from './onnx-model';
import { onnx } from './onnx-proto';
import { uniformFloats } from '../models/random';

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OnnxModelError);
    return (e as OnnxModelError).code;
  }
  return 'none';
}

describe('inspectOnnxModel', () => {
  it('reads inputs, outputs, symbolic batch dims and opset', () => {
    const info = inspectOnnxModel(mlpClassifier.build());
    expect(info.inputs).toEqual([{ name: 'features', dtype: 'float32', dims: ['N', 64] }]);
    expect(info.outputs).toEqual([{ name: 'probabilities', dtype: 'float32', dims: ['N', 10] }]);
    expect(info.opset).toBe(13);
    expect(info.irVersion).toBe(7);
    expect(info.nodeCount).toBe(6);
    expect(info.sizeBytes).toBe(mlpClassifier.build().length);
  });

  it('says "not an ONNX model" for other files', () => {
    expect(errorCode(() => inspectOnnxModel(new TextEncoder().encode('hello, this is a text file\n')))).toBe(
      'not-onnx',
    );
    expect(errorCode(() => inspectOnnxModel(new Uint8Array(0)))).toBe('not-onnx');
    expect(errorCode(() => inspectOnnxModel(new Uint8Array(uniformFloats(3, 1000).buffer)))).toBe('not-onnx');
    // A PNG signature followed by noise.
    expect(
      errorCode(() => inspectOnnxModel(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]))),
    ).toBe('not-onnx');
  });

  it('rejects an oversized model before decoding it', () => {
    expect(errorCode(() => inspectOnnxModel(mlpClassifier.build(), 100))).toBe('too-large');
  });

  it('rejects a model without inputs', () => {
    const bytes = encodeModel({
      name: 'constant',
      inputs: [],
      outputs: [{ name: 'y', dtype: 'float32', dims: [2] }],
      initializers: [floatInitializer('c', [2], new Float32Array([1, 2]))],
      nodes: [node('Identity', ['c'], ['y'])],
    });
    expect(errorCode(() => inspectOnnxModel(bytes))).toBe('no-inputs');
  });

  it('rejects unsupported input dtypes, naming the input', () => {
    const model = onnx.ModelProto.decode(mlpClassifier.build());
    model.graph!.input![0]!.type!.tensorType!.elemType = onnx.TensorProto.DataType.FLOAT16;
    const bytes = onnx.ModelProto.encode(model).finish();
    expect(() => inspectOnnxModel(bytes)).toThrow(/input "features" has type float16/);
  });

  it('skips initializers that old exporters list as inputs', () => {
    const model = onnx.ModelProto.decode(mlpClassifier.build());
    model.graph!.input!.push({
      name: 'w1',
      type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 64 }, { dimValue: 32 }] } } },
    });
    const info = inspectOnnxModel(onnx.ModelProto.encode(model).finish());
    expect(info.inputs.map((i) => i.name)).toEqual(['features']);
  });
});
