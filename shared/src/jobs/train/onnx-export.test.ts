import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { inspectOnnxModel } from '../../tensor';
import { arenaFor, PRESETS, WasmBackend } from '../../train';
import { WasmTrainEngine } from './engine';
import { exportGptOnnx } from './onnx-export';
import { GreedySampler } from './sample';
import { prepareData, TrainSession } from './session';
import { defaultTrainSpec } from './spec';

// onnxruntime-web resolves to its Node build here and runs the same WASM kernels as in the browser.
ort.env.wasm.numThreads = 1;

const TEXT = Array.from(
  { length: 300 },
  (_, i) => `Number ${i % 17} walks past the ${['red', 'blue'][i % 2]} door. `,
).join('');

describe('ONNX export of a trained GPT', () => {
  it('TRAINJOB-ONNX1: onnxruntime-web computes the engine’s logits within 1e-4, at full and at short lengths', async () => {
    const spec = {
      ...defaultTrainSpec('job-onnxtest', 0),
      batch: 2,
      steps: 5,
      evalEvery: 5,
      sampleEvery: 5,
      checkpointEvery: 5,
    };
    const data = prepareData(PRESETS.tiny, TEXT);
    const engine = new WasmTrainEngine(new WasmBackend(arenaFor(spec.model, spec.batch, spec.model.context)));
    const session = new TrainSession(spec, {
      engine,
      sampler: null,
      data,
      emit: () => {},
      now: () => 0,
      yieldNow: async () => {},
    });
    await session.run();
    const params = Float32Array.from(await engine.params());
    const bytes = exportGptOnnx(spec.model, params, data.tokenizer);
    const info = inspectOnnxModel(bytes);
    expect(info.inputs).toEqual([{ name: 'input_ids', dtype: 'int32', dims: ['batch', 'seq'] }]);

    const sampler = new GreedySampler(spec.model);
    sampler.setParams(params);
    const ort_ = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    try {
      for (const seq of [spec.model.context, 17]) {
        const rows = [data.tokens.slice(0, seq), data.tokens.slice(100, 100 + seq)];
        const ids = new Int32Array(2 * seq);
        rows.forEach((r, b) => ids.set(r, b * seq));
        const out = await ort_.run({ input_ids: new ort.Tensor('int32', ids, [2, seq]) });
        const logits = out.logits!;
        expect(logits.dims).toEqual([2, seq, spec.model.vocab]);
        const got = logits.data as Float32Array;
        let maxDiff = 0;
        let maxAbs = 0;
        rows.forEach((r, b) => {
          const want = sampler.logits(r);
          const base = b * seq * spec.model.vocab;
          for (let i = 0; i < want.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(got[base + i]! - want[i]!));
            maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
          }
        });
        console.log(
          `seq ${seq}: max |ort − engine| = ${maxDiff.toExponential(2)} over logits up to ${maxAbs.toFixed(2)}`,
        );
        expect(maxAbs).toBeGreaterThan(0.5);
        expect(maxDiff).toBeLessThan(1e-4);
      }
    } finally {
      await ort_.release();
      sampler.dispose();
    }
  });
});
