/**
 * Several server instances on one real redis-server (SPEC SCALE*): presence,
 * matching, relay, pairings and the receipt log are shared; a dead instance's
 * peers are dropped; without Redis an instance keeps serving what it holds and
 * refuses the rest with `unavailable`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Redis } from 'ioredis';
import { randomId } from '@shared/bytes';
import { createIdentity, type Identity } from '@shared/identity';
import type { ServerMessageOf } from '@shared/protocol';
import { createSignalingServer, type SignalingServer } from '../../signaling/src/server';
import { caps, needs, testLogger, TEST_NETWORK, until } from '../../signaling/src/testing/fixtures';
import { receiptFor } from '../../signaling/src/testing/receipts';
import { SignalingClient } from '../../web/src/net/signaling-client';
import { networkKey } from '../../signaling/src/redis-keys';
import { startRedis, type RedisProcess } from '../support/redis-server';

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const servers: SignalingServer[] = [];
const clients: SignalingClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** One instance on `url` under `prefix`: instances with the same prefix form one network. */
async function instance(prefix: string, url = redis.url) {
  const server = createSignalingServer({
    port: 0,
    host: '127.0.0.1',
    logger: testLogger,
    staticDir: '/nonexistent',
    network: TEST_NETWORK,
    redis: { url, prefix },
  });
  servers.push(server);
  return { server, ...(await server.listen()) };
}

async function client(wsUrl: string | string[], role: 'provider' | 'requester', identity?: Identity) {
  const c = new SignalingClient({
    url: wsUrl,
    role,
    identity: identity ?? (await createIdentity()),
    WebSocket,
    backoff: { initialMs: 20, maxMs: 200 },
  });
  clients.push(c);
  const welcomed = c.once('welcome');
  c.connect();
  await welcomed;
  return c;
}

/** A provider on one instance and a requester on another, matched to one job. */
async function pairAcross(a: string, b: string) {
  const provider = await client(a, 'provider');
  const requester = await client(b, 'requester');
  const matched = Promise.all([provider.once('matched'), requester.once('matched')]);
  provider.announce(caps(), 1);
  requester.openJob('job-00001', needs({ units: 100 }));
  const [toProvider, toRequester] = await matched;
  return { provider, requester, toProvider, toRequester };
}

/** Ops of the shared log this instance has read and applied (or skipped as not its holder's). */
const applied = (server: SignalingServer) =>
  Number(/^signaling_shared_ops_applied (\d+)$/m.exec(server.metrics.render())?.[1] ?? Number.NaN);

const prefix = () => `test-${randomId(6)}:`;

