import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { inspectOnnxModel } from '../../tensor/onnx-model';
import { explainModelError, REEXPORT_HINT } from './model-errors';
import { describeRoles, readBatchRoles, settleOutputs, type ModelRun } from './model-io';
import { batchMeanModel, biasInputModel, fixedBatchModel, gatherModel, oldOpsetModel } from './testing/byom-models';

const roles = (bytes: Uint8Array) => readBatchRoles(inspectOnnxModel(bytes));

/** What onnxruntime-web (its Node build, the browser's WASM kernels) says when it refuses. */
async function ortError(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    return String(error);
  }
  throw new Error('onnxruntime accepted it');
}

describe('BYOM1: batch roles read from the model', () => {
  it('a named first axis is a free batch; a second input without it is sent whole', () => {
    const r = roles(biasInputModel());
    expect(r.batch).toEqual({ kind: 'free', name: 'batch' });
    expect(r.inputs.map((i) => [i.name, i.batched])).toEqual([
      ['x', true],
      ['b', false],
    ]);
    expect(r.outputs.map((o) => [o.name, o.batched])).toEqual([['y', true]]);
    expect(describeRoles(r).inputs[1]).toBe('b: float32 [3] — no batch axis: sent whole with every unit');
  });

  it('a bias listed before the batched input does not fix the batch at its length', () => {
    const r = readBatchRoles({
      inputs: [
        { name: 'b', dtype: 'float32', dims: [3] },
        { name: 'x', dtype: 'float32', dims: ['batch', 3] },
      ],
      outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 3] }],
    });
    expect(r.batch).toEqual({ kind: 'free', name: 'batch' });
    expect(r.inputs.map((i) => i.batched)).toEqual([false, true]);
  });

  it('a number as the first axis fixes the batch (an export without dynamic_axes)', () => {
    const r = roles(fixedBatchModel());
    expect(r.batch).toEqual({ kind: 'fixed', rows: 20 });
    expect(describeRoles(r).batch).toBe('batch fixed at 20 rows by the export: every unit is 20 rows');
  });

  it('an output whose first axis is not the batch is not batched', () => {
    const r = roles(batchMeanModel());
    expect(r.outputs.map((o) => [o.name, o.batched])).toEqual([
      ['r', true],
      ['mean', false],
    ]);
    expect(describeRoles(r).outputs[1]).toMatch(/no batch axis: the whole batch runs as one unit/);
  });

  it('runs settle the outputs: one that follows the rows is batched, one that does not keeps its own shape', () => {
    const r = roles(batchMeanModel());
    // The declaration is not trusted over the model's behaviour: say "r" were declared without shape.
    r.outputs[0]!.batched = undefined;
    const runs: ModelRun[] = [
      {
        rows: 16,
        outputs: [
          { name: 'r', dtype: 'float32', dims: [16, 4] },
          { name: 'mean', dtype: 'float32', dims: [4] },
        ],
      },
      {
        rows: 1,
        outputs: [
          { name: 'r', dtype: 'float32', dims: [1, 4] },
          { name: 'mean', dtype: 'float32', dims: [4] },
        ],
      },
    ];
    expect(settleOutputs(r, runs)).toEqual([
      { name: 'r', dtype: 'float32', batched: true, dims: [4] },
      { name: 'mean', dtype: 'float32', batched: false, dims: [4] },
    ]);
    // chunk(2) along the batch: its first axis is half the rows, not the batch.
    const chunk = settleOutputs(r, [
      { rows: 16, outputs: [{ name: 'r', dtype: 'float32', dims: [8, 4] }] },
      { rows: 2, outputs: [{ name: 'r', dtype: 'float32', dims: [1, 4] }] },
    ]);
    expect(chunk).toEqual([{ name: 'r', dtype: 'float32', batched: false, dims: [-1, 4] }]);
  });
});

