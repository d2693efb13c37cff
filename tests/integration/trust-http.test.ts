import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION, decodeServerMessage, type ServerMessage, type ServerMessageOf } from '@shared/protocol';
import { authMessage, createIdentity, sign, type Identity } from '@shared/identity';
import { verifyChain, type LogEntry } from '@shared/trust';
import type { Receipt } from '@shared/trust';
import { fetchLeaderboard, LeaderboardError } from '../../web/src/net/leaderboard';
import { RECEIPT_LOG_FILE } from '../../signaling/src/constants';
import { createSignalingServer, type SignalingServer } from '../../signaling/src/server';
import { testLogger, TEST_NETWORK } from '../../signaling/src/testing/fixtures';
import { pairWith, peerIds, receiptFor } from '../../signaling/src/testing/receipts';

let dir: string;
let server: SignalingServer;
let base: string;
let wsUrl: string;
let requester: Identity;
let providers: string[];

/** A requester over a real socket: authenticates, then sends receipts and waits for each ack. */
async function requesterClient(identity: Identity) {
  const ws = new WebSocket(wsUrl);
  const inbox: ServerMessage[] = [];
  let wake = () => {};
  ws.on('message', (data) => {
    const decoded = decodeServerMessage(String(data));
    if (!decoded.ok) throw new Error(decoded.error);
    inbox.push(decoded.message);
    wake();
  });
  const next = async <T extends ServerMessage['type']>(type: T): Promise<ServerMessageOf<T>> => {
    for (;;) {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return inbox.splice(i, 1)[0] as ServerMessageOf<T>;
      await new Promise<void>((r) => (wake = r));
    }
  };
  const challenge = await next('challenge');
  ws.send(JSON.stringify({ type: 'hello', v: PROTOCOL_VERSION, role: 'requester' }));
  ws.send(
    JSON.stringify({
      type: 'auth',
      publicKey: identity.peerId,
      signature: await sign(identity, authMessage(challenge.nonce, 'requester')),
    }),
  );
  await next('welcome');
  return {
    async submit(receipts: Receipt[]) {
      ws.send(JSON.stringify({ type: 'receipts', receipts }));
      return next('receipts-ack');
    },
    close: () => ws.close(),
  };
}

