/**
 * The job the in-memory tests run: y = a·x + b per value as a real ONNX
 * model (Mul and Add with two float initializers, a = 2 and b = 1 unless
 * given), run by functionEngine(affine) or by affineEngine, which reads a and b
 * from the model it is given; over `rows` × 4 float inputs (i / 7), in units of
 * 4 rows, with no spot checks unless overridden.
 */
import type { JobSpec } from '@shared/jobs';
import { encodeModel, floatInitializer, node } from '@shared/models/onnx-builder';
import type { RawTensor } from '@shared/protocol';
import { modelVersion } from '@shared/tensor';
import { JobModel } from '../requester/job-model';

/**
 * y = a·x + b as an .onnx file; versions of it differ only in a and b (and in
 * `ballast`, a float initializer the graph does not use, to give a version the
 * size of a real model's weights).
 */
export function affineModel(a = 2, b = 1, ballast?: Float32Array): Uint8Array {
  return encodeModel({
    name: 'affine',
    inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 4] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 4] }],
    nodes: [node('Mul', ['x', 'a'], ['ax']), node('Add', ['ax', 'b'], ['y'])],
    initializers: [
      floatInitializer('a', [1], Float32Array.of(a)),
      floatInitializer('b', [1], Float32Array.of(b)),
      ...(ballast ? [floatInitializer('ballast', [ballast.length], ballast)] : []),
    ],
  });
}

export const AFFINE_MODEL = affineModel();
export const affine = (x: number): number => 2 * x + 1;
const COLS = 4;

export async function affineJob(
  id: string,
  rows: number,
  overrides: Partial<JobSpec> = {},
): Promise<{ spec: JobSpec; inputs: RawTensor[] }> {
  const data = Float32Array.from({ length: rows * COLS }, (_, i) => i / 7);
  const spec: JobSpec = {
    schema: 2,
    id,
    name: id,
    createdAt: 1,
    model: { hash: (await modelVersion(AFFINE_MODEL)).hash, name: 'f', bytes: AFFINE_MODEL.length },
    inputs: [{ name: 'x', dtype: 'float32', dims: [rows, COLS] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [-1, COLS] }],
    rows,
    unitRows: 4,
    redundancy: 1,
    spotCheckRate: 0,
    maxProviders: 4,
    ...overrides,
  };
  return { spec, inputs: [{ name: 'x', dtype: 'float32', dims: [rows, COLS], bytes: new Uint8Array(data.buffer) }] };
}

/** A job's model with one version, from an .onnx file. */
export async function jobModelOf(bytes: Uint8Array): Promise<JobModel> {
  return JobModel.open([await modelVersion(bytes)]);
}
