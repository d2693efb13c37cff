import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../random';
import {
  applyPolicyPatch,
  encodePolicyPatch,
  encodePolicySnapshot,
  policyFromSnapshot,
  publishPolicy,
} from './policy-version';

function weights(n: number, seed: number): Float32Array {
  const u = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (u() - 0.5) * 0.1);
}

describe('policy versions (RL-P1..P3)', () => {
  it('RL-P1: a patch rebuilds the next published policy bit for bit and names its hash', async () => {
    const master = weights(5000, 1);
    const v0 = await publishPolicy(0, master);
    const next = Float32Array.from(master, (x, i) => (i % 7 === 0 ? x + 1e-3 : x + 1e-9));
    const v1 = await publishPolicy(1, next);
    expect(v1.hash).not.toBe(v0.hash);
    const bytes = await encodePolicyPatch(v0, v1);
    const got = await applyPolicyPatch(v0, bytes, 1);
    expect(got.hash).toBe(v1.hash);
    expect(Array.from(got.bf16)).toEqual(Array.from(v1.bf16));
    // Only the values that crossed a bf16 step travel: far fewer bytes than the bf16 model.
    expect(bytes.length).toBeLessThan(v1.bf16.byteLength / 2);
  });

  it('RL-P2: a patch applied to another base is refused', async () => {
    const v0 = await publishPolicy(0, weights(1000, 2));
    const v1 = await publishPolicy(1, weights(1000, 3));
    const other = await publishPolicy(0, weights(1000, 4));
    const bytes = await encodePolicyPatch(v0, v1);
    await expect(applyPolicyPatch(other, bytes, 1)).rejects.toThrow();
  });

  it('RL-P3: a snapshot restores the policy; a snapshot of another size is refused', async () => {
    const v = await publishPolicy(3, weights(2000, 5));
    const bytes = await encodePolicySnapshot(v);
    const got = await policyFromSnapshot(bytes, 3, 2000);
    expect(got.hash).toBe(v.hash);
    await expect(policyFromSnapshot(bytes, 3, 1000)).rejects.toThrow();
  });
});
