import { beforeAll, describe, expect, it } from 'vitest';
import { createIdentity, type Identity } from '../identity';
import { hashOutputs, type ResultTensor } from './tensor';
import { resultClaimBytes, signResult, verifySignedResult, type SignedResult } from './signedResult';

let provider: Identity;
let other: Identity;
beforeAll(async () => {
  provider = await createIdentity();
  other = await createIdentity();
});

const t = (values: number[]): ResultTensor => ({
  dtype: 'float32',
  dims: [values.length],
  data: Float32Array.from(values),
});

async function setup() {
  const inputHash = await hashOutputs([t([1, 2, 3])]);
  const resultHash = await hashOutputs([t([4, 5])]);
  const binding = { network: 'test-network', requester: other.peerId, session: 'S'.repeat(22) };
  const signed = await signResult(provider, { ...binding, jobId: 'job-00001', unitId: 7, inputHash, resultHash });
  const expected = { ...binding, provider: provider.peerId, jobId: 'job-00001', unitId: 7, inputHash, resultHash };
  return { signed, expected };
}

describe('signed results', () => {
  it('TRUST-S1: the signed bytes are canonical, domain-separated and bind the provider key', async () => {
    const { signed } = await setup();
    const bytes = resultClaimBytes(provider.peerId, signed);
    expect(new TextDecoder().decode(bytes)).toContain('basilica-trust/result/v2');
    expect(resultClaimBytes(other.peerId, signed)).not.toEqual(bytes);
    expect(resultClaimBytes(provider.peerId, { ...signed, unitId: 8 })).not.toEqual(bytes);
    // field boundaries are framed: moving characters between fields changes the bytes
    expect(resultClaimBytes(provider.peerId, { ...signed, jobId: 'ab', unitId: 1 })).not.toEqual(
      resultClaimBytes(provider.peerId, { ...signed, jobId: 'a', unitId: 1 }),
    );
    // hashes depend on dims and dtype, not only on the raw bytes
    const flat = await hashOutputs([{ dtype: 'float32', dims: [4], data: new Float32Array(4) }]);
    const square = await hashOutputs([{ dtype: 'float32', dims: [2, 2], data: new Float32Array(4) }]);
    const ints = await hashOutputs([{ dtype: 'int32', dims: [4], data: new Int32Array(4) }]);
    expect(new Set([flat, square, ints]).size).toBe(3);
  });

  it('TRUST-S2: a correctly signed result verifies; unsigned, mis-signed or mismatched results are dropped', async () => {
    const { signed, expected } = await setup();
    expect(await verifySignedResult(signed, expected)).toMatchObject({ ok: true });
    const otherHash = await hashOutputs([t([9])]);
    const forgedByOther: SignedResult = { ...(await signResult(other, signed)), provider: provider.peerId };
    const cases: [unknown, Partial<typeof expected>, string][] = [
      [{ ...signed, signature: undefined }, {}, 'malformed'],
      [null, {}, 'malformed'],
      [{ ...signed, signature: 'A'.repeat(86) }, {}, 'bad-signature'],
      [forgedByOther, {}, 'bad-signature'],
      [{ ...signed, resultHash: otherHash }, { resultHash: otherHash }, 'bad-signature'],
      [signed, { provider: other.peerId }, 'wrong-provider'],
      [signed, { unitId: 8 }, 'wrong-unit'],
      [signed, { jobId: 'job-00002' }, 'wrong-unit'],
      [signed, { inputHash: otherHash }, 'wrong-input'],
      [signed, { network: 'other-network' }, 'wrong-session'],
      [signed, { requester: provider.peerId }, 'wrong-session'],
      [signed, { session: 'T'.repeat(22) }, 'wrong-session'],
      [{ ...signed, session: 'T'.repeat(22) }, { session: 'T'.repeat(22) }, 'bad-signature'],
      [signed, { resultHash: otherHash }, 'wrong-result'],
    ];
    for (const [value, change, reason] of cases) {
      expect(await verifySignedResult(value, { ...expected, ...change }), reason).toEqual({ ok: false, reason });
    }
  });

  it('TRUST-S3: the signature binds the network, the requester and the pairing session', async () => {
    const { signed } = await setup();
    const bytes = resultClaimBytes(provider.peerId, signed);
    expect(resultClaimBytes(provider.peerId, { ...signed, network: 'other-network' })).not.toEqual(bytes);
    expect(resultClaimBytes(provider.peerId, { ...signed, requester: provider.peerId })).not.toEqual(bytes);
    expect(resultClaimBytes(provider.peerId, { ...signed, session: 'T'.repeat(22) })).not.toEqual(bytes);
  });
});