async function getJson(path: string, method = 'GET'): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(base + path, { method });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signaling-trust-http-'));
  server = createSignalingServer({
    port: 0,
    host: '127.0.0.1',
    staticDir: join(dir, 'nope'),
    dataDir: dir,
    network: TEST_NETWORK,
    logger: testLogger,
  });
  const listening = await server.listen();
  base = listening.url.replace(/\/$/, '');
  wsUrl = listening.wsUrl;
  requester = await createIdentity();
  providers = await peerIds(3);
  // As if the matchmaker had paired them an hour ago (CREDIT10).
  pairWith(server.ledger, requester.peerId, providers, { at: Date.now() - 3_600_000 });
  const client = await requesterClient(requester);
  const receipts = await Promise.all([
    receiptFor(requester, providers[0]!, { flops: 3e9, issuedAt: Date.now() - 1000 }),
    receiptFor(requester, providers[1]!, { flops: 9e9, issuedAt: Date.now() - 2000 }),
    receiptFor(requester, providers[0]!, { flops: 4e9, issuedAt: Date.now() - 500 }),
    receiptFor(requester, providers[2]!, { flops: 1e9, issuedAt: Date.now() - 100 }),
  ]);
  const ack = await client.submit(receipts);
  expect(ack.accepted).toBe(4);
  client.close();
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('trust over HTTP', () => {
  it('HTTP9: the web fetch helper reads and validates /leaderboard, ordered by credit', async () => {
    const board = await fetchLeaderboard({ baseUrl: base });
    expect(board.rows.map((r) => [r.provider, r.flops, r.units])).toEqual([
      [providers[1], 9e9, 1],
      [providers[0], 7e9, 2],
      [providers[2], 1e9, 1],
    ]);
    expect(board.providers).toBe(3);
    expect(board.head.length).toBe(4);
    expect((await fetchLeaderboard({ baseUrl: base, limit: 1 })).rows).toHaveLength(1);
    expect((await fetchLeaderboard({ baseUrl: base, minRequesters: 2 })).rows).toEqual([]);
  });

  it('HTTP9: bad query values are 400 with a reason; the helper surfaces it as LeaderboardError', async () => {
    for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'limit=1.5', 'minRequesters=17']) {
      const res = await getJson(`/leaderboard?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body).toMatchObject({ error: expect.any(String) });
    }
    await expect(fetchLeaderboard({ baseUrl: base, limit: 5000 })).rejects.toMatchObject({
      name: 'LeaderboardError',
      status: 400,
    });
  });

  it('HTTP9: the helper rejects a response of the wrong shape', async () => {
    const fake = (async () =>
      new Response(JSON.stringify({ head: { length: 1, hash: 'x' }, providers: 1, rows: [] }))) as typeof fetch;
    const error = await fetchLeaderboard({ baseUrl: base, fetch: fake }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaderboardError);
    expect((error as Error).message).toContain('head.hash');
  });

  it("HTTP10: /receipts/:provider pages through that provider's entries, each verifiable offline", async () => {
    const first = (await getJson(`/receipts/${providers[0]}?limit=1`)).body as {
      total: number;
      entries: LogEntry[];
      next: number | null;
    };
    expect(first.total).toBe(2);
    expect(first.next).toBe(1);
    const second = (await getJson(`/receipts/${providers[0]}?offset=1&limit=1`)).body as {
      entries: LogEntry[];
      next: number | null;
    };
    expect(second.next).toBeNull();
    expect([...first.entries, ...second.entries].map((e) => e.receipt.flops)).toEqual([3e9, 4e9]);
    expect((await getJson('/receipts/not-a-key')).status).toBe(400);
    expect((await getJson(`/receipts/${providers[0]}?limit=501`)).status).toBe(400);
  });

  it('HTTP11: /log/head and /log let anyone re-verify the whole chain', async () => {
    const head = (await getJson('/log/head')).body as { length: number; hash: string };
    expect(head.length).toBe(4);
    const page = (await getJson('/log?limit=500')).body as { entries: LogEntry[]; next: number | null };
    expect(page.next).toBeNull();
    expect(await verifyChain(page.entries, { expectedHead: { seq: head.length - 1, hash: head.hash } })).toEqual({
      seq: 3,
      hash: head.hash,
    });
  });

  it('HTTP12: trust endpoints are GET/HEAD only and carry the isolation headers', async () => {
    const post = await fetch(base + '/leaderboard', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(base + '/log/head', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(head.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('CREDIT8: /metrics counts accepted and rejected receipts', async () => {
    const client = await requesterClient(requester);
    const dup = (await getJson('/log?limit=1')).body as { entries: LogEntry[] };
    expect((await client.submit([dup.entries[0]!.receipt])).rejected[0]?.reason).toBe('replay');
    client.close();
    const text = await (await fetch(base + '/metrics')).text();
    expect(text).toContain('signaling_receipts_accepted_total 4');
    expect(text).toContain('signaling_receipts_rejected_total{reason="replay"} 1');
    expect(text).toContain('signaling_receipt_log_entries 4');
  });
});

describe('the CLI with --data', () => {
  it('CREDIT6: a tampered receipt log stops the server at start-up with an error naming the line', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'signaling-tampered-'));
    try {
      const lines = readFileSync(join(dir, RECEIPT_LOG_FILE), 'utf8').trimEnd().split('\n');
      expect(lines).toHaveLength(4);
      lines[2] = lines[2]!.replace(/"flops":\d+/, '"flops":999999999999');
      writeFileSync(join(copy, RECEIPT_LOG_FILE), lines.join('\n') + '\n');
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'signaling/src/main.ts', '--port', '0', '--data', copy],
        {
          env: { ...process.env, LOG_LEVEL: 'silent' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code).toBe(1);
      expect(stderr).toContain(`${join(copy, RECEIPT_LOG_FILE)}, line 3`);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
