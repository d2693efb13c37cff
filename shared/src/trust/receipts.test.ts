import { beforeAll, describe, expect, it } from 'vitest';
import { createIdentity, type Identity } from '../identity';
import { ReceiptError } from './errors';
import { leaderboardFrom } from './leaderboard';
import { issueReceipt, ReceiptStore, verifyReceipt, type Receipt } from './receipts';

let requester: Identity;
let provider: Identity;
let stranger: Identity;
beforeAll(async () => {
  [requester, provider, stranger] = await Promise.all([createIdentity(), createIdentity(), createIdentity()]);
});

const terms = (unitId = 1, flops = 1e9) => ({
  network: 'test-network',
  provider: provider.peerId,
  jobId: 'job-00001',
  unitId,
  flops,
  durationMs: 120,
  issuedAt: 1_795_000_000_000,
});

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(ReceiptError);
  await expect(p).rejects.toMatchObject({ code });
}

describe('receipts', () => {
  it('TRUST-R1: a receipt verifies offline from the requester key alone', async () => {
    const r = await issueReceipt(requester, terms());
    const copy = JSON.parse(JSON.stringify(r)) as unknown;
    await expect(verifyReceipt(copy)).resolves.toEqual(r);
    await expect(
      verifyReceipt(copy, { provider: provider.peerId, requesters: new Set([requester.peerId]) }),
    ).resolves.toEqual(r);
    const again = await issueReceipt(requester, terms());
    expect(again.id).not.toBe(r.id); // nonce: two issuances never collide
  });

  it('TRUST-R6: a receipt names the model version that computed the unit, signed with the rest', async () => {
    const model = 'ab'.repeat(16);
    const r = await issueReceipt(requester, { ...terms(), model });
    expect(r).toMatchObject({ v: 3, model });
    await expect(verifyReceipt(JSON.parse(JSON.stringify(r)))).resolves.toEqual(r);
    // Another version in its place breaks the id and the signature.
    await expect(verifyReceipt({ ...r, model: 'cd'.repeat(16) })).rejects.toBeInstanceOf(ReceiptError);
    await expect(verifyReceipt({ ...r, model: 'not a hash' })).rejects.toBeInstanceOf(ReceiptError);
    // Without a version it is the network-bound receipt of before.
    expect((await issueReceipt(requester, terms())).v).toBe(2);
  });

  it('TRUST-R2: forged or altered receipts are rejected', async () => {
    const r = await issueReceipt(requester, terms());
    const forged = await issueReceipt(stranger, terms());
    const cases: [unknown, string][] = [
      [{ ...r, flops: r.flops * 10 }, 'invalid-receipt'], // id no longer matches
      [{ ...forged, requester: requester.peerId }, 'invalid-receipt'],
      [{ ...r, signature: forged.signature }, 'bad-signature'],
      [{ ...r, signature: undefined }, 'invalid-receipt'],
      [{ ...r, extra: 1 }, 'invalid-receipt'],
      [{ ...r, flops: -1 }, 'invalid-receipt'],
      ['not a receipt', 'invalid-receipt'],
    ];
    for (const [value, code] of cases) await expectCode(verifyReceipt(value), code);
    // re-deriving the id after an edit still fails on the signature
    const { id: _id, ...body } = { ...r, flops: r.flops * 10 };
    const bytes = (await import('./receipts')).receiptBytes(body);
    const id = (await import('../bytes')).base64urlEncode(
      new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource)),
    );
    await expectCode(verifyReceipt({ ...body, id }), 'bad-signature');
  });

  it('TRUST-R3: receipts for another provider key, or from an unknown requester, are rejected', async () => {
    const r = await issueReceipt(requester, terms());
    await expectCode(verifyReceipt(r, { provider: stranger.peerId }), 'wrong-recipient');
    await expectCode(verifyReceipt(r, { requesters: new Set([stranger.peerId]) }), 'wrong-recipient');
    const store = new ReceiptStore();
    await expectCode(store.add(r, { provider: stranger.peerId }), 'wrong-recipient');
    expect(store.size).toBe(0);
  });

  it('TRUST-R4: replayed receipts are rejected, by id and by unit', async () => {
    const store = new ReceiptStore();
    const r = await issueReceipt(requester, terms(1));
    await store.add(r, { provider: provider.peerId });
    await expectCode(store.add(JSON.parse(JSON.stringify(r))), 'replay');
    const sameUnitNewNonce = await issueReceipt(requester, terms(1));
    await expectCode(store.add(sameUnitNewNonce), 'replay');
    await store.add(await issueReceipt(requester, terms(2)));
    expect(store.size).toBe(2);
    expect(store.has(r.id)).toBe(true);
  });

  it('TRUST-L2: the leaderboard sums FLOPs per provider and counts distinct requesters', async () => {
    const receipts: Receipt[] = [
      await issueReceipt(requester, terms(1, 100)),
      await issueReceipt(requester, terms(2, 50)),
      await issueReceipt(stranger, terms(3, 25)),
      await issueReceipt(requester, { ...terms(4, 1000), provider: stranger.peerId }),
    ];
    const board = leaderboardFrom(receipts).top();
    expect(board.map((r) => [r.provider, r.flops, r.units, r.requesters])).toEqual([
      [stranger.peerId, 1000, 1, 1],
      [provider.peerId, 175, 3, 2],
    ]);
    expect(
      leaderboardFrom(receipts)
        .top(10, 2)
        .map((r) => r.provider),
    ).toEqual([provider.peerId]);
  });
});