describe('BYOM1: result shapes never blame a provider for what the model gives', () => {
  it('an axis is held to a size only where the model declares that number; a named or undeclared one may vary', () => {
    const r = readBatchRoles({
      inputs: [{ name: 'x', dtype: 'float32', dims: ['N', 4] }],
      outputs: [
        { name: 'fixed', dtype: 'float32', dims: ['N', 4] },
        { name: 'seq', dtype: 'float32', dims: ['N', 'L'] },
        { name: 'undeclared', dtype: 'int64', dims: [] },
      ],
    });
    const run = (rows: number): ModelRun => ({
      rows,
      outputs: [
        { name: 'fixed', dtype: 'float32', dims: [rows, 4] },
        { name: 'seq', dtype: 'float32', dims: [rows, 5] }, // 5 on both runs, but the model says "L"
        { name: 'undeclared', dtype: 'int64', dims: [2, 3] },
      ],
    });
    expect(settleOutputs(r, [run(8), run(1)])).toEqual([
      { name: 'fixed', dtype: 'float32', batched: true, dims: [4] },
      { name: 'seq', dtype: 'float32', batched: true, dims: [-1] },
      { name: 'undeclared', dtype: 'int64', batched: false, dims: [-1, -1] },
    ]);
  });
});

describe('BYOM2: onnxruntime-web errors in words a PyTorch user knows, with a next step', () => {
  it('an old-opset operator does not load: the reason and a re-export with opset 17 and dynamic_axes', async () => {
    const raw = await ortError(() => ort.InferenceSession.create(oldOpsetModel(), { executionProviders: ['wasm'] }));
    const e = explainModelError(raw);
    expect(e.summary).toBe(
      'the model uses Add from ONNX opset 6, older than onnxruntime-web supports (opset 7 or above)',
    );
    expect(e.next).toBe(REEXPORT_HINT);
    expect(e.next).toMatch(/opset_version=17, .*dynamic_axes=\{/);
    expect(e.raw).toBe(raw);
    expect(e.blamesModel).toBe(true);
  });

  it('a fixed batch given 16 rows names the input, the axis and the size the model takes', async () => {
    const session = await ort.InferenceSession.create(fixedBatchModel(), { executionProviders: ['wasm'] });
    const raw = await ortError(() => session.run({ x: new ort.Tensor('float32', new Float32Array(64), [16, 4]) }));
    const e = explainModelError(raw);
    expect(e.summary).toBe(
      'the model takes input "x" with exactly 20 on axis 0 (its shape was fixed at export), but it was given 16',
    );
    expect(e.next).toMatch(/^use units of 20 rows, or re-export/);
    expect(e.blamesModel).toBe(true);
  });

  it('an index out of range says which and how big the table is', async () => {
    const session = await ort.InferenceSession.create(gatherModel(), { executionProviders: ['wasm'] });
    const raw = await ortError(() => session.run({ idx: new ort.Tensor('int64', BigInt64Array.of(1n, 99n), [2]) }));
    const e = explainModelError(raw);
    expect(e.summary).toMatch(/an index in the input \(99\) is outside the table .* 10 entries/);
    expect(e.blamesModel).toBe(true);
  });

  it('internal source paths are dropped from unknown errors; device failures blame the provider', () => {
    const raw =
      '/onnxruntime/onnxruntime/core/providers/cpu/math/element_wise_ops.h:563 void onnxruntime::BroadcastIterator::Append(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 3 by 4';
    const e = explainModelError(raw);
    expect(e.summary).not.toMatch(/onnxruntime\/core|element_wise_ops/);
    expect(e.summary).toMatch(/shapes do not fit together/);
    expect(e.raw).toBe(raw);
    expect(explainModelError('a weird message at /onnxruntime/core/x.cc:12 here').summary).toBe(
      'a weird message at here',
    );
    expect(explainModelError('GPUDevice was lost: device lost').blamesModel).toBe(false);
    // What the provider's own compute worker and model cache say blames the provider, not the model.
    for (const providerSide of [
      'the compute worker stopped (script error); reload the page to start a new one',
      'the wasm runtime did not start within 30 s; check the network tab for a failed .wasm download, then reload',
      'model not cached',
      'model vanished from the cache',
      'no model for this job yet',
      'model 0123456789abcdef… is not loaded in this worker; load it first',
    ])
      expect(explainModelError(providerSide).blamesModel, providerSide).toBe(false);
  });
});
