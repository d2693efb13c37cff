import { describe, expect, it } from 'vitest';
import type { RawTensor } from '../../protocol';
import { DEFAULT_TOLERANCES, ReputationBook, resolvePolicy, type ToleranceTable } from '../../trust';
import { JobCoordinator } from '../coordinator';
import type { JobSpec } from '../job';
import { inferenceKind, providerAdapterClass } from './kind';

const y = Float32Array.from({ length: 16 }, (_, i) => 1 + i / 3);
const tensor = (data: Float32Array): RawTensor[] => [
  { name: 'y', dtype: 'float32', dims: [4, 4], bytes: new Uint8Array(data.buffer) },
];
const honest = tensor(y);
/** 1e-3 relative off: far outside the default tolerances, inside rtol 1e-2. */
const drifted = tensor(y.map((v) => v * (1 + 1e-3)));

const gpu = providerAdapterClass({
  backend: 'webgpu',
  adapter: { vendor: 'nvidia', architecture: 'ampere', device: '', description: '' },
});
const loose = { rtol: 1e-2, atol: 0 };

function spec(tolerance: ToleranceTable): JobSpec {
  return {
    schema: 2,
    id: 'job-replicas',
    name: 'replicas',
    createdAt: 0,
    model: { hash: '0'.repeat(32), name: 'm', bytes: 1 },
    inputs: [{ name: 'x', dtype: 'float32', dims: [4, 4] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [-1, 4] }],
    rows: 4,
    unitRows: 4,
    redundancy: 2,
    spotCheckRate: 0,
    maxProviders: 2,
    tolerance,
  };
}

/** What a 2-replica quorum of the shipped coordinator does once both replicas of unit 0 are in. */
function secondReplica(table: ToleranceTable, classA: string, classB: string): string {
  const input: RawTensor = { name: 'x', dtype: 'float32', dims: [4, 4], bytes: new Uint8Array(64) };
  const kind = inferenceKind(spec(table), [input]);
  const coordinator = new JobCoordinator({
    jobId: 'job-replicas',
    units: kind.units,
    policy: resolvePolicy({ redundancy: 2, tolerance: table }),
    reputation: new ReputationBook(() => 0),
    agree: kind.agree,
    canCheck: false,
  });
  expect(coordinator.providerReady('a', classA)).toEqual([{ type: 'send', peerId: 'a', unitId: 0 }]);
  expect(coordinator.providerReady('b', classB)).toEqual([{ type: 'send', peerId: 'b', unitId: 0 }]);
  expect(coordinator.resultArrived('a', 0, honest)).toEqual([]);
  const [first] = coordinator.resultArrived('b', 0, drifted);
  return first?.type ?? 'nothing';
}

describe('inference kind: replicas through the coordinator', () => {
  it("TRUST-J2: replicas are compared with the job's tolerance table, the row their adapter classes pick", () => {
    // Same class (same GPU): the same-class row decides.
    expect(secondReplica(DEFAULT_TOLERANCES, gpu, gpu)).toBe('disagreement');
    expect(secondReplica({ ...DEFAULT_TOLERANCES, sameClass: loose }, gpu, gpu)).toBe('accept');
    expect(secondReplica({ ...DEFAULT_TOLERANCES, crossClass: loose }, gpu, gpu)).toBe('disagreement');
    // WebGPU against WASM: the cross-class row decides.
    const wasm = providerAdapterClass({ backend: 'wasm' });
    expect(secondReplica(DEFAULT_TOLERANCES, gpu, wasm)).toBe('disagreement');
    expect(secondReplica({ ...DEFAULT_TOLERANCES, crossClass: loose }, gpu, wasm)).toBe('accept');
    expect(secondReplica({ ...DEFAULT_TOLERANCES, sameClass: loose }, gpu, wasm)).toBe('disagreement');
  });
});
