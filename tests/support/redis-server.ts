/**
 * A throwaway redis-server for tests: Debian's `redis-server` on a free
 * loopback port, no persistence, killed by stop(). Missing redis-server is a
 * failure that says what to install, never a skip: CI installs it (.ci/run).
 *
 * With `cluster`, the server is a Redis Cluster of one node holding all 16384
 * slots: every command is served there (no redirects), but a command or script
 * whose keys are in different slots is refused as it would be on a real Cluster.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

export interface RedisProcess {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: a crash, not a clean stop) and waits until it has exited. */
  stop(): Promise<void>;
}

export function redisServerPath(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path)
    throw new Error(
      'redis-server is not installed: these tests need a real one. Install it with `sudo apt-get install -y redis-server` (Debian package redis-server); .ci/run does this in CI.',
    );
  return path;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.write('PING\r\n');
    });
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
  });
}

/** A one-node Cluster's slots, then waits until it says it serves them (about a second). */
async function takeAllSlots(port: number): Promise<void> {
  const redis = new Redis(port, '127.0.0.1');
  try {
    await redis.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let attempt = 0; !String(await redis.call('CLUSTER', 'INFO')).includes('cluster_state:ok'); attempt++) {
      if (attempt > 200) throw new Error(`the one-node Redis Cluster on port ${port} never reached cluster_state:ok`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    redis.disconnect();
  }
}

/** Starts redis-server on `port` (a free one when not given) and resolves once it answers PING (and, a Cluster, serves every slot). */
export async function startRedis(port?: number, options: { cluster?: boolean } = {}): Promise<RedisProcess> {
  const binary = redisServerPath();
  const chosen = port ?? (await freePort());
  // A Cluster node keeps its nodes.conf on disk, even with persistence off.
  const dir = options.cluster ? mkdtempSync(join(tmpdir(), 'redis-cluster-')) : null;
  const clusterArgs = dir
    ? [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, 'nodes.conf'),
        '--dir',
        dir,
        '--cluster-announce-ip',
        '127.0.0.1',
      ]
    : [];
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...clusterArgs],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited early: ${stderr}`);
    if (await answers(chosen)) break;
    if (attempt > 100) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on port ${chosen}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  if (options.cluster)
    await takeAllSlots(chosen).catch(async (error: unknown) => {
      await stop();
      throw error;
    });
  return { port: chosen, url: `redis://127.0.0.1:${chosen}`, stop };
}

/**
 * One redis-server for a test file and a plain client on it: started before the file's tests, stopped
 * after them. `ready` gets both once the server is up.
 */
export function redisForFile(ready: (redis: RedisProcess, raw: Redis) => void): void {
  let redis: RedisProcess | undefined;
  let raw: Redis | undefined;
  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
    ready(redis, raw);
  });
  afterAll(async () => {
    raw?.disconnect();
    await redis?.stop();
  });
}
