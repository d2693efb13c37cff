/**
 * Per-IP quotas over every instance on one real redis-server (SPEC RATE8): the
 * connection and receipt budgets of one address hold across two instances, a
 * crashed instance's connections stop counting, and without Redis a newcomer
 * is refused `unavailable` with 1013 so it fails over.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Redis } from 'ioredis';
import { randomId } from '@shared/bytes';
import { createIdentity } from '@shared/identity';
import type { ServerMessage, ServerMessageOf } from '@shared/protocol';
import { createSignalingServer, type SignalingServer } from '../../signaling/src/server';
import type { HubLimits } from '../../signaling/src/hub';
import { needs, testLogger, TEST_NETWORK, until } from '../../signaling/src/testing/fixtures';
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
const sockets: WebSocket[] = [];
const clients: SignalingClient[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const prefix = () => `test-${randomId(6)}:`;

async function instance(ns: string, limits: Partial<HubLimits>, url = redis.url) {
  const server = createSignalingServer({
    port: 0,
    host: '127.0.0.1',
    logger: testLogger,
    staticDir: '/nonexistent',
    network: TEST_NETWORK,
    limits,
    redis: { url, prefix: ns },
  });
  servers.push(server);
  return { server, ...(await server.listen()) };
}

type Opened =
  | { admitted: true; socket: WebSocket }
  | { admitted: false; error: ServerMessageOf<'error'>; closeCode: number };

/** Opens a raw socket: admitted when the challenge comes, refused when an error and a close come instead. */
function open(wsUrl: string): Promise<Opened> {
  const socket = new WebSocket(wsUrl);
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    let error: ServerMessageOf<'error'> | undefined;
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as ServerMessage;
      if (message.type === 'challenge') resolve({ admitted: true, socket });
      else if (message.type === 'error') error = message;
    });
    socket.on('close', (closeCode) => {
      if (error) resolve({ admitted: false, error, closeCode });
      else reject(new Error(`closed with ${closeCode} before a challenge or an error`));
    });
    socket.on('error', reject);
  });
}

/** This address's connections as Redis counts them, every instance's together. */
async function countedInRedis(raw: Redis, ns: string): Promise<number> {
  const values = await raw.hvals(networkKey(ns, 'ip-conns:127.0.0.1'));
  return values.reduce((sum, v) => sum + Number(v), 0);
}

