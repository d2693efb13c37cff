import { describe, expect, it } from 'vitest';
import type { RawTensor } from '@shared/protocol';
import { DEFAULT_TOLERANCES, type ToleranceTable } from '@shared/trust';
import { providerAdapterClass, ReplicaQuorums } from './replicas';

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

/** What a 2-replica quorum does once both replicas of unit 0 are in. */
function secondReplica(table: ToleranceTable, classA: string, classB: string): string {
  const quorums = new ReplicaQuorums(2, table);
  quorums.dispatched(0, 'a');
  quorums.dispatched(0, 'b');
  expect(quorums.resultArrived(0, { peerId: 'a', adapterClass: classA, result: honest }).kind).toBe('wait');
  return quorums.resultArrived(0, { peerId: 'b', adapterClass: classB, result: drifted }).kind;
}

describe('replica quorums', () => {
  it("TRUST-J2: replicas are compared with the job's tolerance table, the row their adapter classes pick", () => {
    // Same class (same GPU): the same-class row decides.
    expect(secondReplica(DEFAULT_TOLERANCES, gpu, gpu)).toBe('dispatch');
    expect(secondReplica({ ...DEFAULT_TOLERANCES, sameClass: loose }, gpu, gpu)).toBe('accept');
    expect(secondReplica({ ...DEFAULT_TOLERANCES, crossClass: loose }, gpu, gpu)).toBe('dispatch');
    // WebGPU against WASM: the cross-class row decides.
    const wasm = providerAdapterClass({ backend: 'wasm' });
    expect(secondReplica(DEFAULT_TOLERANCES, gpu, wasm)).toBe('dispatch');
    expect(secondReplica({ ...DEFAULT_TOLERANCES, crossClass: loose }, gpu, wasm)).toBe('accept');
    expect(secondReplica({ ...DEFAULT_TOLERANCES, sameClass: loose }, gpu, wasm)).toBe('dispatch');
  });
});
