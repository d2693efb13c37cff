import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createLogger } from './log';
import { createSignalingServer } from './server';
import { testLogger } from './testing/fixtures';

function connect(url: string, options: { autoPong?: boolean } = {}) {
  const ws = new WebSocket(url, options);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const challenged = new Promise<void>((resolve) => ws.once('message', () => resolve()));
  return { ws, closed, challenged };
}

describe('server lifecycle', () => {
  it('OPS2: close() sends 1001 to every socket and frees the port', async () => {
    const server = createSignalingServer({ port: 0, host: '127.0.0.1', logger: testLogger });
    const { wsUrl, port } = await server.listen();
    const a = connect(wsUrl);
    const b = connect(wsUrl);
    await Promise.all([a.challenged, b.challenged]);
    await server.close();
    expect(await a.closed).toBe(1001);
    expect(await b.closed).toBe(1001);
    const again = createSignalingServer({ port, host: '127.0.0.1', logger: testLogger });
    await again.listen();
    await again.close();
  });

  it('HB2: over real sockets, a peer that stops answering pings is reaped with 4003', async () => {
    const server = createSignalingServer({ port: 0, host: '127.0.0.1', heartbeatMs: 20, logger: testLogger });
    const { wsUrl } = await server.listen();
    const dead = connect(wsUrl, { autoPong: false });
    const alive = connect(wsUrl);
    await Promise.all([dead.challenged, alive.challenged]);
    expect(await dead.closed).toBe(4003);
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    await server.close();
  });

  it('OPS3: logs are one JSON object per line with ts, level and event, filtered by level', () => {
    const lines: string[] = [];
    const log = createLogger('info', (line) => lines.push(line));
    log.debug('hidden');
    log.info('listening', { port: 1, error: new Error('boom') });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'info', event: 'listening', port: 1, error: { message: 'boom' } });
    expect(typeof entry.ts).toBe('string');
  });

  it('OPS2: the CLI prints where it listens and exits 0 on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'signaling/src/main.ts', '--port', '0', '--static', '/nonexistent'],
      {
        env: { ...process.env, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout });
    let listening: { url: string } | undefined;
    for await (const line of lines) {
      const entry = JSON.parse(line) as { event: string; url: string };
      if (entry.event === 'listening') {
        listening = entry;
        break;
      }
    }
    expect(listening?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect((await fetch(new URL('/healthz', listening!.url))).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain(`Open ${listening!.url}`);
  });
});
