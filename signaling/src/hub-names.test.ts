/** Signed display names on the leaderboard (SPEC NAME2, NAME3). */
import { afterEach, describe, expect, it } from 'vitest';
import * as v from 'valibot';
import { createIdentity, sign, type Identity } from '@shared/identity';
import { displayNameMessage, LeaderboardResponseSchema } from '@shared/protocol';
import { caps, needs } from './testing/fixtures';
import { createHarness, type Harness } from './testing/hub-harness';
import { receiptFor } from './testing/receipts';

let h: Harness;
afterEach(() => h?.stop());

async function named(identity: Identity, name: string, signer: Identity = identity) {
  return {
    type: 'display-name' as const,
    name,
    signature: await sign(signer, displayNameMessage(identity.peerId, name)),
  };
}

/** A provider credited one receipt, so it has a leaderboard row. */
async function creditedProvider() {
  const provider = await h.join('provider');
  const requester = await h.join('requester');
  provider.socket.deliver({ type: 'announce', capabilities: caps(), slots: 1 });
  requester.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs({ units: 10 }) });
  await requester.socket.take('matched');
  h.clock.now += 10_000;
  const receipt = await receiptFor(requester.identity, provider.identity.peerId, {
    unitId: 0,
    flops: 1e6,
    issuedAt: h.clock.now,
  });
  requester.socket.deliver({ type: 'receipts', receipts: [receipt] });
  expect((await requester.socket.take('receipts-ack')).accepted).toBe(1);
  return provider;
}

describe('display names', () => {
  it('NAME2: a name signed by the provider key shows on the leaderboard instead of nothing (NAME3)', async () => {
    h = createHarness();
    const provider = await creditedProvider();
    expect(h.hub.ledger.leaderboard(10, 1).rows[0]?.name).toBeUndefined();
    provider.socket.deliver(await named(provider.identity, 'Ada Lovelace'));
    expect(await provider.socket.take('display-name-ack')).toEqual({
      type: 'display-name-ack',
      accepted: true,
      name: 'Ada Lovelace',
      message: 'name set',
    });
    const board = h.hub.ledger.leaderboard(10, 1);
    expect(board.rows[0]).toMatchObject({ provider: provider.identity.peerId, name: 'Ada Lovelace' });
    expect(v.is(LeaderboardResponseSchema, board)).toBe(true);
  });

  it('NAME2: a signature by another key, or over another name, is refused and the name kept stays', async () => {
    h = createHarness();
    const provider = await creditedProvider();
    provider.socket.deliver(await named(provider.identity, 'Ada'));
    expect((await provider.socket.take('display-name-ack')).accepted).toBe(true);
    const other = await createIdentity();
    provider.socket.deliver(await named(provider.identity, 'Mallory', other));
    const forged = await provider.socket.take('display-name-ack');
    expect(forged).toMatchObject({ accepted: false, name: 'Ada' });
    expect(forged.message).toMatch(/signature/);
    const swapped = { ...(await named(provider.identity, 'Ada')), name: 'Eve' };
    provider.socket.deliver(swapped);
    expect(await provider.socket.take('display-name-ack')).toMatchObject({ accepted: false, name: 'Ada' });
    expect(h.hub.ledger.leaderboard(10, 1).rows[0]?.name).toBe('Ada');
  });

  it('NAME2: a name failing NAME1 is refused with what to change (mixed scripts, too long, bidi)', async () => {
    h = createHarness();
    const provider = await creditedProvider();
    const cases: [string, RegExp][] = [
      ['p\u0430ypal', /several scripts/],
      ['x'.repeat(33), /at most 32 characters/],
      ['evil\u202Ename', /invisible/],
      [' Ada', /leading, trailing/],
    ];
    for (const [name, why] of cases) {
      provider.socket.deliver(await named(provider.identity, name));
      const ack = await provider.socket.take('display-name-ack');
      expect(ack).toMatchObject({ accepted: false, name: null });
      expect(ack.message).toMatch(why);
    }
    expect(h.hub.ledger.leaderboard(10, 1).rows[0]?.name).toBeUndefined();
  });

  it("NAME2: '' clears the name; requesters get wrong-role", async () => {
    h = createHarness();
    const provider = await creditedProvider();
    provider.socket.deliver(await named(provider.identity, 'Ada'));
    await provider.socket.take('display-name-ack');
    provider.socket.deliver(await named(provider.identity, ''));
    expect(await provider.socket.take('display-name-ack')).toMatchObject({ accepted: true, name: null });
    expect(h.hub.ledger.leaderboard(10, 1).rows[0]?.name).toBeUndefined();
    const requester = await h.join('requester');
    requester.socket.deliver(await named(requester.identity, 'Ada'));
    expect((await requester.socket.take('error')).code).toBe('wrong-role');
  });
});
