/**
 * The signaling server's Lua scripts on a Redis Cluster (SPEC SCALE8): a real
 * redis-server in cluster mode, one node holding every slot, so a script or
 * transaction whose keys are in different slots is refused with CROSSSLOT as on
 * a real Cluster. Two instances, on a one-server client and on ioredis's
 * Cluster client (--redis-cluster), go through what runs a script (admission,
 * jobs, receipts, liveness, snapshots and trimming) while MONITOR records
 * every command, and each command a script ran is checked against the keys the
 * script was given: a key built inside a script fails here even where it
 * happens to share the slot.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Redis } from 'ioredis';
import { randomId } from '@shared/bytes';
import { createIdentity } from '@shared/identity';
import type { ServerMessageOf } from '@shared/protocol';
import { networkKey } from '../../signaling/src/redis-keys';
import { createSignalingServer, type SignalingServer } from '../../signaling/src/server';
import { caps, needs, testLogger, TEST_NETWORK } from '../../signaling/src/testing/fixtures';
import { receiptFor } from '../../signaling/src/testing/receipts';
import { SignalingClient } from '../../web/src/net/signaling-client';
import { ROOT, sources } from '../support/imports';
import { startRedis, type RedisProcess } from '../support/redis-server';

/** Scripts that cannot run on a Cluster by design: moving the old layout, which never ran on one (redis-keys.ts). */
const PLAIN_REDIS_ONLY = ['MOVE_LAYOUT_SCRIPT'];
/** Snapshots this often, so a handful of changes compacts the stream. */
const EVERY = 4;

/** One EVAL as MONITOR saw it, with the commands its script ran. */
interface ScriptRun {
  script: string;
  keys: string[];
  calls: string[][];
}

let redis: RedisProcess;
let raw: Redis;
let monitor: Redis;
const runs: ScriptRun[] = [];
const servers: SignalingServer[] = [];
const clients: SignalingClient[] = [];

beforeAll(async () => {
  redis = await startRedis(undefined, { cluster: true });
  raw = new Redis(redis.url);
  monitor = await new Redis(redis.url).monitor();
  // A script's own commands follow its EVAL, uninterrupted: Redis runs one command at a time.
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const [command = '', ...rest] = args;
    if (source === 'lua') runs.at(-1)?.calls.push(args);
    else if (command.toLowerCase() === 'eval') {
      const [script = '', count = '0', ...after] = rest;
      runs.push({ script, keys: after.slice(0, Number(count)), calls: [] });
    }
  });
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  monitor?.disconnect();
  raw?.disconnect();
  await redis?.stop();
});

async function instance(ns: string, cluster: boolean) {
  const server = createSignalingServer({
    port: 0,
    host: '127.0.0.1',
    logger: testLogger,
    staticDir: '/nonexistent',
    network: TEST_NETWORK,
    limits: { maxJobsPerIp: 8, maxConnectionsPerIp: 8 },
    redis: { url: redis.url, cluster, prefix: ns, snapshotEveryOps: EVERY },
  });
  servers.push(server);
  return { server, ...(await server.listen()) };
}

async function client(wsUrl: string, role: 'provider' | 'requester') {
  const identity = await createIdentity();
  const c = new SignalingClient({ url: wsUrl, role, identity, WebSocket });
  clients.push(c);
  const welcomed = c.once('welcome');
  c.connect();
  await welcomed;
  return { c, identity };
}

/** Waits, without a deadline of its own (the test's timeout bounds it), until `check` holds. */
async function eventually(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 10));
}

/** The keys of one command, as the server itself parses them. */
async function keysOf(call: string[]): Promise<string[]> {
  // GETKEYS refuses a command that takes no keys (TIME): COMMAND INFO says which those are.
  const [[, , flags, firstKey]] = (await raw.call('COMMAND', 'INFO', call[0]!)) as [[string, number, string[], number]];
  if (firstKey === 0 && !flags.includes('movablekeys')) return [];
  return (await raw.call('COMMAND', 'GETKEYS', ...call)) as string[];
}

/** The `*_SCRIPT` constants in the server's sources: each must have run here, unless it is PLAIN_REDIS_ONLY. */
function scriptsInSources(): string[] {
  return sources(join(ROOT, 'signaling/src')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/const (\w+_SCRIPT) = `/g)].map((m) => m[1]!),
  );
}

describe('the Lua scripts on a one-node Redis Cluster (SCALE8)', () => {
  // The one-server client works here only because one node serves every slot; --redis-cluster follows a real Cluster.
  it.each([
    ['a one-server client', false],
    ['--redis-cluster', true],
  ])(
    'SCALE8: two instances (%s) admit, match, count jobs, log receipts, renew liveness and compact on a Cluster',
    async (_, cluster) => {
      const ns = `cluster-${randomId(6)}:`;
      const a = await instance(ns, cluster);
      const b = await instance(ns, cluster);
      const { c: provider } = await client(a.wsUrl, 'provider');
      const { c: requester, identity } = await client(b.wsUrl, 'requester');
      const matched = Promise.all([provider.once('matched'), requester.once('matched')]);
      provider.announce(caps(), 1);
      requester.openJob('job-00001', needs({ units: 100 }));
      await matched;
      const ack = requester.once('receipts-ack');
      requester.send({
        type: 'receipts',
        receipts: [
          await receiptFor(identity, provider.peerId!, { unitId: 0, flops: 1 }),
          await receiptFor(identity, provider.peerId!, { unitId: 1, flops: 1 }),
        ],
      });
      expect(((await ack) as ServerMessageOf<'receipts-ack'>).accepted).toBe(2);
      const firstOp = (await raw.xrange(networkKey(ns, 'ops'), '-', '+', 'COUNT', 1))[0]?.[0];
      for (let i = 0; i <= EVERY; i++) provider.setStatus(i, false);
      // Trimmed once a snapshot is kept and both instances' renewals say they read past it.
      await eventually(async () => (await raw.xrange(networkKey(ns, 'ops'), '-', '+', 'COUNT', 1))[0]?.[0] !== firstOp);
      expect(await raw.hget(networkKey(ns, 'snapshot'), 'id')).not.toBeNull();
      for (const { url } of [a, b]) expect((await fetch(`${url}healthz`)).status).toBe(200);
      expect(b.server.ledger.head.length).toBe(2);
      // A relayed signal crosses instances over pub/sub, which a Cluster spreads to every node.
      const signalled = provider.once('signal');
      requester.signal(provider.peerId!, 'job-00001', { type: 'offer', sdp: 'across instances' });
      expect(await signalled).toMatchObject({ from: requester.peerId, payload: { sdp: 'across instances' } });
    },
  );

  it('SCALE8: every key a script touched was passed in its KEYS, and its KEYS share one slot', async () => {
    const scripts = new Set(runs.map((run) => run.script));
    const expected = scriptsInSources().filter((name) => !PLAIN_REDIS_ONLY.includes(name));
    expect(scripts.size, `distinct scripts run by the test above, one for each of ${expected.join(', ')}`).toBe(
      expected.length,
    );
    for (const run of runs) {
      const slots = new Set(
        await Promise.all(run.keys.map(async (key) => Number(await raw.call('CLUSTER', 'KEYSLOT', key)))),
      );
      expect(slots.size, `KEYS ${run.keys.join(' ')}`).toBe(1);
      for (const call of run.calls)
        for (const key of await keysOf(call))
          expect(run.keys, `${call.join(' ')} in a script given KEYS ${run.keys.join(' ')}`).toContain(key);
    }
  });
});
