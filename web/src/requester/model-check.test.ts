/**
 * Issue 17's classes of "bring your own model", through the code that ships:
 * the plan, the submit check on onnxruntime-web (its Node build runs the
 * browser's WASM kernels), then every unit computed and judged by the
 * inference kind and the coordinator, as a provider's results would be.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { inferenceKind, inferenceKind as kindOf, JobCoordinator, REEXPORT_HINT } from '@shared/jobs';
import {
  BIAS_INPUT,
  batchMeanModel,
  batchMeanReference,
  biasInputModel,
  biasInputReference,
  FIXED_BATCH,
  fixedBatchModel,
  fixedBatchReference,
  gatherModel,
  oldOpsetModel,
} from '@shared/jobs/inference/testing/byom-models';
import { rawFromTensor, tensorFromRaw, type RawTensor } from '@shared/protocol';
import { ReputationBook, resolvePolicy } from '@shared/trust';
import { checkModelRuns } from './model-check';
import { checkUnitFits, PlanError, planJob, type JobDraft, type PlannedJob } from './plan';

/** The compute engine's contract on onnxruntime-web in Node. */
function ortEngine() {
  const sessions = new Map<string, ort.InferenceSession>();
  return {
    async load(hash: string, bytes: Uint8Array) {
      if (!sessions.has(hash))
        sessions.set(hash, await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] }));
    },
    async run(hash: string, inputs: RawTensor[]): Promise<RawTensor[]> {
      const session = sessions.get(hash)!;
      const feeds: Record<string, ort.Tensor> = {};
      for (const t of inputs) {
        const tensor = tensorFromRaw(t);
        feeds[t.name] = new ort.Tensor(tensor.dtype, tensor.data, tensor.dims);
      }
      const out = await session.run(feeds);
      return session.outputNames.map((name) => {
        const value = out[name]!;
        return rawFromTensor(name, {
          dtype: value.type as 'float32',
          dims: [...value.dims],
          data: value.data as Float32Array,
        });
      });
    },
  };
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const rowsOf = (rows: number, cols: number) =>
  Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => (r * cols + c) / 7 - 3));

function draft(model: Uint8Array, inputs: unknown, unitRows = 16): JobDraft {
  return {
    name: '',
    model: { kind: 'upload', fileName: 'mine.onnx', bytes: model },
    inputs: { kind: 'upload', fileName: 'inputs.json', bytes: json(inputs) },
    unitRows,
    redundancy: 1,
    spotCheckRate: 0,
    maxProviders: 2,
  };
}

async function plannedAndChecked(d: JobDraft): Promise<PlannedJob> {
  return checkModelRuns(ortEngine(), await planJob(d));
}

/** Every unit run by an honest engine, validated and accepted by the shipped kind and coordinator. */
async function runAllUnits(planned: PlannedJob): Promise<{ outputs: RawTensor[][]; rejected: number }> {
  const kind = inferenceKind(planned.spec, planned.inputs);
  const engine = ortEngine();
  await engine.load(planned.spec.model.hash, planned.modelBytes);
  const coordinator = new JobCoordinator({
    jobId: planned.spec.id,
    units: kind.units,
    policy: resolvePolicy({ adaptive: false, sampleRate: 0 }),
    reputation: new ReputationBook(() => 0),
    agree: kind.agree,
    blamesModel: kind.blamesModel,
    canCheck: false,
  });
  const outputs: RawTensor[][] = [];
  let queue = coordinator.providerReady('p', 'wasm');
  while (queue.length > 0) {
    const command = queue.shift()!;
    if (command.type === 'accept') outputs[command.unitId] = command.result;
    if (command.type !== 'send') continue;
    const result = await engine.run(planned.spec.model.hash, kind.unit(command.unitId));
    const shapeError = kind.validate(command.unitId, result);
    queue.push(
      ...(shapeError
        ? coordinator.refuse('p', shapeError, command.unitId)
        : coordinator.resultArrived('p', command.unitId, result)),
    );
  }
  expect(coordinator.complete).toBe(true);
  return { outputs, rejected: coordinator.stats.rejected };
}

const floats = (t: RawTensor) => Array.from(tensorFromRaw(t).data as Float32Array);

describe('BYOM3: a model is checked on onnxruntime-web before its job opens', () => {
  it('an old-opset operator that onnxruntime-web cannot load is refused with the reason and a re-export to do', async () => {
    const planned = await planJob(draft(oldOpsetModel(), { x: rowsOf(4, 4) }));
    const refusal = await checkModelRuns(ortEngine(), planned).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refusal).toBeInstanceOf(PlanError);
    const { message, details } = refusal as PlanError;
    expect(message).toBe(
      `this model does not load in onnxruntime-web: the model uses Add from ONNX opset 6, older than onnxruntime-web supports (opset 7 or above). Next step: ${REEXPORT_HINT}.`,
    );
    expect(details).toMatch(/Could not find an implementation for Add\(6\)/); // the raw words, for "details"
  });

  it('a model that loads but fails on the first unit is refused with the words onnxruntime used', async () => {
    const planned = await planJob(draft(gatherModel(), { idx: [1, 2, 99, 3] }));
    await expect(checkModelRuns(ortEngine(), planned)).rejects.toThrow(
      /^the model loads but fails on the first 4 rows: an index in the input \(99\) is outside the table/,
    );
  });
});

