/**
 * ABUSE3: the server never crashes on input. Many attacker connections send
 * >= 10,000 random, malformed, oversized, binary and replayed frames and forged
 * signatures over real sockets, while legit clients in the same run complete
 * auth -> announce -> job-open -> matched -> signal relay, unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION, type Role } from '@shared/protocol';
import { authMessage, createIdentity, sign, type Identity } from '@shared/identity';
import { SignalingClient } from '../../web/src/net/signaling-client';
import { createLogger } from '../../signaling/src/log';
import { createSignalingServer, type SignalingServer } from '../../signaling/src/server';
import { caps, needs } from '../../signaling/src/testing/fixtures';
import { randomFrame, seededRng, type Rng } from '../../signaling/src/testing/fuzz-frames';

const FRAMES = 10_000;
const ATTACKERS = 8;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

const errorLogs: string[] = [];
let server: SignalingServer;
let wsUrl: string;
let baseUrl: string;

beforeAll(async () => {
  server = createSignalingServer({
    port: 0,
    host: '127.0.0.1',
    staticDir: '/nonexistent',
    // Attackers and legit clients share 127.0.0.1 here, so the per-IP limits are
    // opened wide; per-connection limits stay as shipped except protocol strikes,
    // raised so connections live long enough to reach post-auth handlers.
    limits: { connectionBurst: 1e6, connectionsPerSecond: 1e6, maxConnectionsPerIp: 1_000, protocolStrikes: 60 },
    logger: createLogger('error', (line) => errorLogs.push(line)),
  });
  ({ wsUrl, url: baseUrl } = await server.listen());
});

afterAll(() => server.close());

let framesSent = 0;
const peers: string[] = [];
const replays: string[] = [];
const closeCodes = new Map<number, number>();

async function openSocket(): Promise<{ ws: WebSocket; nonce: string } | null> {
  const ws = new WebSocket(wsUrl);
  ws.on('error', () => {});
  const nonce = await new Promise<string | null>((resolve) => {
    ws.once('message', (data) => {
      try {
        resolve((JSON.parse(String(data)) as { nonce: string }).nonce);
      } catch {
        resolve(null);
      }
    });
    ws.once('close', () => resolve(null));
  });
  if (!nonce) return null;
  ws.on('close', (code) => closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1));
  return { ws, nonce };
}

/** One attacker: opens connections back to back, sometimes authenticating first, and sprays frames. */
async function attacker(rng: Rng, identity: Identity): Promise<void> {
  while (framesSent < FRAMES) {
    const opened = await openSocket();
    if (!opened) continue;
    const { ws, nonce } = opened;
    if (rng() < 0.5) {
      const role: Role = rng() < 0.5 ? 'provider' : 'requester';
      const auth = JSON.stringify({
        type: 'auth',
        publicKey: identity.peerId,
        signature: await sign(identity, authMessage(nonce, role)),
      });
      ws.send(JSON.stringify({ type: 'hello', v: PROTOCOL_VERSION, role }));
      ws.send(auth);
      replays.push(auth); // a used nonce: replaying it anywhere must fail
      if (replays.length > 50) replays.shift();
    } else if (rng() < 0.3) {
      ws.send(JSON.stringify({ type: 'hello', v: rng() < 0.2 ? 7 : PROTOCOL_VERSION, role: 'provider' }));
    }
    const budget = 1 + Math.floor(rng() * 150);
    for (let i = 0; i < budget && ws.readyState === WebSocket.OPEN && framesSent < FRAMES; i++) {
      const frame = randomFrame(rng, peers, replays);
      if (frame.kind === 'text') ws.send(frame.text);
      else ws.send(frame.bytes, { binary: frame.binary });
      framesSent++;
      if (i % 16 === 15) await new Promise((r) => setImmediate(r));
    }
    ws.close();
  }
}

