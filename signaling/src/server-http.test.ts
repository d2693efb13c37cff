import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createSignalingServer, type SignalingServer } from './server';
import { testLogger } from './testing/fixtures';

let dir: string;
let server: SignalingServer;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signaling-static-'));
  mkdirSync(join(dir, 'assets'));
  mkdirSync(join(dir, 'harness'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
  writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'export {}');
  writeFileSync(join(dir, 'assets', 'ort.wasm'), new Uint8Array([0, 97, 115, 109]));
  writeFileSync(join(dir, 'assets', 'worker.mjs'), 'export {}');
  writeFileSync(join(dir, 'assets', 'style.css'), 'body{}');
  writeFileSync(join(dir, 'model.onnx'), new Uint8Array([8, 1]));
  writeFileSync(join(dir, 'data.json'), '{}');
  writeFileSync(join(dir, 'harness', 'transport.html'), '<title>harness</title>');
  writeFileSync(join(tmpdir(), 'signaling-secret.txt'), 'secret');
  server = createSignalingServer({ port: 0, host: '127.0.0.1', staticDir: dir, logger: testLogger });
  base = (await server.listen()).url.replace(/\/$/, '');
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Raw GET so paths like /../ reach the server unnormalised. */
function get(
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP', () => {
  it('HTTP3: serves files with the right MIME types', async () => {
    const cases: Array<[string, string]> = [
      ['/', 'text/html'],
      ['/assets/app-abc123.js', 'text/javascript'],
      ['/assets/worker.mjs', 'text/javascript'],
      ['/assets/ort.wasm', 'application/wasm'],
      ['/assets/style.css', 'text/css'],
      ['/data.json', 'application/json'],
      ['/model.onnx', 'application/octet-stream'],
      ['/harness/transport.html', 'text/html'],
    ];
    for (const [path, type] of cases) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(String(res.headers['content-type']).split(';')[0], path).toBe(type);
    }
  });

  it('HTTP4: every response carries the cross-origin isolation headers', async () => {
    for (const path of ['/', '/assets/ort.wasm', '/missing.js', '/healthz', '/metrics']) {
      const res = await get(path);
      expect(res.headers['cross-origin-opener-policy'], path).toBe('same-origin');
      expect(res.headers['cross-origin-embedder-policy'], path).toBe('require-corp');
      expect(res.headers['cross-origin-resource-policy'], path).toBe('same-origin');
    }
  });

  it('HTTP5: path traversal cannot leave the static folder', async () => {
    for (const path of [
      '/../signaling-secret.txt',
      '/..%2fsignaling-secret.txt',
      '/%2e%2e/signaling-secret.txt',
      '/assets/..%2f..%2fsignaling-secret.txt',
      '/%00index.html',
      '/..\\signaling-secret.txt',
    ]) {
      const res = await get(path);
      expect(res.body, path).not.toContain('secret');
    }
    expect((await get('/%E0%A4%A')).status).toBe(400);
  });

  it('HTTP6: unknown page routes fall back to index.html; missing assets are 404', async () => {
    const page = await get('/provider/settings');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>app</title>');
    expect((await get('/assets/missing-123.js')).status).toBe(404);
    expect((await get('/nope.wasm')).status).toBe(404);
  });

  it('HTTP3: HEAD has headers and no body; other methods are refused', async () => {
    const head = await get('/assets/ort.wasm', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('4');
    expect(head.body).toBe('');
    expect((await get('/', 'POST')).status).toBe(405);
  });

  it('HTTP1: /healthz reports ok, uptime and connections by role', async () => {
    const res = await get('/healthz');
    const body = JSON.parse(res.body) as { ok: boolean; uptime: number; connections: Record<string, number> };
    expect(body.ok).toBe(true);
    expect(body.uptime).toBeGreaterThanOrEqual(0);
    expect(body.connections).toEqual({ provider: 0, requester: 0, unauthenticated: 0 });
  });

  it('HTTP2: /metrics is Prometheus text with connection and message counters', async () => {
    const ws = new WebSocket(base.replace('http', 'ws') + '/ws');
    await new Promise((r) => ws.once('message', r));
    const res = await get('/metrics');
    ws.close();
    expect(res.headers['content-type']).toContain('text/plain; version=0.0.4');
    expect(res.body).toContain('# TYPE signaling_messages_out_total counter');
    expect(res.body).toContain('signaling_messages_out_total{type="challenge"} 1');
    expect(res.body).toContain('signaling_connections{role="unauthenticated"} 1');
    for (const name of [
      'signaling_errors_total',
      'signaling_matches_total',
      'signaling_signals_relayed_total',
      'signaling_rate_limited_total',
      'signaling_messages_in_total',
    ]) {
      expect(res.body).toContain(`# TYPE ${name} counter`);
    }
    for (const line of res.body.trim().split('\n'))
      expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+]+)$/);
  });

  it('HTTP8: WebSocket upgrades are accepted only on /ws', async () => {
    const ws = new WebSocket(base.replace('http', 'ws') + '/elsewhere');
    const outcome = await new Promise<string>((r) => {
      ws.once('open', () => r('open'));
      ws.once('error', () => r('error'));
    });
    expect(outcome).toBe('error');
  });
});

describe('HTTP without a build', () => {
  it('HTTP7: a friendly page says to run npm run build', async () => {
    const bare = createSignalingServer({
      port: 0,
      host: '127.0.0.1',
      staticDir: join(dir, 'does-not-exist'),
      logger: testLogger,
    });
    const { url } = await bare.listen();
    const res = await fetch(url);
    await bare.close();
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });
});
