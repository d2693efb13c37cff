/**
 * npm run bench:signaling — our signaling server against PeerJS server 1.0.2,
 * side by side in one run, with the same load generator (bench/signaling/worker.ts,
 * spread over processes). Each server runs in its own process (ours with auth,
 * validation and rate limits on; only the per-IP caps are raised, since every
 * connection comes from 127.0.0.1). For each size, both shapes:
 *   rounds  closed loop per pair: offer → answer → next offer (800-byte SDP each)
 *   steady  open loop: each pair's requester sends 5 offers/s
 * Figures per case: relayed msgs/s, one-way latency p50/p99 (sender's timestamp
 * in the payload), server CPU per relayed message (/proc), server RSS, load
 * generator CPU, connect time. Prints a table with ratios, or with --json one
 * JSON object per case; saves JSON to bench/results/signaling.json.
 *   --quick: 2,000 and 6,000 connections, 8 s per shape   (default: 15 s per shape)
 *   --sizes 2000,6000  --seconds N  --workers N  --json
 *   --profile DIR: our server writes a V8 CPU profile there (node --cpu-prof), to see where its time goes
 */
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import type { Server } from './signaling/protocol';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const arg = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
};
const QUICK = flag('quick');
const JSON_OUT = flag('json');
const SIZES = arg('sizes', '2000,6000').split(',').map(Number);
const SECONDS = Number(arg('seconds', QUICK ? '8' : '15'));
const WORKERS = Number(arg('workers', String(Math.max(2, Math.min(4, cpus().length)))));
const STEADY_RATE = 5;
const PROFILE_DIR = arg('profile', '');
const CLK_TCK = 100; // Linux USER_HZ

interface CaseResult {
  case: string;
  server: Server;
  connections: number;
  shape: 'rounds' | 'steady';
  msgsPerS: number;
  offeredPerS: number;
  deliveredShare: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerMsg: number;
  rssMB: number;
  connectS: number;
  loadGenCpuS: number;
}

const say = (line: string) => {
  if (!JSON_OUT) process.stderr.write(line + '\n');
};

function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

function procCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1000;
}

function procRssMB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

async function startServer(server: Server, port: number): Promise<ChildProcess> {
  const args =
    server === 'ours'
      ? [
          ...(PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : []),
          '--import',
          'tsx',
          'signaling/src/main.ts',
          '--port',
          String(port),
          '--static',
          '/nonexistent',
          // everything arrives from 127.0.0.1: raise only the per-IP caps; auth, validation and rate limits stay on
          '--conn-rate',
          '1000000',
          '--max-conns-per-ip',
          '1000000',
          '--max-jobs-per-ip',
          '1000000',
          '--max-http-conns',
          '100000',
          '--max-http-conns-per-ip',
          '100000',
        ]
      : [resolve('node_modules/peer/dist/bin/peerjs.js'), '--port', String(port), '--concurrent_limit', '100000'];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}${server === 'ours' ? '/healthz' : '/'}`).then(
      () => true,
      () => false,
    );
    if (ok) return child;
    if (Date.now() > deadline) throw new Error(`${server} server did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type WorkerMessage =
  | { type: 'ready'; connectMs: number; unmatched: number }
  | { type: 'result'; delivered: number; offered: number; latencies: Float64Array; cpuMs: number }
  | { type: 'server-error'; code: string; message: string }
  | { type: 'failed'; error: string };

function ask<T extends WorkerMessage['type']>(
  workers: ChildProcess[],
  message: unknown,
  want: T,
): Promise<Extract<WorkerMessage, { type: T }>[]> {
  return Promise.all(
    workers.map(
      (w) =>
        new Promise<Extract<WorkerMessage, { type: T }>>((resolveMsg, reject) => {
          const on = (m: WorkerMessage) => {
            if (m.type === 'failed') reject(new Error(m.error));
            if (m.type === 'server-error') say(`  server error: ${m.code} ${m.message}`);
            if (m.type === want) {
              w.off('message', on);
              resolveMsg(m as Extract<WorkerMessage, { type: T }>);
            }
          };
          w.on('message', on);
          w.send(message as never);
        }),
    ),
  );
}

