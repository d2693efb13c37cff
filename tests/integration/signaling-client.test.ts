import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { authMessage, verify } from '@shared/identity';
import { createIdentity } from '@shared/identity';
import { createSignalingServer, type SignalingServer } from '../../signaling/src/server';
import { caps, needs, testLogger } from '../../signaling/src/testing/fixtures';
import { readFileSync } from 'node:fs';
import {
  SignalingClient,
  backoffDelay,
  defaultSignalingUrl,
  type WebSocketConstructor,
} from '../../web/src/net/signaling-client';

// Compile-time proof that both the browser's and ws's WebSocket fit the injected constructor.
export const constructorsFit: WebSocketConstructor[] = [
  WebSocket,
  ...(typeof globalThis.WebSocket === 'function' ? [globalThis.WebSocket] : []),
];

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

async function client(url: string, role: 'provider' | 'requester') {
  const c = new SignalingClient({
    url,
    role,
    identity: await createIdentity(),
    WebSocket: WebSocket,
    backoff: { initialMs: 20, maxMs: 200 },
  });
  clients.push(c);
  return c;
}

describe('signaling client', () => {
  it('CLIENT1: authenticates, announces, opens a job, gets matched and relays a signal', async () => {
    const { wsUrl } = await startServer();
    const provider = await client(wsUrl, 'provider');
    const requester = await client(wsUrl, 'requester');
    const welcomed = Promise.all([provider.once('welcome'), requester.once('welcome')]);
    provider.connect();
    requester.connect();
    await welcomed;
    expect(provider.state).toBe('open');
    expect(requester.peerId).toBe(
      (requester as unknown as { options: { identity: { peerId: string } } }).options.identity.peerId,
    );

    const matched = Promise.all([provider.once('matched'), requester.once('matched')]);
    provider.announce(caps(), 1);
    requester.openJob('job-00001', needs());
    const [toProvider, toRequester] = await matched;
    expect(toProvider.peerId).toBe(requester.peerId);
    expect(toRequester.peerId).toBe(provider.peerId);
    expect(toRequester.capabilities?.backend).toBe('wasm');

    const got = provider.once('signal');
    requester.signal(provider.peerId!, 'job-00001', { type: 'offer', sdp: 'v=0' });
    const signal = await got;
    expect(signal).toEqual({
      type: 'signal',
      from: requester.peerId,
      jobId: 'job-00001',
      payload: { type: 'offer', sdp: 'v=0' },
    });
  });

  it('CLIENT2: reconnects after a real server restart and resumes announce and open jobs', async () => {
    const first = await startServer();
    const provider = await client(first.wsUrl, 'provider');
    const requester = await client(first.wsUrl, 'requester');
    provider.connect();
    requester.connect();
    provider.announce(caps(), 1); // sent while connecting: remembered and sent on welcome
    requester.openJob('job-restart', needs());
    await Promise.all([provider.once('matched'), requester.once('matched')]);

    const reconnecting = Promise.all([
      provider.once('state', (s) => s === 'reconnecting'),
      requester.once('state', (s) => s === 'reconnecting'),
    ]);
    await first.server.close();
    servers.splice(servers.indexOf(first.server), 1);
    await reconnecting;

    const rematched = Promise.all([provider.once('matched'), requester.once('matched')]);
    await startServer(first.port);
    const [p, r] = await rematched;
    expect(p.jobId).toBe('job-restart');
    expect(r.peerId).toBe(provider.peerId);
    expect(provider.state).toBe('open');
  });

  it('CLIENT3: a second connection with the same key replaces the first, which stops for good', async () => {
    const { wsUrl } = await startServer();
    const identity = await createIdentity();
    const make = () =>
      new SignalingClient({
        url: wsUrl,
        role: 'provider',
        identity,
        WebSocket: WebSocket,
        backoff: { initialMs: 20, maxMs: 200 },
      });
    const a = make();
    const b = make();
    clients.push(a, b);
    a.connect();
    await a.once('welcome');
    const dropped = a.once('disconnected');
    b.connect();
    await b.once('welcome');
    expect(await dropped).toMatchObject({ code: 4004, willReconnect: false });
    expect(a.state).toBe('closed');
  });

  it('CLIENT4: backoff grows exponentially with jitter and is capped', () => {
    const opts = { initialMs: 100, maxMs: 1000, factor: 2 };
    expect(backoffDelay(0, opts, () => 0)).toBe(50);
    expect(backoffDelay(0, opts, () => 0.999)).toBeLessThanOrEqual(100);
    expect(backoffDelay(3, opts, () => 0)).toBe(400);
    expect(backoffDelay(20, opts, () => 0.5)).toBe(750);
  });

  it('CLIENT5: derives the signaling URL from the page origin', () => {
    expect(defaultSignalingUrl({ protocol: 'http:', host: 'localhost:8080' })).toBe('ws://localhost:8080/ws');
    expect(defaultSignalingUrl({ protocol: 'https:', host: 'example.org' })).toBe('wss://example.org/ws');
  });

  it('CLIENT6: the client core is framework- and Node-free (imports only shared/)', () => {
    const source = readFileSync(new URL('../../web/src/net/signaling-client.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const spec of imports) expect(spec).toMatch(/^@shared\//);
  });

  it('CLIENT7: a server that goes silent (half-open socket) is dropped and reconnected to', async () => {
    // A fake server that authenticates properly, then never answers anything again.
    const fake = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => fake.once('listening', r));
    let connections = 0;
    fake.on('connection', (ws) => {
      connections++;
      const nonce = 'n'.repeat(43);
      let role = '';
      ws.send(JSON.stringify({ type: 'challenge', v: 1, nonce, expiresInMs: 30_000 }));
      ws.on('message', async (data) => {
        const m = JSON.parse(String(data)) as { type: string; role: string; publicKey: string; signature: string };
        if (m.type === 'hello') role = m.role;
        if (m.type === 'auth' && (await verify(m.publicKey, authMessage(nonce, role), m.signature))) {
          ws.send(JSON.stringify({ type: 'welcome', peerId: m.publicKey, iceServers: [], heartbeatMs: 20 }));
        }
      });
    });
    const { port } = fake.address() as { port: number };
    const c = await client(`ws://127.0.0.1:${port}/ws`, 'provider');
    c.connect();
    await c.once('welcome');
    expect(await c.once('disconnected')).toMatchObject({ code: 4003, willReconnect: true });
    await c.once('welcome');
    expect(connections).toBe(2);
    c.close();
    for (const ws of fake.clients) ws.terminate();
    await new Promise((r) => fake.close(r));
  });
});
