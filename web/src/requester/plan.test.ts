import { describe, expect, it } from 'vitest';
import { getBuiltinModel } from '@shared/models';
import { tensorFromRaw } from '@shared/protocol';
import { modelVersion, writeNpy } from '@shared/tensor';
import { DEFAULT_FALSE_ACCEPT_PROBABILITY, DEFAULT_TOLERANCES } from '@shared/trust';
import { planJob, type JobDraft } from './plan';

const base: JobDraft = {
  name: '',
  model: { kind: 'builtin', id: 'mlp-classifier' },
  inputs: { kind: 'generated', rows: 100, seed: 3 },
  unitRows: 16,
  redundancy: 1,
  spotCheckRate: 0.05,
  maxProviders: 4,
};
const mlp = getBuiltinModel('mlp-classifier')!;

describe('planJob', () => {
  it('PLAN1: a built-in model with generated inputs becomes a spec whose inputs are the seeded rows', async () => {
    const { spec, inputs, modelBytes } = await planJob(base);
    expect(spec.rows).toBe(100);
    expect(spec.unitRows).toBe(16);
    expect(spec.inputs).toEqual([{ name: 'features', dtype: 'float32', dims: [100, 64] }]);
    expect(spec.outputs).toEqual([{ name: 'probabilities', dtype: 'float32', dims: [100, 10] }]);
    expect(modelBytes).toEqual(mlp.build());
    expect(tensorFromRaw(inputs[0]!).data).toEqual(mlp.generateInputs(100, 3).features!.data);
    // The model is named by its version hash (xxh3-128 of frame and weights), the name providers store it under.
    expect(spec.model.hash).toBe((await modelVersion(modelBytes)).hash);
  });

  it('PLAN2: an uploaded .onnx with uploaded .npy inputs is accepted; its declared shapes are checked', async () => {
    const inputs = mlp.generateInputs(10, 1).features!;
    const draft: JobDraft = {
      ...base,
      model: { kind: 'upload', fileName: 'mine.onnx', bytes: mlp.build() },
      inputs: { kind: 'upload', fileName: 'x.npy', bytes: writeNpy(inputs) },
    };
    const { spec } = await planJob(draft);
    expect(spec.rows).toBe(10);
    expect(spec.model.name).toBe('mine.onnx');
    const wrong = writeNpy({ dtype: 'float32', dims: [10, 63], data: new Float32Array(630) });
    await expect(planJob({ ...draft, inputs: { kind: 'upload', fileName: 'x.npy', bytes: wrong } })).rejects.toThrow(
      /features.*64/,
    );
  });

  it('PLAN3: a file that is not ONNX, or inputs that are neither .npy nor JSON, get a clear error', async () => {
    await expect(
      planJob({
        ...base,
        model: { kind: 'upload', fileName: 'cat.onnx', bytes: new TextEncoder().encode('meow, not a model') },
      }),
    ).rejects.toThrow(/ONNX/i);
    await expect(
      planJob({ ...base, inputs: { kind: 'upload', fileName: 'x.csv', bytes: new Uint8Array(4) } }),
    ).rejects.toThrow(/\.npy nor \.json/);
    await expect(
      planJob({ ...base, inputs: { kind: 'upload', fileName: 'x.npy', bytes: new Uint8Array(12) } }),
    ).rejects.toThrow();
  });

  it('PLAN4: settings that cannot work are refused before anything is stored', async () => {
    await expect(planJob({ ...base, unitRows: 0 })).rejects.toThrow(/unit size/);
    await expect(planJob({ ...base, inputs: { kind: 'generated', rows: 0, seed: 1 } })).rejects.toThrow(/rows/);
    await expect(
      planJob({ ...base, inputs: { kind: 'generated', rows: 2_000_000, seed: 1 }, unitRows: 1 }),
    ).rejects.toThrow(/unit size/);
  });

  it('PLAN5: JSON inputs keyed by input name are accepted', async () => {
    const rows = [Array.from({ length: 64 }, (_, i) => i / 64), Array.from({ length: 64 }, () => 0.5)];
    const { spec } = await planJob({
      ...base,
      inputs: {
        kind: 'upload',
        fileName: 'in.json',
        bytes: new TextEncoder().encode(JSON.stringify({ features: rows })),
      },
    });
    expect(spec.rows).toBe(2);
    expect(spec.unitRows).toBe(2);
  });

  it("PLAN6: the job stores its verification settings: the defaults when left out, the requester's own otherwise (half precision keeps its default)", async () => {
    const plain = await planJob(base);
    expect(plain.spec.tolerance).toEqual(DEFAULT_TOLERANCES);
    expect(plain.spec.falseAcceptProbability).toBe(DEFAULT_FALSE_ACCEPT_PROBABILITY);
    const loose = { rtol: 1e-2, atol: 1e-3 };
    const { spec } = await planJob({
      ...base,
      tolerance: { sameClass: { rtol: 1e-5, atol: 0 }, crossClass: loose },
      falseAcceptProbability: 0.01,
    });
    expect(spec.tolerance).toEqual({
      sameClass: { rtol: 1e-5, atol: 0 },
      crossClass: loose,
      halfPrecision: DEFAULT_TOLERANCES.halfPrecision,
    });
    expect(spec.falseAcceptProbability).toBe(0.01);
  });

  it('PLAN7: out-of-range verification settings are refused with the setting and its allowed range named', async () => {
    const tolerance = (sameClass: { rtol: number; atol: number }) => ({ ...base, tolerance: { sameClass } });
    await expect(planJob(tolerance({ rtol: -0.1, atol: 0 }))).rejects.toThrow(
      /same-class rtol must be a number from 0 to 1 \(got -0\.1\)/,
    );
    await expect(planJob(tolerance({ rtol: 1e-6, atol: 2 }))).rejects.toThrow(
      /same-class atol must be a number from 0 to 1 \(got 2\)/,
    );
    await expect(planJob({ ...base, tolerance: { crossClass: { rtol: Number.NaN, atol: 0 } } })).rejects.toThrow(
      /cross-class rtol must be a number from 0 to 1 \(got NaN\)/,
    );
    for (const bad of [0, 0.6, -1, Number.NaN]) {
      await expect(planJob({ ...base, falseAcceptProbability: bad }), String(bad)).rejects.toThrow(
        /Freivalds false-accept probability must be a number greater than 0 and at most 0\.5/,
      );
    }
  });
});