/** A legit pair completing the whole signaling flow; `n` makes its job and provider unique. */
async function legitFlow(n: number): Promise<void> {
  const make = async (role: Role) =>
    new SignalingClient({
      url: wsUrl,
      role,
      identity: await createIdentity(),
      WebSocket: WebSocket,
      backoff: { initialMs: 10, maxMs: 100 },
    });
  const provider = await make('provider');
  const requester = await make('requester');
  const errors: string[] = [];
  provider.on('error', (e) => errors.push(`provider ${e.code}: ${e.message}`));
  requester.on('error', (e) => errors.push(`requester ${e.code}: ${e.message}`));
  try {
    const welcomed = Promise.all([provider.once('welcome'), requester.once('welcome')]);
    provider.connect();
    requester.connect();
    await welcomed;
    peers.push(provider.peerId!, requester.peerId!);
    const gflops = 1000 + n;
    const jobId = `legit-job-${n}`;
    const matched = Promise.all([
      provider.once('matched', (m) => m.jobId === jobId),
      requester.once('matched', (m) => m.jobId === jobId),
    ]);
    provider.announce(caps({ backend: 'webgpu', gflops, measured: { webgpu: gflops } }), 1);
    requester.openJob(jobId, needs({ maxProviders: 1, backends: ['webgpu'], minGflops: gflops }));
    const [toProvider, toRequester] = await matched;
    expect(toProvider.peerId).toBe(requester.peerId);
    expect(toRequester.peerId).toBe(provider.peerId);

    const offer = provider.once('signal');
    requester.signal(provider.peerId!, jobId, { type: 'offer', sdp: `v=0 offer ${n}` });
    expect(await offer).toEqual({
      type: 'signal',
      from: requester.peerId,
      jobId,
      payload: { type: 'offer', sdp: `v=0 offer ${n}` },
    });
    const answer = requester.once('signal');
    provider.signal(requester.peerId!, jobId, {
      type: 'candidate',
      candidate: { candidate: `candidate:${n} 1 udp 1 127.0.0.1 9 typ host`, sdpMid: '0', sdpMLineIndex: 0 },
    });
    expect((await answer).from).toBe(provider.peerId);
    expect(errors).toEqual([]);
  } finally {
    provider.close();
    requester.close();
  }
}

describe('fuzz over real sockets', () => {
  it('ABUSE3: 10,000 hostile frames do not crash the server or disturb legit clients', async () => {
    console.log(`fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED})`);
    const identities = await Promise.all(Array.from({ length: ATTACKERS }, () => createIdentity()));
    const attackers = identities.map((id, i) => attacker(seededRng(SEED * 31 + i), id));
    let legitDone = 0;
    const legit = (async () => {
      for (let n = 0; framesSent < FRAMES || n < 3; n++) {
        await legitFlow(n);
        legitDone++;
      }
    })();
    await Promise.all([...attackers, legit]);
    if (process.env.FUZZ_DEBUG) console.log(server.metrics.render(), closeCodes);

    expect(framesSent).toBeGreaterThanOrEqual(FRAMES);
    expect(legitDone).toBeGreaterThanOrEqual(3);
    // The server is still up and still serves a fresh legit flow.
    await legitFlow(10_000);
    const health = (await (await fetch(new URL('/healthz', baseUrl))).json()) as { ok: boolean };
    expect(health.ok).toBe(true);
    expect(server.metrics.get('signaling_errors_total', { code: 'internal' })).toBe(0);
    expect(errorLogs).toEqual([]);
    // The hostile traffic actually exercised the defences.
    for (const code of ['bad-json', 'invalid', 'unknown-type', 'too-large', 'not-authenticated', 'auth']) {
      expect(server.metrics.get('signaling_errors_total', { code }), code).toBeGreaterThan(0);
    }
    expect(server.metrics.get('signaling_auth_failures_total')).toBeGreaterThan(0);
    expect(closeCodes.get(4001) ?? 0).toBeGreaterThan(0);
    expect(closeCodes.get(1009) ?? 0).toBeGreaterThan(0);
  }, 60_000);
});
