import { describe, expect, it } from 'vitest';
import { encodeModel, floatInitializer, node } from '../models/onnx-builder';
import { apply, decode, diff, encode, hashModel, hashesEqual } from '../pulse';
import { inspectOnnxModel } from './onnx-model';
import { onnx } from './onnx-proto';
import type { Tensor } from '../pulse/types';
import { joinOnnx, splitOnnx, versionMismatch, type OnnxParts } from './onnx-weights';

/** y = relu(x·W + b) + int64 shape constant, with an f16 weight kept aside: every kind of initializer. */
function model(w: Float32Array, options: { bias?: number; floatData?: boolean; external?: boolean } = {}): Uint8Array {
  const wInit = floatInitializer('W', [4, 3], w);
  if (options.floatData) {
    delete wInit.rawData;
    wInit.floatData = [...w];
  }
  if (options.external) wInit.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  const half = { name: 'H', dims: [2], dataType: onnx.TensorProto.DataType.FLOAT16, int32Data: [0x3c00, 0xc000] };
  const shape = { name: 'S', dims: [2], dataType: onnx.TensorProto.DataType.INT64, int64Data: [-1, 3] };
  return encodeModel({
    name: 'weights-test',
    inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 4] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 3] }],
    nodes: [
      node('MatMul', ['x', 'W'], ['xw']),
      node('Add', ['xw', 'b'], ['z']),
      node('Relu', ['z'], ['r']),
      node('Reshape', ['r', 'S'], ['y']),
    ],
    initializers: [
      wInit,
      floatInitializer('b', [3], Float32Array.of(options.bias ?? 0.5, -0.25, Number.NaN)),
      half,
      shape,
    ],
  });
}

const W1 = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1));

describe('an ONNX model as PULSE weights plus a frame', () => {
  it('MODEL1: float32/float16 initializers become PULSE tensors bit for bit; integers stay in the frame; join restores the model', async () => {
    const bytes = model(W1);
    const parts = splitOnnx(bytes);
    expect(parts.weights.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['W', 'f32', [4, 3]],
      ['b', 'f32', [3]],
      ['H', 'f16', [2]],
    ]);
    expect([...parts.weights.tensors[0]!.data]).toEqual([...new Uint32Array(W1.buffer)]);
    // NaN's payload survives: bits, not values.
    expect(parts.weights.tensors[1]!.data[2]).toBe(new Uint32Array(Float32Array.of(Number.NaN).buffer)[0]);
    expect([...parts.weights.tensors[2]!.data]).toEqual([0x3c00, 0xc000]);
    expect(parts.frame.length).toBeLessThan(bytes.length - 40);
    const joined = joinOnnx(parts);
    expect(inspectOnnxModel(joined)).toEqual({ ...inspectOnnxModel(bytes), sizeBytes: joined.length });
    // Canonical: splitting the joined model gives the same parts.
    const again = splitOnnx(joined);
    expect(again.frame).toEqual(parts.frame);
    expect(hashesEqual(await hashModel(again.weights), await hashModel(parts.weights))).toBe(true);
  });

  it('MODEL1: float_data and raw_data exports of one model have the same frame and weights', async () => {
    const raw = splitOnnx(model(W1));
    const floats = splitOnnx(model(W1, { floatData: true }));
    expect(floats.frame).toEqual(raw.frame);
    expect(hashesEqual(await hashModel(floats.weights), await hashModel(raw.weights))).toBe(true);
  });

  it('MODEL2: a new version that changes only weight values travels as a small PULSE patch and joins to that version', async () => {
    const w2 = W1.slice();
    const bits = new Uint32Array(w2.buffer);
    bits[5]! += 2; // a couple of ulps
    const v1 = splitOnnx(model(W1));
    const v2 = splitOnnx(model(w2, { bias: 0.75 }));
    expect(versionMismatch(v1, v2)).toBeUndefined();
    const patch = encode(await diff(v1.weights, v2.weights));
    const applied = await apply(v1.weights, decode(patch));
    expect(hashesEqual(await hashModel(applied), await hashModel(v2.weights))).toBe(true);
    // Two changed values: the patch is a small fraction of the weights it updates.
    expect(patch.length).toBeLessThan(120);
    expect(joinOnnx({ weights: applied, frame: v1.frame })).toEqual(joinOnnx(v2));
  });

  it('MODEL3: a version with another graph, dtype or shape is refused, naming what differs', () => {
    const v1 = splitOnnx(model(W1));
    const withTensor = (index: number, change: Partial<Tensor>): OnnxParts => ({
      frame: v1.frame,
      weights: { tensors: v1.weights.tensors.map((x, i) => (i === index ? { ...x, ...change } : x)) },
    });
    expect(versionMismatch(v1, withTensor(1, { shape: [1, 3] }))).toBe(
      'tensor "b" has shape [1, 3], the current version has [3]',
    );
    expect(versionMismatch(v1, withTensor(2, { dtype: 'bf16' }))).toBe(
      'tensor "H" is bf16, the current version has f16',
    );
    expect(versionMismatch(v1, withTensor(0, { name: 'W2' }))).toBe('tensor "W2" is not in the current version');
    const otherGraph = splitOnnx(model(W1));
    otherGraph.frame = otherGraph.frame.slice(0, -1);
    expect(versionMismatch(v1, otherGraph)).toMatch(/the graph differs/);
  });

  it('MODEL4: external data and oversized files are refused with the way forward', () => {
    expect(() => splitOnnx(model(W1, { external: true }))).toThrow(/external data.*save_as_external_data=False/);
    expect(() => splitOnnx(model(W1), 100)).toThrow(/over the 100 B limit/);
    expect(() => splitOnnx(new Uint8Array([1, 2, 3]))).toThrow(/not an ONNX model/);
  });
});
