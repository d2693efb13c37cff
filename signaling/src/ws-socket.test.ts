import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { SignalingSocket } from './socket';
import { wsSocket } from './ws-socket';

/** A real ws server whose one connection is handed to the test as a SignalingSocket, with its raw TCP socket. */
async function connected(): Promise<{ socket: SignalingSocket; raw: Socket; client: WebSocket; http: Server }> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const accepted = new Promise<{ socket: SignalingSocket; raw: Socket }>((resolve) =>
    http.on('upgrade', (req, raw: Socket, head) =>
      wss.handleUpgrade(req, raw, head, (ws) => resolve({ socket: wsSocket(ws, '127.0.0.1', raw), raw })),
    ),
  );
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as { port: number };
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  const { socket, raw } = await accepted;
  await new Promise((resolve) => client.once('open', resolve));
  return { socket, raw, client, http };
}

/** Counts the writes that reach the raw socket's transport (one syscall each, at most). */
function countWrites(raw: Socket): () => number {
  let writes = 0;
  const stream = raw as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = stream._write.bind(raw);
  const writev = stream._writev.bind(raw);
  stream._write = (...a) => (writes++, write(...a));
  stream._writev = (...a) => (writes++, writev(...a));
  return () => writes;
}

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

describe('ws adapter', () => {
  it('frames sent in one callback arrive whole and in order, in one write', async () => {
    const { socket, raw, client, http } = await connected();
    cleanup = () => (client.terminate(), http.close());
    const writes = countWrites(raw);
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      client.on('message', (data) => {
        got.push(String(data));
        if (got.length === 50) resolve();
      }),
    );
    const sent = Array.from({ length: 50 }, (_, i) => JSON.stringify({ type: 'pong', t: i, pad: 'x'.repeat(i * 37) }));
    for (const text of sent) socket.send(text);
    await all;
    expect(got).toEqual(sent);
    expect(writes()).toBe(1);
  });

  it('ABUSE2: bytes held back until the callback returns still count as unsent', async () => {
    const { socket, client, http } = await connected();
    cleanup = () => (client.terminate(), http.close());
    const text = 'y'.repeat(10_000);
    socket.send(text);
    socket.send(text);
    expect(socket.bufferedAmount).toBeGreaterThanOrEqual(2 * text.length);
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('a frame sent just before close is delivered before the close frame', async () => {
    const { socket, client, http } = await connected();
    cleanup = () => (client.terminate(), http.close());
    const events: string[] = [];
    const closed = new Promise<void>((resolve) =>
      client.on('close', (code) => {
        events.push(`close ${code}`);
        resolve();
      }),
    );
    client.on('message', (data) => events.push(String(data)));
    socket.send('{"type":"error","code":"rate-limited","message":"bye"}');
    socket.close(1008, 'rate limited');
    await closed;
    expect(events).toEqual(['{"type":"error","code":"rate-limited","message":"bye"}', 'close 1008']);
  });

  it('sockets corked in one callback are flushed independently', async () => {
    const a = await connected();
    const b = await connected();
    cleanup = () => (a.client.terminate(), b.client.terminate(), a.http.close(), b.http.close());
    const first = (c: WebSocket) => new Promise<string>((resolve) => c.once('message', (d) => resolve(String(d))));
    const gotA = first(a.client);
    const gotB = first(b.client);
    a.socket.send('"a"');
    b.socket.send('"b"');
    expect([await gotA, await gotB]).toEqual(['"a"', '"b"']);
  });

  it('a socket destroyed while corked does not hold back the others, then or later', async () => {
    const a = await connected();
    const b = await connected();
    cleanup = () => (a.client.terminate(), b.client.terminate(), a.http.close(), b.http.close());
    const got: string[] = [];
    const two = new Promise<void>((resolve) =>
      b.client.on('message', (d) => {
        got.push(String(d));
        if (got.length === 2) resolve();
      }),
    );
    a.socket.send('"a"');
    b.socket.send('"b1"');
    a.raw.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    b.socket.send('"b2"');
    await two;
    expect(got).toEqual(['"b1"', '"b2"']);
  });

  it('the flush follows the callback at once, not after the I/O still waiting in this loop iteration', async () => {
    const { socket, raw, client, http } = await connected();
    cleanup = () => (client.terminate(), http.close());
    const writes = countWrites(raw);
    socket.send('"now"');
    socket.send('"now too"');
    expect(writes()).toBe(0);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(writes()).toBe(1);
  });
});