describe('instances sharing Redis', () => {
  it('SCALE1/SCALE2: a provider on A and a requester on B are matched in one session and relay both ways', async () => {
    const ns = prefix();
    const a = await instance(ns);
    const b = await instance(ns);
    const { provider, requester, toProvider, toRequester } = await pairAcross(a.wsUrl, b.wsUrl);
    expect(toRequester.peerId).toBe(provider.peerId);
    expect(toProvider.peerId).toBe(requester.peerId);
    expect(toProvider.session).toBe(toRequester.session);
    expect(toProvider.network).toBe(TEST_NETWORK);

    const atProvider = provider.once('signal');
    requester.signal(provider.peerId!, 'job-00001', { type: 'offer', sdp: 'v=0 offer' });
    expect(await atProvider).toMatchObject({ from: requester.peerId, payload: { type: 'offer', sdp: 'v=0 offer' } });
    const atRequester = requester.once('signal');
    provider.signal(requester.peerId!, 'job-00001', { type: 'answer', sdp: 'v=0 answer' });
    expect(await atRequester).toMatchObject({ from: provider.peerId, payload: { type: 'answer' } });
    expect(a.server.metrics.get('signaling_signals_relayed_total')).toBe(1);
    expect(b.server.metrics.get('signaling_signals_relayed_total')).toBe(1);
  });

  it('SCALE2: an unpaired peer on another instance gets not-paired, and nothing is relayed', async () => {
    const ns = prefix();
    const a = await instance(ns);
    const b = await instance(ns);
    const provider = await client(a.wsUrl, 'provider');
    const requester = await client(b.wsUrl, 'requester');
    const refused = requester.once('error');
    requester.signal(provider.peerId!, 'job-00001', { type: 'offer', sdp: 'x' });
    expect(await refused).toMatchObject({ code: 'not-paired' });
    expect(b.server.metrics.get('signaling_signals_relayed_total')).toBe(0);
  });

  it('SCALE4: one connection per key across instances: joining B replaces the connection on A', async () => {
    const ns = prefix();
    const a = await instance(ns);
    const b = await instance(ns);
    const identity = await createIdentity();
    const first = await client(a.wsUrl, 'provider', identity);
    const replaced = first.once('disconnected');
    await client(b.wsUrl, 'provider', identity);
    expect(await replaced).toMatchObject({ code: 4004, willReconnect: false });
  });

  it('SCALE6: receipts logged through B land in one hash-chained log that A and a later instance C read alike', async () => {
    const ns = prefix();
    const a = await instance(ns);
    const b = await instance(ns);
    const { requester, provider } = await pairAcross(a.wsUrl, b.wsUrl);
    const identity = (requester as unknown as { options: { identity: Identity } }).options.identity;
    const receipts = [
      await receiptFor(identity, provider.peerId!, { unitId: 0, flops: 1 }),
      await receiptFor(identity, provider.peerId!, { unitId: 1, flops: 1 }),
    ];
    const ack = requester.once('receipts-ack');
    requester.send({ type: 'receipts', receipts });
    const { accepted, rejected, head } = (await ack) as ServerMessageOf<'receipts-ack'>;
    expect(rejected).toEqual([]);
    expect(accepted).toBe(2);
    expect(head.length).toBe(2);
    await until(() => a.server.ledger.head.length === 2, 'A to index the credits');
    expect(a.server.ledger.head).toEqual(head);
    const c = await instance(ns);
    expect(c.server.ledger.head).toEqual(head);
    expect((await c.server.ledger.entries(0, 10)).map((e) => e.receipt.id)).toEqual(receipts.map((r) => r.id));
    // A replay through another instance is refused by the shared replay index.
    const again = requester.once('receipts-ack');
    requester.send({ type: 'receipts', receipts: [receipts[0]!] });
    expect(((await again) as ServerMessageOf<'receipts-ack'>).rejected[0]?.reason).toBe('replay');
  });

  it('SCALE5: an instance that stops renewing its liveness has its peers dropped; its requester’s pairings end', async () => {
    const ns = prefix();
    const b = await instance(ns);
    const requester = await client(b.wsUrl, 'requester');
    // A provider held by an instance that never renews its liveness: a crashed one.
    const ghost = await createIdentity();
    const raw = new Redis(redis.url);
    const op = (body: object) => JSON.stringify({ instance: 'crashed', at: Date.now(), nonce: randomId(16), ...body });
    const matched = requester.once('matched');
    requester.openJob('job-00001', needs());
    // Both in one transaction, so the janitor cannot drop the ghost between its join and its announce.
    await raw
      .multi()
      .xadd(networkKey(ns, 'ops'), '*', 'op', op({ op: 'join', role: 'provider', peer: ghost.peerId, conn: 1 }))
      .xadd(
        networkKey(ns, 'ops'),
        '*',
        'op',
        op({ op: 'announce', peer: ghost.peerId, capabilities: caps(), slots: 1 }),
      )
      .exec();
    expect((await matched).peerId).toBe(ghost.peerId);
    const unmatched = await requester.once('unmatched');
    expect(unmatched).toMatchObject({ peerId: ghost.peerId, reason: 'provider-left' });
    raw.disconnect();
  });

  it('SCALE5: an instance that reads it was declared gone closes its clients; they come back and are paired again', async () => {
    const ns = prefix();
    const b = await instance(ns);
    const { provider, requester } = await pairAcross(b.wsUrl, b.wsUrl);
    const health = (await (await fetch(`${b.url}healthz`)).json()) as { shared: { instance: string } };
    const dropped = provider.once('disconnected');
    const rematched = Promise.all([provider.once('matched'), requester.once('matched')]);
    const raw = new Redis(redis.url);
    await raw.xadd(
      networkKey(ns, 'ops'),
      '*',
      'op',
      JSON.stringify({
        op: 'instance-gone',
        gone: health.shared.instance,
        instance: 'other',
        at: 1,
        nonce: randomId(16),
      }),
    );
    raw.disconnect();
    expect(await dropped).toMatchObject({ code: 1001, willReconnect: true });
    const [toProvider, toRequester] = await rematched;
    expect(toProvider.session).toBe(toRequester.session);
  });

  it('SCALE4: a change to a peer published by an instance that does not hold it is ignored', async () => {
    const ns = prefix();
    const b = await instance(ns);
    const { provider, requester } = await pairAcross(b.wsUrl, b.wsUrl);
    const unmatched: unknown[] = [];
    requester.on('unmatched', (event) => unmatched.push(event));
    const before = applied(b.server);
    const raw = new Redis(redis.url);
    // Applied, this would close the requester's job and end the pairing (job-closed).
    await raw.xadd(
      networkKey(ns, 'ops'),
      '*',
      'op',
      JSON.stringify({
        op: 'job-close',
        requester: requester.peerId,
        jobId: 'job-00001',
        instance: 'zombie',
        at: 1,
        nonce: randomId(16),
      }),
    );
    raw.disconnect();
    await until(() => applied(b.server) === before + 1, 'the zombie op to be read');
    const atProvider = provider.once('signal');
    requester.signal(provider.peerId!, 'job-00001', { type: 'offer', sdp: 'still paired' });
    expect(await atProvider).toMatchObject({ payload: { sdp: 'still paired' } });
    expect(unmatched).toEqual([]);
  });

  it('SCALE7: an entry in the shared log that does not parse is skipped; later ops still apply', async () => {
    const ns = prefix();
    const b = await instance(ns);
    const raw = new Redis(redis.url);
    await raw.xadd(networkKey(ns, 'ops'), '*', 'op', '{"op":"announce","peer":"__proto__"}');
    await raw.xadd(networkKey(ns, 'ops'), '*', 'op', 'not json');
    raw.disconnect();
    const applied = b.server.metrics.render();
    const { provider, requester } = await pairAcross(b.wsUrl, b.wsUrl);
    expect(provider.state).toBe('open');
    expect(requester.state).toBe('open');
    expect(applied).toContain('signaling_shared_state_up{kind="redis"} 1');
  });
});