describe('per-IP quotas across instances (RATE8)', () => {
  it('RATE8: concurrent connections from one IP are counted over both instances, and a close frees a slot on the other', async () => {
    const ns = prefix();
    const limits = { maxConnectionsPerIp: 3, connectionBurst: 100 };
    const a = await instance(ns, limits);
    const b = await instance(ns, limits);
    const first = await open(a.wsUrl);
    expect((await open(a.wsUrl)).admitted).toBe(true);
    expect((await open(b.wsUrl)).admitted).toBe(true);
    // A holds 2 of its own 3: alone it would admit this one; the network's count says no.
    const overA = await open(a.wsUrl);
    expect(overA).toMatchObject({ admitted: false, error: { code: 'rate-limited' }, closeCode: 1008 });
    const overB = await open(b.wsUrl);
    expect(overB).toMatchObject({ admitted: false, error: { code: 'rate-limited' }, closeCode: 1008 });
    expect(a.server.metrics.get('signaling_rate_limited_total', { scope: 'ip-concurrent' })).toBe(1);
    expect(b.server.metrics.get('signaling_rate_limited_total', { scope: 'ip-concurrent' })).toBe(1);

    if (!first.admitted) throw new Error('the first connection was refused');
    first.socket.close();
    const raw = new Redis(redis.url);
    try {
      while ((await countedInRedis(raw, ns)) !== 2) await new Promise((r) => setTimeout(r, 10));
    } finally {
      raw.disconnect();
    }
    expect((await open(b.wsUrl)).admitted).toBe(true);
  });

  it('RATE8: new connections from one IP draw on one bucket shared by both instances', async () => {
    const ns = prefix();
    const limits = { connectionBurst: 3, connectionsPerSecond: 0.001, maxConnectionsPerIp: 64 };
    const a = await instance(ns, limits);
    const b = await instance(ns, limits);
    expect((await open(a.wsUrl)).admitted).toBe(true);
    expect((await open(a.wsUrl)).admitted).toBe(true);
    expect((await open(b.wsUrl)).admitted).toBe(true);
    // B has admitted one of its own 3: the refusal is the shared bucket's.
    expect(await open(b.wsUrl)).toMatchObject({ admitted: false, error: { code: 'rate-limited' }, closeCode: 1008 });
    expect(b.server.metrics.get('signaling_rate_limited_total', { scope: 'ip-rate' })).toBe(1);
  });

  it('RATE8: a crashed instance’s connections stop counting once its liveness has lapsed', async () => {
    const ns = prefix();
    const a = await instance(ns, { maxConnectionsPerIp: 2, connectionBurst: 100 });
    const raw = new Redis(redis.url);
    try {
      // An instance that held 2 from this address and died without a word: it is not among the live instances.
      await raw.hset(networkKey(ns, 'ip-conns:127.0.0.1'), 'crashed', 2);
      expect((await open(a.wsUrl)).admitted).toBe(true);
      expect(await raw.hget(networkKey(ns, 'ip-conns:127.0.0.1'), 'crashed')).toBeNull();
      // A live one's count does count.
      await raw.zadd(networkKey(ns, 'instances'), Date.now() + 60_000, 'alive');
      await raw.hset(networkKey(ns, 'ip-conns:127.0.0.1'), 'alive', 1);
      expect(await open(a.wsUrl)).toMatchObject({ admitted: false, error: { code: 'rate-limited' } });
    } finally {
      raw.disconnect();
    }
  });

  it('RATE8/CREDIT13: receipts from one IP share one budget over both instances, whichever key sends them', async () => {
    const ns = prefix();
    const limits = { receiptIpBurst: 4, receiptsPerIpPerSecond: 0.001, receiptBurst: 100 };
    const a = await instance(ns, limits);
    const b = await instance(ns, limits);
    const provider = (await createIdentity()).peerId;
    const send = async (wsUrl: string, n: number) => {
      const identity = await createIdentity();
      const c = new SignalingClient({ url: wsUrl, role: 'requester', identity, WebSocket });
      clients.push(c);
      const welcomed = c.once('welcome');
      c.connect();
      await welcomed;
      const receipts = await Promise.all(
        Array.from({ length: n }, (_, i) => receiptFor(identity, provider, { unitId: i })),
      );
      const answer = Promise.race([
        c.once('receipts-ack').then(() => ({ answer: 'ack' })),
        c.once('error').then((error) => ({ answer: 'error', code: error.code })),
      ]);
      c.send({ type: 'receipts', receipts });
      return answer;
    };
    // Not paired, so the ledger rejects them; the budget is spent before it looks.
    expect(await send(a.wsUrl, 3)).toEqual({ answer: 'ack' });
    expect(await send(b.wsUrl, 2)).toEqual({ answer: 'error', code: 'rate-limited' });
    expect(b.server.metrics.get('signaling_rate_limited_total', { scope: 'receipts-ip' })).toBe(1);
    expect(await send(b.wsUrl, 1)).toEqual({ answer: 'ack' });
  });

  it('RATE8/RATE7: open jobs from one IP are counted over both instances, and a close frees a slot on the other', async () => {
    const ns = prefix();
    const limits = { maxJobsPerIp: 2 };
    const a = await instance(ns, limits);
    const b = await instance(ns, limits);
    const requester = async (wsUrl: string) => {
      const c = new SignalingClient({ url: wsUrl, role: 'requester', identity: await createIdentity(), WebSocket });
      clients.push(c);
      const welcomed = c.once('welcome');
      c.connect();
      await welcomed;
      return c;
    };
    const jobs = (server: SignalingServer) =>
      server
        .replica()
        .matchmaker.jobs.map((j) => j.jobId)
        .sort();
    const onA = await requester(a.wsUrl);
    const onB = await requester(b.wsUrl);
    onA.openJob('job-00001', needs());
    onA.openJob('job-00002', needs());
    await until(() => jobs(b.server).length === 2, 'both jobs in B');
    // Two keys, two instances, one address: the third job is one too many.
    const refused = onB.once('error');
    onB.openJob('job-00003', needs());
    expect(await refused).toMatchObject({ code: 'rate-limited' });
    expect(b.server.metrics.get('signaling_rate_limited_total', { scope: 'jobs-ip' })).toBe(1);
    // Re-opening an open job only updates it, counted or not.
    onA.openJob('job-00002', needs({ units: 7 }));
    onA.closeJob('job-00001');
    const raw = new Redis(redis.url);
    const counted = async () =>
      (await raw.hvals(networkKey(ns, 'ip-jobs:127.0.0.1'))).reduce((s, v) => s + Number(v), 0);
    for (let i = 0; i < 100 && (await counted()) !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await counted()).toBe(1);
    onB.openJob('job-00003', needs());
    await until(() => jobs(a.server).includes('job-00003'), 'B’s job in A');
    // A requester that leaves frees its address's share.
    onA.close();
    for (let i = 0; i < 100 && (await counted()) !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    const health = (await (await fetch(`${a.url}healthz`)).json()) as { shared: { instance: string } };
    expect(await raw.hget(networkKey(ns, 'ip-jobs:127.0.0.1'), health.shared.instance)).toBeNull();
    expect(await counted()).toBe(1);
    raw.disconnect();
  });

  it('RATE8/SCALE3: without Redis a newcomer is refused unavailable with 1013 before its challenge', async () => {
    const own = await startRedis();
    try {
      const a = await instance(prefix(), {}, own.url);
      expect((await open(a.wsUrl)).admitted).toBe(true);
      await own.stop();
      while ((await fetch(`${a.url}healthz`)).status !== 503) await new Promise((r) => setTimeout(r, 20));
      expect(await open(a.wsUrl)).toMatchObject({ admitted: false, error: { code: 'unavailable' }, closeCode: 1013 });
      expect(a.server.metrics.get('signaling_shared_state_refused_total')).toBe(1);
    } finally {
      await own.stop();
    }
  });
});
