/**
 * Compaction of the shared op stream on a real redis-server (SPEC SCALE7): an
 * instance snapshots its replica every few ops and trims the stream behind the
 * snapshot; a new instance loads the snapshot, reads only the ops after it, and
 * holds the same replica as the instances that lived through every op.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Redis } from 'ioredis';
import { randomId } from '@shared/bytes';
import { createIdentity, type Identity, sign } from '@shared/identity';
import { displayNameMessage, type ServerMessageOf } from '@shared/protocol';
import { createSignalingServer, type SignalingServer } from '../../signaling/src/server';
import { caps, needs, testLogger, TEST_NETWORK } from '../../signaling/src/testing/fixtures';
import { receiptFor } from '../../signaling/src/testing/receipts';
import { SignalingClient } from '../../web/src/net/signaling-client';
import { networkKey } from '../../signaling/src/redis-keys';
import { type RedisProcess, redisForFile } from '../support/redis-server';

let redis: RedisProcess;
let raw: Redis;
redisForFile((r, c) => {
  redis = r;
  raw = c;
});

const servers: SignalingServer[] = [];
const clients: SignalingClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const prefix = () => `test-${randomId(6)}:`;
/** Snapshots this often, so a handful of changes compacts the stream several times. */
const EVERY = 6;

async function instance(ns: string) {
  const server = createSignalingServer({
    port: 0,
    host: '127.0.0.1',
    logger: testLogger,
    staticDir: '/nonexistent',
    network: TEST_NETWORK,
    redis: { url: redis.url, prefix: ns, snapshotEveryOps: EVERY },
  });
  servers.push(server);
  return { server, ...(await server.listen()) };
}

async function client(wsUrl: string, role: 'provider' | 'requester', identity?: Identity) {
  const id = identity ?? (await createIdentity());
  const c = new SignalingClient({ url: wsUrl, role, identity: id, WebSocket, backoff: { initialMs: 20, maxMs: 200 } });
  clients.push(c);
  const welcomed = c.once('welcome');
  c.connect();
  await welcomed;
  return { c, identity: id };
}

/** Waits, without a deadline of its own (the test's timeout bounds it), until `check` holds. */
async function eventually(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 10));
}

const same = (a: SignalingServer, b: SignalingServer) => JSON.stringify(a.replica()) === JSON.stringify(b.replica());

describe('compaction of the shared op stream (SCALE7)', () => {
  it('SCALE7: after the stream is trimmed behind a snapshot, a new instance holds the same replica and keeps matching alike', async () => {
    const ns = prefix();
    const a = await instance(ns);
    const b = await instance(ns);
    const { c: provider, identity: providerIdentity } = await client(a.wsUrl, 'provider');
    const { c: requester, identity } = await client(b.wsUrl, 'requester');
    const matched = Promise.all([provider.once('matched'), requester.once('matched')]);
    provider.announce(caps(), 1);
    requester.openJob('job-00001', needs({ units: 100 }));
    await matched;
    // A display name set through A (NAME3): every instance's leaderboard shows it.
    const named = provider.once('display-name-ack');
    const name = 'Ada Lovelace';
    const signature = await sign(providerIdentity, displayNameMessage(provider.peerId!, name));
    provider.send({ type: 'display-name', name, signature });
    expect(await named).toMatchObject({ accepted: true, name });
    await eventually(() => b.server.ledger.nameOf(provider.peerId!) === name);
    const firstOp = (await raw.xrange(networkKey(ns, 'ops'), '-', '+', 'COUNT', 1))[0]?.[0];
    expect(firstOp).toBeDefined();

    // Credits, a report, a second provider and job, status changes: every kind of state a snapshot keeps.
    const receipts = [
      await receiptFor(identity, provider.peerId!, { unitId: 0, flops: 1 }),
      await receiptFor(identity, provider.peerId!, { unitId: 1, flops: 1 }),
    ];
    const ack = requester.once('receipts-ack');
    requester.send({ type: 'receipts', receipts });
    expect(((await ack) as ServerMessageOf<'receipts-ack'>).accepted).toBe(2);
    const { c: second } = await client(a.wsUrl, 'provider');
    const rematched = requester.once('matched');
    second.announce(caps(), 2);
    requester.openJob('job-00002', needs({ units: 50 }));
    await rematched;
    const reported = requester.once('unmatched');
    requester.send({
      type: 'report',
      jobId: 'job-00001',
      peerId: provider.peerId!,
      verdict: 'rejected',
      reason: 'wrong output',
    });
    expect(await reported).toMatchObject({ peerId: provider.peerId, reason: 'reported' });
    for (let i = 0; i <= EVERY; i++) provider.setStatus(i, false);
    const applied = (server: SignalingServer) =>
      server.replica().matchmaker.providers.find((p) => p.id === provider.peerId)?.busy === EVERY;
    await eventually(() => applied(a.server) && applied(b.server));
    // Trimmed once every live instance has said (in its liveness renewal) that it read past the snapshot.
    await eventually(async () => (await raw.xrange(networkKey(ns, 'ops'), '-', '+', 'COUNT', 1))[0]?.[0] !== firstOp);
    expect(same(a.server, b.server)).toBe(true);
    const before = a.server.replica();
    expect(before.ledger.head.length).toBe(2);
    expect(before.ledger.reporters).toEqual([[provider.peerId, [requester.peerId]]]);
    expect(before.matchmaker.jobs.map((j) => j.jobId)).toEqual(['job-00001', 'job-00002']);
    const appliedOps = (server: SignalingServer) =>
      Number(/^signaling_shared_ops_applied (\d+)$/m.exec(server.metrics.render())?.[1]);
    const published = appliedOps(a.server);
    expect(await raw.xlen(networkKey(ns, 'ops'))).toBeLessThan(published);

    const c = await instance(ns);
    await eventually(() => same(a.server, c.server));
    expect(c.server.ledger.head).toEqual(a.server.ledger.head);
    // The name was set before the trim: it came with the snapshot.
    expect(c.server.ledger.nameOf(provider.peerId!)).toBe(name);
    // It read only what came after the snapshot.
    expect(appliedOps(c.server)).toBeLessThan(published);

    // Going on, the restored replica decides as the others: a job opened through C is matched alike everywhere.
    const { c: late } = await client(c.wsUrl, 'requester');
    const lateMatched = late.once('matched');
    late.openJob('job-00003', needs());
    const toLate = await lateMatched;
    await eventually(() => same(a.server, c.server) && same(b.server, c.server));
    const atProvider = (toLate.peerId === second.peerId ? second : provider).once('signal');
    late.signal(toLate.peerId, 'job-00003', { type: 'offer', sdp: 'through C' });
    expect(await atProvider).toMatchObject({ from: late.peerId, payload: { sdp: 'through C' } });
  });

  it('SCALE7: a snapshot in Redis that does not parse stops a new instance from starting, with a clear error', async () => {
    const ns = prefix();
    await raw.hset(networkKey(ns, 'snapshot'), 'id', '1-0', 'state', '{"v":1,"owners":"__proto__"}');
    const server = createSignalingServer({
      port: 0,
      host: '127.0.0.1',
      logger: testLogger,
      staticDir: '/nonexistent',
      network: TEST_NETWORK,
      redis: { url: redis.url, prefix: ns },
    });
    servers.push(server);
    await expect(server.listen()).rejects.toThrow(/snapshot of the shared log .* does not parse/);
  });
});
