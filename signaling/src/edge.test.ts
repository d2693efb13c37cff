import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { clientIp, originAllowed } from './edge';
import { createSignalingServer, type SignalingServer } from './server';
import { testLogger, until } from './testing/fixtures';

let server: SignalingServer | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  server = undefined;
});

async function start(options: Parameters<typeof createSignalingServer>[0] = {}) {
  server = createSignalingServer({
    port: 0,
    host: '127.0.0.1',
    staticDir: '/nonexistent',
    logger: testLogger,
    ...options,
  });
  return server.listen();
}

/** Opens a WebSocket and resolves with the HTTP status of a refused upgrade, or 101 once open. */
function upgrade(wsUrl: string, headers: Record<string, string> = {}): Promise<{ status: number; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { headers });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, ws }));
    ws.on('error', () => undefined);
  });
}

const metric = async (url: string, line: string) => (await (await fetch(url + 'metrics')).text()).includes(line);

describe('the HTTP edge', () => {
  it('EDGE1: X-Forwarded-For counts only from a trusted proxy, walked from the right', () => {
    const trusted = new Set(['10.0.0.1', '10.0.0.2']);
    expect(clientIp('10.0.0.1', '203.0.113.9', trusted)).toBe('203.0.113.9');
    expect(clientIp('::ffff:10.0.0.1', '198.51.100.1, 203.0.113.9, 10.0.0.2', trusted)).toBe('203.0.113.9');
    expect(clientIp('192.0.2.50', '203.0.113.9', trusted)).toBe('192.0.2.50'); // not a proxy: header ignored
    expect(clientIp('10.0.0.1', 'not-an-ip', trusted)).toBe('10.0.0.1');
    expect(clientIp('10.0.0.1', undefined, trusted)).toBe('10.0.0.1');
  });

  it('EDGE1: behind a trusted proxy the per-IP connection cap applies per client, not to the whole site', async () => {
    const { wsUrl } = await start({ trustedProxies: ['127.0.0.1'], limits: { maxConnectionsPerIp: 1 } });
    const a = await upgrade(wsUrl, { 'x-forwarded-for': '203.0.113.1' });
    const b = await upgrade(wsUrl, { 'x-forwarded-for': '203.0.113.2' });
    const c = await upgrade(wsUrl, { 'x-forwarded-for': '203.0.113.1' });
    const closed = await new Promise<number>((r) => c.ws.on('close', (code) => r(code)));
    expect([a.status, b.status]).toEqual([101, 101]);
    expect(closed).toBe(1008);
    for (const x of [a, b]) x.ws.close();
  });

  it('EDGE1: without a trusted proxy X-Forwarded-For is ignored', async () => {
    const { wsUrl } = await start({ limits: { maxConnectionsPerIp: 1 } });
    const a = await upgrade(wsUrl, { 'x-forwarded-for': '203.0.113.1' });
    const b = await upgrade(wsUrl, { 'x-forwarded-for': '203.0.113.2' });
    expect(a.status).toBe(101);
    expect(await new Promise<number>((r) => b.ws.on('close', (code) => r(code)))).toBe(1008);
    a.ws.close();
  });

  it('EDGE2: a page on another origin cannot open the signaling socket; the own origin and the allow-list can', async () => {
    const { wsUrl, url, port } = await start({ allowedOrigins: ['https://app.example'] });
    expect((await upgrade(wsUrl, { origin: 'https://evil.example' })).status).toBe(403);
    expect(await metric(url, 'signaling_http_refused_total{reason="origin"} 1')).toBe(true);
    const own = await upgrade(wsUrl, { origin: `http://127.0.0.1:${port}` });
    const listed = await upgrade(wsUrl, { origin: 'https://app.example' });
    const noOrigin = await upgrade(wsUrl);
    expect([own.status, listed.status, noOrigin.status]).toEqual([101, 101, 101]);
    for (const x of [own, listed, noOrigin]) x.ws.close();
    expect(originAllowed('null', 'localhost:8080', [])).toBe(false);
  });

  it('EDGE3: raw TCP connections are capped per IP and in all, before any HTTP is read', async () => {
    const { port, url } = await start({ maxHttpConnections: 6, maxHttpConnectionsPerIp: 3 });
    const open = () =>
      new Promise<Socket>((resolve) => {
        const s = connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', () => undefined);
        sockets.push(s);
      });
    const idle = [await open(), await open(), await open(), await open()];
    await until(() => idle[3]!.destroyed || idle[3]!.readableEnded, 'the 4th idle socket to be dropped');
    expect(idle.slice(0, 3).every((s) => !s.destroyed)).toBe(true);
    for (const s of idle) s.destroy();
    // the metric is served over a fresh connection once the server has seen the idle ones go
    await new Promise((r) => setTimeout(r, 100));
    expect(await metric(url, 'signaling_http_refused_total{reason="http-per-ip"} 1')).toBe(true);
  });

  it('EDGE3: the total cap holds whatever the addresses', async () => {
    const { port } = await start({ maxHttpConnections: 2, maxHttpConnectionsPerIp: 100 });
    const open = () =>
      new Promise<Socket>((resolve) => {
        const s = connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', () => undefined);
        sockets.push(s);
      });
    const idle = [await open(), await open(), await open()];
    await until(() => idle[2]!.destroyed || idle[2]!.readableEnded, 'the 3rd socket to be dropped');
    expect(idle.slice(0, 2).every((s) => !s.destroyed)).toBe(true);
  });
});
