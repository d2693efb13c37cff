/**
 * The connections shared state opens to Redis: one server, or with
 * `--redis-cluster` a Redis Cluster reached through the node in the URL, whose
 * slots ioredis then learns and follows through failovers and resharding
 * (SPEC SCALE8). Both refuse at once while disconnected: a request is refused
 * as unavailable, never queued behind an outage.
 */
import { Cluster, Redis } from 'ioredis';

/** One server or a Cluster: the commands shared state sends are the same on both. */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** redis://host:port[/db] or rediss://; with `cluster`, any node of the Cluster (db 0 only). */
  url: string;
  password?: string;
  cluster?: boolean;
  /** Shown in CLIENT LIST, so an operator can tell the connections apart. */
  connectionName: string;
}

/** Reconnects after 100 ms, 200 ms, … up to every 2 s. */
const retryDelay = (times: number) => Math.min(100 * times, 2_000);

export function createRedisClient(options: RedisClientOptions): RedisClient {
  const perConnection = {
    maxRetriesPerRequest: 1,
    connectionName: options.connectionName,
    ...(options.password ? { password: options.password } : {}),
  };
  if (!options.cluster)
    return new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: retryDelay,
      ...perConnection,
    });
  const url = new URL(options.url);
  return new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: retryDelay,
    redisOptions: {
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...perConnection,
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  });
}
