/**
 * Upgrading a network kept in Redis under the key names before hash tags
 * (`prefix + name`) to `{prefix}name` (SPEC SCALE8), on a real redis-server:
 * the first instance to start moves the network id, the receipt log and the op
 * stream, and refuses while an instance of the old version is still live.
 */
import { afterEach, describe, expect, it } from 'vitest';
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
import { type RedisProcess, redisForFile } from '../support/redis-server';

/** What the old layout kept under `prefix + name` and the new one keeps under `{prefix}name`. */
const MOVED = ['network', 'receipts', 'receipt-keys', 'ops'];

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

/** `network` undefined: it proposes a random id, and takes the one kept in Redis if there is one. */
function instance(ns: string, network: string | undefined = TEST_NETWORK) {
  const server = createSignalingServer({
    port: 0,
    host: '127.0.0.1',
    logger: testLogger,
    staticDir: '/nonexistent',
    ...(network ? { network } : {}),
    redis: { url: redis.url, prefix: ns },
  });
  servers.push(server);
  return server;
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

/**
 * A network with two logged receipts, stopped, then renamed back to the old layout: the layouts differ only
 * in key names, so this is what a network run by the previous version left in Redis.
 */
async function oldNetwork(ns: string): Promise<void> {
  const server = instance(ns);
  const { wsUrl } = await server.listen();
  const { c: provider } = await client(wsUrl, 'provider');
  const { c: requester, identity } = await client(wsUrl, 'requester');
  const matched = requester.once('matched');
  provider.announce(caps(), 1);
  requester.openJob('job-00001', needs());
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
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const name of MOVED) await raw.rename(networkKey(ns, name), ns + name);
  await raw.del(networkKey(ns, 'instances'), networkKey(ns, 'positions'));
}

describe('moving a network from the key layout before hash tags (SCALE8)', () => {
  it('SCALE8: the first instance to start moves the network id, receipt log and op stream to {prefix}name', async () => {
    const ns = `layout-${randomId(6)}:`;
    await oldNetwork(ns);
    await raw.hset(`${ns}positions`, 'stopped', '0-0');
    // Without --network it would start a new network unless it finds the one kept in Redis.
    const server = instance(ns, undefined);
    await server.listen();
    expect(server.ledger.network).toBe(TEST_NETWORK);
    expect(server.ledger.head.length).toBe(2);
    for (const name of MOVED) {
      expect(await raw.exists(ns + name), name).toBe(0);
      expect(await raw.exists(networkKey(ns, name)), name).toBe(1);
    }
    expect(await raw.exists(`${ns}positions`)).toBe(0);
  });

  it('SCALE8: while an instance of the old version is live, a new one refuses to start rather than fork the log', async () => {
    const ns = `layout-${randomId(6)}:`;
    await oldNetwork(ns);
    await raw.hset(`${ns}positions`, 'old-instance', '0-0');
    await raw.set(`${ns}live:old-instance`, '1', 'PX', 60_000);
    await expect(instance(ns).listen()).rejects.toThrow(
      /old-instance of the previous signaling version is still running/,
    );
    for (const name of MOVED) expect(await raw.exists(ns + name), name).toBe(1);
  });
});
