/**
 * Receipt quotas (issue 20, item 2): one IP logged 1.6–2.6k receipts/s because the
 * only budget was per connection, and a reconnect gave a fresh one. Budgets now
 * follow the requester key, the IP and the whole server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createIdentity } from '@shared/identity';
import { until } from './testing/fixtures';
import { createHarness, type Harness } from './testing/hub-harness';
import { pairWith, peerIds, receiptFor } from './testing/receipts';

let h: Harness;
afterEach(() => h?.stop());

async function batch(requester: Awaited<ReturnType<typeof createIdentity>>, provider: string, n: number) {
  return Promise.all(Array.from({ length: n }, () => receiptFor(requester, provider, { issuedAt: h.clock.now })));
}

describe('receipt quotas', () => {
  it('CREDIT13: a reconnect does not refill a key’s receipt budget', async () => {
    h = createHarness({ limits: { receiptBurst: 4, receiptsPerSecond: 1 } });
    const first = await h.join('requester');
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, first.identity.peerId, [p!]);
    first.socket.deliver({ type: 'receipts', receipts: await batch(first.identity, p!, 4) });
    expect((await first.socket.take('receipts-ack')).accepted).toBe(4);
    first.socket.disconnect();
    const again = await h.join('requester', first.identity);
    again.socket.deliver({ type: 'receipts', receipts: await batch(first.identity, p!, 2) });
    expect((await again.socket.take('error')).code).toBe('rate-limited');
    expect(h.metrics.get('signaling_rate_limited_total', { scope: 'receipts' })).toBe(1);
    h.clock.now += 2_000;
    again.socket.deliver({ type: 'receipts', receipts: await batch(first.identity, p!, 2) });
    expect((await again.socket.take('receipts-ack')).accepted).toBe(2);
  });

  it('CREDIT13: many keys from one IP share that IP’s receipt budget; another IP is unaffected', async () => {
    h = createHarness({
      limits: { receiptBurst: 8, receiptsPerSecond: 1, receiptIpBurst: 12, receiptsPerIpPerSecond: 1 },
    });
    const [p] = await peerIds(1);
    const accepted: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { socket, identity } = await h.join('requester', undefined, '203.0.113.7');
      pairWith(h.hub.ledger, identity.peerId, [p!]);
      socket.deliver({ type: 'receipts', receipts: await batch(identity, p!, 6) });
      await until(() => socket.all('receipts-ack').length + socket.all('error').length > 0, 'an ack or an error');
      accepted.push(socket.all('receipts-ack')[0]?.accepted ?? 0);
    }
    expect(accepted).toEqual([6, 6, 0]);
    expect(h.metrics.get('signaling_rate_limited_total', { scope: 'receipts-ip' })).toBe(1);
    const elsewhere = await h.join('requester', undefined, '198.51.100.9');
    pairWith(h.hub.ledger, elsewhere.identity.peerId, [p!]);
    elsewhere.socket.deliver({ type: 'receipts', receipts: await batch(elsewhere.identity, p!, 6) });
    expect((await elsewhere.socket.take('receipts-ack')).accepted).toBe(6);
  });

  it('CREDIT13: the server verifies at most its own budget of receipts per second, whoever sends them', async () => {
    h = createHarness({
      limits: { receiptBurst: 100, receiptIpBurst: 100, receiptServerBurst: 10, receiptsPerServerPerSecond: 5 },
    });
    const [p] = await peerIds(1);
    const a = await h.join('requester', undefined, '203.0.113.1');
    const b = await h.join('requester', undefined, '203.0.113.2');
    pairWith(h.hub.ledger, a.identity.peerId, [p!]);
    pairWith(h.hub.ledger, b.identity.peerId, [p!]);
    a.socket.deliver({ type: 'receipts', receipts: await batch(a.identity, p!, 8) });
    expect((await a.socket.take('receipts-ack')).accepted).toBe(8);
    b.socket.deliver({ type: 'receipts', receipts: await batch(b.identity, p!, 8) });
    expect((await b.socket.take('error')).code).toBe('rate-limited');
    expect(h.metrics.get('signaling_rate_limited_total', { scope: 'receipts-server' })).toBe(1);
    h.clock.now += 2_000;
    b.socket.deliver({ type: 'receipts', receipts: await batch(b.identity, p!, 8) });
    expect((await b.socket.take('receipts-ack')).accepted).toBe(8);
  });

  it('CREDIT13: a batch refused by one budget takes nothing from the others', async () => {
    h = createHarness({
      limits: { receiptBurst: 4, receiptsPerSecond: 1, receiptIpBurst: 6, receiptsPerIpPerSecond: 1 },
    });
    const [p] = await peerIds(1);
    const a = await h.join('requester', undefined, '203.0.113.3');
    pairWith(h.hub.ledger, a.identity.peerId, [p!]);
    a.socket.deliver({ type: 'receipts', receipts: await batch(a.identity, p!, 5) }); // over the key's 4
    expect((await a.socket.take('error')).code).toBe('rate-limited');
    const b = await h.join('requester', undefined, '203.0.113.3');
    pairWith(h.hub.ledger, b.identity.peerId, [p!]);
    b.socket.deliver({ type: 'receipts', receipts: await batch(b.identity, p!, 4) }); // the IP still has 6
    expect((await b.socket.take('receipts-ack')).accepted).toBe(4);
  });
});
