/**
 * npm run bench:signaling-redis — what sharing state through Redis costs the
 * relay, against one process in the same run: closed-loop offer/answer between
 * paired clients (800-byte SDP), measured round trip p50/p99 and relayed
 * msgs/s, for
 *   memory     one process, state in memory (the baseline)
 *   redis-same two instances on one redis-server, both peers on instance A
 *   redis-cross  the provider on A, the requester on B: every signal crosses Redis pub/sub
 * Servers and clients share this process (and its core), so the figures are
 * relative, not a capacity. Needs redis-server (Debian package). Flags:
 * --pairs N (default 20) --seconds N (default 5) --json.
 */
import { WebSocket } from 'ws';
import { randomId } from '@shared/bytes';
import { messageOf } from '@shared/errors';
import { createIdentity } from '@shared/identity';
import { createSignalingServer, type SignalingServer } from '../signaling/src/server';
import { caps, needs, testLogger } from '../signaling/src/testing/fixtures';
import { SignalingClient } from '../web/src/net/signaling-client';
import { startRedis } from '../tests/support/redis-server';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
};
const PAIRS = Number(arg('pairs', '20'));
const SECONDS = Number(arg('seconds', '5'));
const JSON_OUT = argv.includes('--json');
const SDP = 'v=0 '.padEnd(800, 'x');

interface Result {
  case: string;
  pairs: number;
  msgsPerS: number;
  rttP50Ms: number;
  rttP99Ms: number;
}

async function start(redisUrl?: string, prefix?: string): Promise<{ server: SignalingServer; wsUrl: string }> {
  const server = createSignalingServer({
    port: 0,
    host: '127.0.0.1',
    logger: testLogger,
    staticDir: '/nonexistent',
    // Every bench client comes from 127.0.0.1, and a closed loop sends far above one browser's message rate:
    // lift the per-IP caps and the per-connection rate, keep auth and validation on.
    limits: {
      maxConnectionsPerIp: 10_000,
      connectionBurst: 10_000,
      connectionsPerSecond: 10_000,
      maxJobsPerIp: 10_000,
      messageBurst: 100_000,
      messagesPerSecond: 100_000,
    },
    maxHttpConnectionsPerIp: 10_000,
    ...(redisUrl ? { redis: { url: redisUrl, prefix: prefix! } } : {}),
  });
  const { wsUrl } = await server.listen();
  return { server, wsUrl };
}

async function client(url: string, role: 'provider' | 'requester'): Promise<SignalingClient> {
  const c = new SignalingClient({ url, role, identity: await createIdentity(), WebSocket });
  const welcomed = c.once('welcome');
  c.connect();
  await welcomed;
  return c;
}

async function run(name: string, providerUrl: string, requesterUrl: string): Promise<Result> {
  const providers = await Promise.all(Array.from({ length: PAIRS }, () => client(providerUrl, 'provider')));
  for (const provider of providers) {
    provider.on('signal', (s) => provider.signal(s.from, s.jobId, { type: 'answer', sdp: SDP }));
    provider.announce(caps(), 1);
  }
  // The matchmaker decides who serves whom: each requester talks to the provider it was matched with.
  const requesters = await Promise.all(
    Array.from({ length: PAIRS }, async (_, i) => {
      const requester = await client(requesterUrl, 'requester');
      const jobId = `job-${String(i).padStart(5, '0')}`;
      const matched = requester.once('matched');
      requester.openJob(jobId, needs({ maxProviders: 1 }));
      return { requester, jobId, provider: (await matched).peerId };
    }),
  );
  const rtts: number[] = [];
  let messages = 0;
  const deadline = performance.now() + SECONDS * 1000;
  await Promise.all(
    requesters.map(async ({ requester, jobId, provider }) => {
      while (performance.now() < deadline) {
        const sent = performance.now();
        // An error frame (a refusal) ends the run loudly instead of waiting forever for an answer.
        const answered = Promise.race([
          requester.once('signal'),
          requester.once('error').then((e) => Promise.reject(new Error(`server refused: ${e.code} ${e.message}`))),
        ]);
        requester.signal(provider, jobId, { type: 'offer', sdp: SDP });
        await answered;
        rtts.push(performance.now() - sent);
        messages += 2;
      }
    }),
  );
  for (const c of [...providers, ...requesters.map((r) => r.requester)]) c.close();
  rtts.sort((a, b) => a - b);
  const at = (q: number) => Math.round(rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))]! * 100) / 100;
  return { case: name, pairs: PAIRS, msgsPerS: Math.round(messages / SECONDS), rttP50Ms: at(0.5), rttP99Ms: at(0.99) };
}

async function main(): Promise<void> {
  const results: Result[] = [];
  const memory = await start();
  results.push(await run('memory', memory.wsUrl, memory.wsUrl));
  await memory.server.close();

  const redis = await startRedis();
  try {
    const prefix = `bench-${randomId(6)}:`;
    const a = await start(redis.url, prefix);
    const b = await start(redis.url, prefix);
    results.push(await run('redis-same', a.wsUrl, a.wsUrl));
    results.push(await run('redis-cross', a.wsUrl, b.wsUrl));
    await Promise.all([a.server.close(), b.server.close()]);
  } finally {
    await redis.stop();
  }
  if (JSON_OUT) for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    const base = results[0]!;
    process.stdout.write(`case          pairs  msgs/s   rtt p50   rtt p99   msgs/s vs memory\n`);
    for (const r of results)
      process.stdout.write(
        `${r.case.padEnd(13)} ${String(r.pairs).padStart(5)}  ${String(r.msgsPerS).padStart(6)}  ${r.rttP50Ms.toFixed(2).padStart(6)} ms ${r.rttP99Ms.toFixed(2).padStart(6)} ms   ${(r.msgsPerS / base.msgsPerS).toFixed(2)}×\n`,
      );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${messageOf(error)}\n`);
    process.exit(1);
  },
);
