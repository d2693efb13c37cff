/**
 * A provider's signed display name end to end, over the real server and the
 * browser's signaling client (SPEC NAME2, NAME3): set from the page's
 * controller, kept in its store, resent after the server restarts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createIdentity } from '@shared/identity';
import { createSignalingServer, type SignalingServer } from '../../signaling/src/server';
import { testLogger } from '../../signaling/src/testing/fixtures';
import { SignalingClient } from '../../web/src/net/signaling-client';
import { DisplayNameController } from '../../web/src/provider/display-name';
import { memoryStore } from '../../web/src/storage/kv';
import type { SignalingPort } from '../../web/src/core/ports';

const servers: SignalingServer[] = [];
const clients: SignalingClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function startServer(port = 0) {
  const server = createSignalingServer({ port, host: '127.0.0.1', logger: testLogger, staticDir: '/nonexistent' });
  servers.push(server);
  return { server, ...(await server.listen()) };
}

describe('display names over the real server', () => {
  it('NAME3: a name set on the provider page is shown, and shown again after the server restarts', async () => {
    const first = await startServer();
    const identity = await createIdentity();
    const client = new SignalingClient({
      url: first.wsUrl,
      role: 'provider',
      identity,
      WebSocket,
      backoff: { initialMs: 20, maxMs: 200 },
    });
    clients.push(client);
    const port: Pick<SignalingPort, 'send' | 'on'> = {
      send: (message) => void client.send(message),
      on: (event, handler) => client.on(event as 'welcome', handler as never),
    };
    const store = memoryStore();
    const names = new DisplayNameController({ store, identity, signaling: port });
    await names.start();
    client.connect();
    await client.once('welcome');

    expect(await names.set('x'.repeat(40))).toMatch(/at most 32 characters/);
    expect(names.view.get().error).toMatch(/Name not saved/);
    expect(store.map.size).toBe(0);

    const acked = client.once('display-name-ack');
    expect(await names.set('  Grace Hopper ')).toBeNull();
    expect(await acked).toMatchObject({ accepted: true, name: 'Grace Hopper' });
    expect(names.view.get()).toEqual({ chosen: 'Grace Hopper', shown: 'Grace Hopper' });
    expect(first.server.ledger.nameOf(identity.peerId)).toBe('Grace Hopper');

    await first.server.close();
    servers.splice(servers.indexOf(first.server), 1);
    const again = client.once('display-name-ack');
    const second = await startServer(first.port);
    expect(await again).toMatchObject({ accepted: true, name: 'Grace Hopper' });
    expect(second.server.ledger.nameOf(identity.peerId)).toBe('Grace Hopper');

    // A reload: a new controller reads the stored name and sends it on the next connection.
    const reloaded = new DisplayNameController({ store, identity, signaling: port });
    await reloaded.start();
    expect(reloaded.view.get().chosen).toBe('Grace Hopper');
  });
});