describe('when Redis goes away', () => {
  it('SCALE3: /healthz and /metrics say so, held clients still relay, what needs shared state is refused unavailable', async () => {
    const own = await startRedis();
    try {
      const a = await instance(prefix(), own.url);
      const { provider, requester } = await pairAcross(a.wsUrl, a.wsUrl);
      expect((await fetch(`${a.url}healthz`)).status).toBe(200);
      await own.stop();
      let health: Response | undefined;
      for (;;) {
        health = await fetch(`${a.url}healthz`);
        if (health.status === 503) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await health.json()).toMatchObject({ ok: false, shared: { kind: 'redis', up: false } });
      const metrics = await (await fetch(`${a.url}metrics`)).text();
      expect(metrics).toContain('signaling_shared_state_up{kind="redis"} 0');

      // The pair this instance holds keeps signaling.
      const atProvider = provider.once('signal');
      requester.signal(provider.peerId!, 'job-00001', { type: 'offer', sdp: 'still here' });
      expect(await atProvider).toMatchObject({ payload: { sdp: 'still here' } });

      // A new job needs shared matching: refused with its own code, and the connection stays open.
      const refused = requester.once('error');
      requester.openJob('job-00002', needs());
      expect(await refused).toMatchObject({ code: 'unavailable', message: expect.stringContaining('shared state') });
      expect(requester.state).toBe('open');
      expect(a.server.metrics.get('signaling_shared_state_refused_total')).toBe(1);

      // A newcomer cannot be registered everywhere, so it is not welcomed.
      const late = new SignalingClient({
        url: a.wsUrl,
        role: 'provider',
        identity: await createIdentity(),
        WebSocket,
        backoff: { initialMs: 1_000, maxMs: 1_000 },
      });
      clients.push(late);
      const lateError = late.once('error');
      late.connect();
      expect(await lateError).toMatchObject({ code: 'unavailable' });
    } finally {
      await own.stop();
    }
  });
});
