import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { inspectOnnxModel } from '../tensor/onnx-model';
import { compareTensors } from '../tensor/tensor';
import type { Tensor } from '../tensor/types';
import { BUILTIN_MODELS, getBuiltinModel } from './catalog';

// onnxruntime-web resolves to its Node build here and runs the same WASM kernels as in the browser.
ort.env.wasm.numThreads = 1;

/** Same tolerance the browser e2e uses: float32 sums in a different order than the float64 reference. */
const ATOL = 1e-5;
const RTOL = 1e-4;

/**
 * SHA-256 of each model's bytes. Providers cache models by content hash, so a
 * change here (weights, op order, encoder) invalidates every volunteer's cache:
 * update these only on purpose.
 */
const GOLDEN_SHA256: Record<string, string> = {
  'mlp-classifier': '8c8bd34173d539f5665bd4c372a83f100f2c546471c6b7a3044698fefe3a33c4',
  'matmul-256': '6bd1796e849fac56be0e5fd9b24edd0c66849e9995144954b22cd8af19f42f4b',
  'image-filter': '974004ff70f1e6794c4336c8936cf5641db9a3b62307c92318864291b069687d',
};

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

describe.each(BUILTIN_MODELS.map((m) => [m.id, m] as const))('built-in model %s', (_id, model) => {
  it('builds the same bytes on every machine (golden hash)', async () => {
    expect(await sha256Hex(model.build())).toBe(GOLDEN_SHA256[model.id]);
    expect(getBuiltinModel(model.id)).toBe(model);
  });

  it('parses back with the declared inputs and outputs', () => {
    const info = inspectOnnxModel(model.build());
    expect(info.inputs).toEqual(model.inputs);
    expect(info.outputs).toEqual(model.outputs);
  });

  it('generates the same inputs for the same seed, different for another', () => {
    const a = Object.values(model.generateInputs(3, 7))[0]!;
    expect(Object.values(model.generateInputs(3, 7))[0]).toEqual(a);
    expect(Object.values(model.generateInputs(3, 8))[0]).not.toEqual(a);
  });

  it('computes on onnxruntime (WASM) what the TS reference computes', async () => {
    const session = await ort.InferenceSession.create(model.build(), { executionProviders: ['wasm'] });
    try {
      const inputs = model.generateInputs(5, 42);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(inputs))
        feeds[name] = new ort.Tensor(t.dtype, t.data as Float32Array, t.dims);
      const results = await session.run(feeds);
      const expected = model.reference(inputs);
      for (const spec of model.outputs) {
        const got = results[spec.name]!;
        const actual = { dtype: 'float32', dims: [...got.dims], data: got.data as Float32Array } as Tensor;
        const cmp = compareTensors(actual, expected[spec.name]!, ATOL, RTOL);
        expect(cmp.ok, cmp.message).toBe(true);
      }
    } finally {
      await session.release();
    }
  });
});

it('reference rejects inputs of the wrong shape, naming the input', () => {
  const model = getBuiltinModel('mlp-classifier')!;
  const bad = { features: { dtype: 'float32' as const, dims: [2, 63], data: new Float32Array(126) } };
  expect(() => model.reference(bad)).toThrow('input "features": expected shape [N, 64], got [2, 63]');
});

it('softmax outputs are probabilities', () => {
  const model = getBuiltinModel('mlp-classifier')!;
  const p = model.reference(model.generateInputs(4, 3))['probabilities']!;
  for (let r = 0; r < 4; r++) {
    const row = [...p.data.slice(r * 10, r * 10 + 10)].map(Number);
    expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(Math.max(...row)).toBeLessThan(0.99); // not saturated: the weights are scaled sensibly
  }
});
