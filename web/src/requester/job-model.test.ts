/**
 * A job's model versions and what a provider is sent for one: the frame only
 * when it lacks it, patches from what it holds, an anchor when it holds
 * nothing; a new version must be the same graph, and a refusal names the tensor.
 */
import { describe, expect, it } from 'vitest';
import { encodeModel, floatInitializer, node } from '@shared/models/onnx-builder';
import { onnx } from '@shared/tensor/onnx-proto';
import { modelVersion, OnnxModelError } from '@shared/tensor';
import { affineModel } from '../testing/affine-job';
import { JobModel, ModelVersionError } from './job-model';

/** ~256 kB of float weights; `nudged` moves ~1% of them by one ulp. */
function weights(nudged = 0): Float32Array {
  const w = Float32Array.from({ length: 65_536 }, (_, i) => Math.sin(i * 0.37) * 0.02);
  const bits = new Uint32Array(w.buffer);
  for (let i = 0; i < bits.length && nudged > 0; i += 97) bits[i]! += nudged;
  return w;
}

const version = (a: number, b: number, w = weights()) => modelVersion(affineModel(a, b, w));

describe('JobModel', () => {
  it('JM1: a new version of another graph, dtype or shape is refused naming the tensor; the same weights publish nothing', async () => {
    const model = await JobModel.open([await version(2, 1)]);
    await expect(model.publish(await modelVersion(affineModel(2, 1)))).rejects.toThrow(/"ballast" .* is missing/);
    await expect(model.publish(await modelVersion(affineModel(2, 1, new Float32Array(5))))).rejects.toThrow(
      /tensor "ballast" has shape \[5\]/,
    );
    const otherGraph = encodeModel({
      name: 'affine',
      inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 4] }],
      nodes: [node('Mul', ['x', 'a'], ['ax']), node('Sub', ['ax', 'b'], ['y'])],
      initializers: [
        floatInitializer('a', [1], Float32Array.of(2)),
        floatInitializer('b', [1], Float32Array.of(1)),
        floatInitializer('ballast', [65_536], weights()),
      ],
    });
    await expect(model.publish(await modelVersion(otherGraph))).rejects.toThrow(ModelVersionError);
    await expect(model.publish(await modelVersion(otherGraph))).rejects.toThrow(/the graph differs/);
    expect(await model.publish(await version(2, 1))).toEqual({ number: 1, hash: model.current.hash });
    expect(model.versionNumber).toBe(1);
  });

  it('JM2: a provider holding v1 gets v2 as a patch ≤ 1/50 of the full model, and no frame when it has it', async () => {
    const v1 = await version(2, 1);
    const model = await JobModel.open([v1]);
    const full = await model.transfer(v1.hash, [], false);
    expect(full.header.frameBytes).toBe(v1.parts.frame.length);
    expect(full.header.entries.map((e) => e.from)).toEqual([null]);
    const v2 = await version(2, 1, weights(1));
    expect(await model.publish(v2)).toEqual({ number: 2, hash: v2.hash });
    const patch = await model.transfer(v2.hash, [v1.hash], true);
    expect(patch.header.frameBytes).toBe(0);
    expect(patch.header.entries).toEqual([
      { from: v1.weightsHash, to: v2.weightsHash, byteLength: patch.weightsBytes },
    ]);
    expect(patch.body.length * 50).toBeLessThanOrEqual(full.body.length);
  });

  it('JM3: a late joiner holding v1 gets v3 by the two patches v1→v2→v3, not an anchor', async () => {
    const v1 = await version(2, 1);
    const model = await JobModel.open([v1, await version(2, 1, weights(1)), await version(2, 1, weights(2))]);
    const v3 = model.current;
    const late = await model.transfer(v3.hash, [v1.hash], true);
    expect(late.header.entries.map((e) => e.to)).toHaveLength(2);
    expect(late.header.entries.at(-1)!.to).toBe(v3.weightsHash);
    const fresh = await model.transfer(v3.hash, [], true);
    expect(late.body.length * 20).toBeLessThan(fresh.body.length);
  });

  it('JM4: an .onnx with external data or over the size limit is refused with the reason and the limit', async () => {
    const external = onnx.ModelProto.decode(affineModel(2, 1));
    external.graph!.initializer![0]!.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    const bytes = onnx.ModelProto.encode(external).finish();
    await expect(modelVersion(bytes)).rejects.toThrow(OnnxModelError);
    await expect(modelVersion(bytes)).rejects.toThrow(/external data/);
    await expect(modelVersion(affineModel(2, 1, weights()), 1024)).rejects.toThrow(/over the 1\.0 KiB limit/);
  });
});