const quantile = (sorted: Float64Array, q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;

async function runServer(server: Server, connections: number): Promise<CaseResult[]> {
  const port = await freePort();
  const child = await startServer(server, port);
  const pairs = connections / 2;
  const workers = Array.from({ length: WORKERS }, () =>
    fork(resolve('bench/signaling/worker.ts'), [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    }),
  );
  const results: CaseResult[] = [];
  try {
    const t0 = performance.now();
    const started = await Promise.all(
      workers.map((w, i) => {
        const share = Math.floor(pairs / WORKERS) + (i < pairs % WORKERS ? 1 : 0);
        return ask(
          [w],
          { type: 'start', server, base: `ws://127.0.0.1:${port}`, pairs: share, prefix: `${i}` },
          'ready',
        );
      }),
    );
    const connectS = (performance.now() - t0) / 1000;
    const unmatched = started.flat().reduce((n, r) => n + r.unmatched, 0);
    say(
      `  ${server} ${connections} connections up in ${connectS.toFixed(1)} s${unmatched ? ` (${unmatched} unmatched)` : ''}`,
    );
    for (const shape of ['rounds', 'steady'] as const) {
      const cpu0 = procCpuMs(child.pid!);
      const out = await ask(workers, { type: 'run', shape, seconds: SECONDS, rate: STEADY_RATE }, 'result');
      const cpuMs = procCpuMs(child.pid!) - cpu0;
      const delivered = out.reduce((n, r) => n + r.delivered, 0);
      const offered = out.reduce((n, r) => n + r.offered, 0);
      const all = new Float64Array(out.reduce((n, r) => n + r.latencies.length, 0));
      let at = 0;
      for (const r of out) {
        all.set(r.latencies, at);
        at += r.latencies.length;
      }
      all.sort();
      const result: CaseResult = {
        case: `${shape}-${connections}`,
        server,
        connections,
        shape,
        msgsPerS: delivered / SECONDS,
        offeredPerS: offered / SECONDS,
        deliveredShare: offered ? delivered / offered : 0,
        p50Ms: quantile(all, 0.5),
        p99Ms: quantile(all, 0.99),
        cpuUsPerMsg: delivered ? (cpuMs * 1000) / delivered : NaN,
        rssMB: procRssMB(child.pid!),
        connectS,
        loadGenCpuS: out.reduce((n, r) => n + r.cpuMs, 0) / 1000,
      };
      results.push(result);
      if (JSON_OUT) process.stdout.write(JSON.stringify(result) + '\n');
      else
        say(
          `  ${result.case.padEnd(13)} ${server.padEnd(6)} ${result.msgsPerS.toFixed(0).padStart(7)} msgs/s  p50 ${result.p50Ms.toFixed(1)} ms  p99 ${result.p99Ms.toFixed(1)} ms  ${result.cpuUsPerMsg.toFixed(1)} µs CPU/msg  ${result.rssMB.toFixed(0)} MB  (delivered ${(result.deliveredShare * 100).toFixed(1)}%, load gen ${result.loadGenCpuS.toFixed(1)} s CPU)`,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    for (const w of workers) w.kill();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  return results;
}

async function main(): Promise<void> {
  say(`bench:signaling — ${SIZES.join(', ')} connections, ${SECONDS} s per shape, ${WORKERS} load-generator processes`);
  const all: CaseResult[] = [];
  for (const connections of SIZES)
    for (const server of PROFILE_DIR ? (['ours'] as const) : (['peerjs', 'ours'] as const))
      all.push(...(await runServer(server, connections)));
  if (!JSON_OUT) {
    say('\ncase           ours/PeerJS: msgs/s   p99     CPU/msg   connect');
    for (const ours of all.filter((r) => r.server === 'ours')) {
      const base = all.find((r) => r.server === 'peerjs' && r.case === ours.case);
      if (!base) continue;
      say(
        `${ours.case.padEnd(15)}${(ours.msgsPerS / base.msgsPerS).toFixed(2).padStart(18)}× ${(ours.p99Ms / base.p99Ms).toFixed(2).padStart(6)}× ${(ours.cpuUsPerMsg / base.cpuUsPerMsg).toFixed(2).padStart(8)}× ${(ours.connectS / base.connectS).toFixed(2).padStart(8)}×`,
      );
    }
  }
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/signaling.json',
    JSON.stringify({ at: new Date().toISOString(), seconds: SECONDS, cases: all }, null, 2),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
