/** Per-result cost of signing and verifying (provider signs, requester verifies), measured here. */
import { createIdentity } from '@shared/identity';
import { signResult, verifySignedResult } from '@shared/trust';

export async function measureSignatureCost(count: number): Promise<{ signUs: number; verifyUs: number }> {
  const id = await createIdentity();
  const hash = 'ab'.repeat(32);
  const binding = { network: 'bench-network', requester: id.peerId, session: 'B'.repeat(22) };
  const claims = Array.from({ length: count }, (_, unitId) => ({
    ...binding,
    jobId: 'bench-job',
    unitId,
    inputHash: hash,
    resultHash: hash,
  }));
  let t = performance.now();
  const signed = [];
  for (const c of claims) signed.push(await signResult(id, c));
  const signUs = ((performance.now() - t) * 1000) / count;
  t = performance.now();
  for (const s of signed) {
    const r = await verifySignedResult(s, {
      ...binding,
      provider: id.peerId,
      jobId: s.jobId,
      unitId: s.unitId,
      inputHash: hash,
      resultHash: hash,
    });
    if (!r.ok) throw new Error('bench: a signed result failed to verify');
  }
  return { signUs, verifyUs: ((performance.now() - t) * 1000) / count };
}
