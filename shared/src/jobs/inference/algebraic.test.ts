import { describe, expect, it } from 'vitest';
import type { JobSpec } from '../job';
import { matmul256 } from '../../models';
import type { RawTensor } from '../../protocol/peer';
import { seededRandom } from '../../trust';
import { algebraicCheckFor } from './algebraic';

const N = Number(matmul256.inputs[0]!.dims[1]);
const ROWS = 4;

const spec: JobSpec = {
  schema: 2,
  id: 'job-matmul-p',
  name: 'matmul',
  createdAt: 1,
  model: { hash: '0'.repeat(32), name: 'matmul', bytes: 1, builtinId: matmul256.id },
  inputs: [{ name: 'x', dtype: 'float32', dims: [ROWS, N] }],
  outputs: [{ name: 'y', dtype: 'float32', dims: [-1, N] }],
  rows: ROWS,
  unitRows: ROWS,
  redundancy: 1,
  spotCheckRate: 0.03,
  maxProviders: 4,
};

function honestUnit(): { inputs: RawTensor[]; outputs: RawTensor[] } {
  const x = Float32Array.from({ length: ROWS * N }, (_, i) => Math.cos(i));
  const y = Float32Array.from(
    matmul256.reference({ x: { dtype: 'float32', dims: [ROWS, N], data: x } }).y!.data as ArrayLike<number>,
  );
  return {
    inputs: [{ name: 'x', dtype: 'float32', dims: [ROWS, N], bytes: new Uint8Array(x.buffer) }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [ROWS, N], bytes: new Uint8Array(y.buffer) }],
  };
}

describe('algebraic check for matrix-product jobs', () => {
  it("TRUST-J2: Freivalds runs the rounds the job's false-accept probability calls for; a spec without one uses the default", () => {
    const { inputs, outputs } = honestUnit();
    const rounds = (p?: number) => {
      const verdict = algebraicCheckFor({ ...spec, falseAcceptProbability: p }, seededRandom(3))!(inputs, outputs);
      if (!verdict.ok) throw new Error(verdict.reason);
      return verdict.rounds;
    };
    expect(rounds()).toBe(20); // 1e-6
    expect(rounds(0.25)).toBe(2);
    expect(rounds(0.5)).toBe(1);
    expect(rounds(1e-9)).toBe(30);
  });
});
