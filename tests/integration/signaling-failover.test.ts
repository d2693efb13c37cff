/**
 * The signaling client takes several server URLs and moves to the next one
 * when its server goes away or cannot be reached (SPEC CLIENT8).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createIdentity } from '@shared/identity';
import { createSignalingServer, type SignalingServer } from '../../signaling/src/server';
import { caps, testLogger } from '../../signaling/src/testing/fixtures';
import { SignalingClient, signalingUrls } from '../../web/src/net/signaling-client';
import { freePort } from '../support/redis-server';

const servers: SignalingServer[] = [];
const clients: SignalingClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function startServer() {
  const server = createSignalingServer({ port: 0, host: '127.0.0.1', logger: testLogger, staticDir: '/nonexistent' });
  servers.push(server);
  return { server, ...(await server.listen()) };
}

async function provider(urls: string[]) {
  const c = new SignalingClient({
    url: urls,
    role: 'provider',
    identity: await createIdentity(),
    WebSocket,
    // Backoff far longer than the test: a quick hop to the next server is the only way it can pass.
    backoff: { initialMs: 60_000, maxMs: 60_000 },
  });
  clients.push(c);
  return c;
}

describe('signaling client failover', () => {
  it('CLIENT8: an unreachable first server is skipped for the next in the list', async () => {
    const dead = `ws://127.0.0.1:${await freePort()}/ws`;
    const live = await startServer();
    const c = await provider([dead, live.wsUrl]);
    const welcomed = c.once('welcome');
    c.connect();
    await welcomed;
    expect(c.url).toBe(live.wsUrl);
  });

  it('CLIENT8: when its server stops, the client moves to the next one and announces again there', async () => {
    const a = await startServer();
    const b = await startServer();
    const c = await provider([a.wsUrl, b.wsUrl]);
    const first = c.once('welcome');
    c.connect();
    await first;
    c.announce(caps(), 1);
    expect(c.url).toBe(a.wsUrl);
    const second = c.once('welcome');
    await a.server.close();
    await second;
    expect(c.url).toBe(b.wsUrl);
    await new Promise<void>((resolve) => {
      const check = () =>
        b.server.metrics.get('signaling_messages_in_total', { type: 'announce' }) ? resolve() : setTimeout(check, 10);
      check();
    });
    expect(b.server.metrics.get('signaling_messages_in_total', { type: 'announce' })).toBe(1);
  });

  it('CLIENT8: a page takes its server list from ?signal=, else signals through its own origin', () => {
    const page = { protocol: 'https:', host: 'net.example' };
    expect(signalingUrls({ ...page, search: '' })).toEqual(['wss://net.example/ws']);
    expect(signalingUrls({ ...page, search: '?signal=wss://a.example/ws,wss://b.example/ws' })).toEqual([
      'wss://a.example/ws',
      'wss://b.example/ws',
    ]);
    expect(signalingUrls({ ...page, search: '?signal=javascript:alert(1),http://x/ws' })).toEqual([
      'wss://net.example/ws',
    ]);
  });
});