describe('BYOM4: fixed batch, inputs and outputs without a batch axis', () => {
  it('a batch fixed at 20 sets the unit size (16 asked); units of 20 complete equal to the reference', async () => {
    const x = rowsOf(3 * FIXED_BATCH, 4);
    const planned = await plannedAndChecked(draft(fixedBatchModel(), { x }, 16));
    expect(planned.spec.unitRows).toBe(FIXED_BATCH);
    expect(planned.notes).toEqual(['units are 20 rows, the batch size fixed in the model']);
    expect(planned.spec.outputs).toEqual([{ name: 'y', dtype: 'float32', dims: [60, 4] }]);
    const { outputs, rejected } = await runAllUnits(planned);
    expect(rejected).toBe(0);
    expect(outputs.length).toBe(3);
    expect(outputs.flatMap((o) => floats(o[0]!))).toEqual(Array.from(fixedBatchReference(Float32Array.from(x.flat()))));
  });

  it('a fixed batch with rows that are not a multiple of it is refused with what to do', async () => {
    await expect(planJob(draft(fixedBatchModel(), { x: rowsOf(30, 4) }))).rejects.toThrow(
      /takes exactly 20 rows per run .* inputs have 30: give a multiple of 20 rows, or re-export with torch\.onnx\.export/,
    );
  });

  it('a bias passed as a second input has no batch axis: it goes whole with every unit; results equal the reference', async () => {
    const x = rowsOf(10, 3);
    const planned = await plannedAndChecked(draft(biasInputModel(), { x, b: Array.from(BIAS_INPUT) }, 4));
    expect(planned.spec.inputs).toEqual([
      { name: 'x', dtype: 'float32', dims: [10, 3] },
      { name: 'b', dtype: 'float32', dims: [3], batched: false },
    ]);
    expect(planned.spec.unitRows).toBe(4);
    const unit2 = kindOf(planned.spec, planned.inputs).unit(2);
    expect(unit2.map((t) => t.dims)).toEqual([[2, 3], [3]]); // the last 2 rows, and the whole bias
    const { outputs, rejected } = await runAllUnits(planned);
    expect(rejected).toBe(0);
    expect(outputs.flatMap((o) => floats(o[0]!))).toEqual(
      Array.from(biasInputReference(Float32Array.from(x.flat()), BIAS_INPUT)),
    );
  });

  it('an output without a batch axis runs the whole batch as one unit; its honest result is accepted, not refused', async () => {
    const x = rowsOf(40, 4);
    const planned = await plannedAndChecked(draft(batchMeanModel(), { x }, 16));
    expect(planned.spec.unitRows).toBe(40);
    expect(planned.notes).toEqual(['output "mean" has no batch axis: the whole batch runs as one unit']);
    expect(planned.spec.outputs).toEqual([
      { name: 'r', dtype: 'float32', dims: [40, 4] },
      { name: 'mean', dtype: 'float32', dims: [4], batched: false },
    ]);
    const { outputs, rejected } = await runAllUnits(planned);
    expect(rejected).toBe(0);
    const mean = floats(outputs[0]![1]!);
    const reference = batchMeanReference(Float32Array.from(x.flat()));
    mean.forEach((m, i) => expect(m).toBeCloseTo(reference[i]!, 5));
  });

  it('the shape check holds a result to the shape the model gives: a wrong one is still caught', async () => {
    const planned = await plannedAndChecked(draft(batchMeanModel(), { x: rowsOf(8, 4) }));
    const kind = inferenceKind(planned.spec, planned.inputs);
    const honest = await (async () => {
      const engine = ortEngine();
      await engine.load(planned.spec.model.hash, planned.modelBytes);
      return engine.run(planned.spec.model.hash, kind.unit(0));
    })();
    expect(kind.validate(0, honest)).toBeUndefined();
    const batchShaped = [honest[0]!, { ...honest[1]!, dims: [8, 4], bytes: new Uint8Array(128) }];
    expect(kind.validate(0, batchShaped)).toBe('mean [8, 4] float32, expected mean [4] float32');
  });

  it('a unit larger than a provider takes in one message is refused with what to change', () => {
    // Only the sizes matter: no 300 MiB buffer is allocated.
    const big = {
      name: 'x',
      dtype: 'float32',
      dims: [1000, 1],
      bytes: { length: 300 * 2 ** 20 },
    } as unknown as RawTensor;
    const spec = { rows: 1000, inputs: [{ name: 'x', dtype: 'float32' as const, dims: [1000, 1] }] };
    expect(() => checkUnitFits(spec, [big], 1000)).toThrow(
      /^one unit of 1000 rows would carry 300 MiB of inputs, more than the 256 MiB .*; split the inputs into smaller jobs$/,
    );
    expect(() => checkUnitFits(spec, [big], 900)).toThrow(/lower the unit size$/);
    expect(() => checkUnitFits(spec, [big], 500)).not.toThrow();
  });
});
