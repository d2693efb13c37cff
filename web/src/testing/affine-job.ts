/**
 * The job the in-memory tests run: a pretend model whose engine is
 * functionEngine(affine) (y = 2x + 1 per value), over `rows` × 4 float inputs
 * (i / 7), in units of 4 rows, with no spot checks unless overridden.
 */
import { sha256Hex } from '@shared/bytes';
import type { JobSpec } from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';

export const AFFINE_MODEL = new TextEncoder().encode('pretend onnx bytes');
export const affine = (x: number): number => 2 * x + 1;
const COLS = 4;

export async function affineJob(
  id: string,
  rows: number,
  overrides: Partial<JobSpec> = {},
): Promise<{ spec: JobSpec; inputs: RawTensor[] }> {
  const data = Float32Array.from({ length: rows * COLS }, (_, i) => i / 7);
  const spec: JobSpec = {
    schema: 1,
    id,
    name: id,
    createdAt: 1,
    model: { hash: await sha256Hex(AFFINE_MODEL), name: 'f', bytes: AFFINE_MODEL.length },
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