describe('limits stated before they bite (issue 21)', () => {
  const matmul: JobDraft = { ...base, model: { kind: 'builtin', id: 'matmul-256' }, unitRows: 1000 };

  it('PLAN-SIZE1: 2,000,000 MatMul rows against 50 MiB of storage left are refused before any input is generated', async () => {
    const stages: string[] = [];
    const started = performance.now();
    await expect(
      planJob(
        { ...matmul, inputs: { kind: 'generated', rows: 2_000_000, seed: 1 } },
        { storageLeft: 50 * 2 ** 20, progress: (p) => stages.push(p.stage) },
      ),
    ).rejects.toThrow(/needs about 4\.\d+ GiB of storage .* store 50\.0 MiB more/);
    // Generating those rows took 29 s in the browser; refusing them takes no generation at all.
    expect(stages).not.toContain('generating inputs');
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('PLAN-SIZE2: 1e8 rows are refused for the typed-array limit, naming the tensor, whatever the quota', async () => {
    await expect(
      planJob({ ...matmul, inputs: { kind: 'generated', rows: 1e8, seed: 1 }, unitRows: 10_000 }, {}),
    ).rejects.toThrow(/"x" would be .* in one array, more than the 2\.00 GiB/);
  });

  it('PLAN-SIZE3: a job that fits plans as before and reports its stages', async () => {
    const stages: string[] = [];
    await planJob(matmul, { storageLeft: 2 ** 30, progress: (p) => stages.push(p.stage) });
    expect(stages).toEqual(['generating inputs']);
  });
});
