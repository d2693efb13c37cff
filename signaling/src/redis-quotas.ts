/**
 * Per-IP quotas shared by every instance on one Redis (SPEC RATE8). Each check
 * is one Lua script, so two instances admitting the same IP at once cannot both
 * take the last slot.
 *
 * Concurrent connections are kept as one hash per IP: a field per instance
 * holding that instance's own count, written as an absolute value (never an
 * increment), so a lost write is repaired by the next one. A field whose
 * instance's liveness (SCALE5) has lapsed is dropped by the next check:
 * a crashed instance's connections stop counting once the others would drop
 * its peers. Open jobs per IP (RATE7) are kept the same way, one hash per IP of
 * every instance's count. Rates are token buckets kept in Redis and refilled by
 * Redis's clock, so instances with skewed clocks still share one budget.
 *
 * Every key a script touches is in its KEYS and under the network's hash tag
 * (redis-keys.ts), so the scripts run on a Redis Cluster too.
 */
import { messageOf } from '@shared/errors';
import type { Logger } from './log';
import type { RedisClient } from './redis-client';
import { CLOCK_LUA, LIVENESS_LUA, networkKey } from './redis-keys';
import { SharedStateUnavailable, type IpQuotaLimits, type SharedQuotas } from './shared-state';

/**
 * A token bucket in hash `key` (fields tokens, at). Returns 1 and takes n tokens
 * when there are n, else 0 and takes none. A refused take writes nothing: the
 * stored tokens and time still give the same refill. Needs CLOCK_LUA.
 */
const BUCKET = `
local function take(key, capacity, rate, n)
  local now = now_ms()
  local b = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(b[1]) or capacity
  local at = tonumber(b[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) / 1000 * rate)
  if tokens < n then return 0 end
  tokens = tokens - n
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  -- Once full again a bucket is the same as none: let Redis forget it.
  if rate > 0 then redis.call('PEXPIRE', key, math.ceil((capacity - tokens) / rate * 1000) + 1000) end
  return 1
end
`;

/**
 * The sum of the counts in hash `key` of instances other than `self` that are live in sorted set `instances`;
 * the fields of gone ones are dropped. Needs LIVENESS_LUA.
 */
const OTHERS = `
local function others(key, self, instances)
  local sum = 0
  local now = now_ms()
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local instance = fields[i]
    if instance ~= self then
      if live(instances, instance, now) then sum = sum + tonumber(fields[i + 1])
      else redis.call('HDEL', key, instance) end
    end
  end
  return sum
end
`;

/** KEYS[1]: a token bucket. ARGV: capacity, per second, n. */
const TAKE_SCRIPT = `${CLOCK_LUA}${BUCKET}
return take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
`;

/**
 * KEYS: the IP's per-instance counts, its connection-rate bucket, the instances' liveness.
 * ARGV: instance, held here (this one included), max per IP, burst, per second.
 */
const ADMIT_SCRIPT = `${LIVENESS_LUA}${BUCKET}${OTHERS}
if others(KEYS[1], ARGV[1], KEYS[3]) + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return 'concurrent' end
if take(KEYS[2], tonumber(ARGV[4]), tonumber(ARGV[5]), 1) == 0 then return 'rate' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'
`;

/**
 * KEYS: the IP's per-instance open-job counts, the instances' liveness. ARGV: instance, held here (the new job
 * included), max per IP.
 */
const ADMIT_JOB_SCRIPT = `${LIVENESS_LUA}${OTHERS}
if others(KEYS[1], ARGV[1], KEYS[2]) + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

export interface RedisQuotasOptions {
  redis: RedisClient;
  /** The network's key prefix (redis-keys.ts). */
  prefix: string;
  instance: string;
  limits: IpQuotaLimits;
  /** Whether Redis can be reached now; checked first so a refusal is quick. */
  up: () => boolean;
  log: Logger;
}

export class RedisQuotas implements SharedQuotas {
  /** IPs whose count could not be written: flush() writes their count as it is then. */
  private readonly unwritten = new Set<string>();
  private readonly unwrittenJobs = new Set<string>();

  constructor(private readonly options: RedisQuotasOptions) {}

  async admitConnection(ip: string, heldHere: number): Promise<'ok' | 'rate' | 'concurrent'> {
    const { limits, instance, prefix } = this.options;
    const reply = await this.call(() =>
      this.options.redis.eval(
        ADMIT_SCRIPT,
        3,
        this.key('ip-conns', ip),
        this.key('ip-conn-rate', ip),
        networkKey(prefix, 'instances'),
        instance,
        heldHere,
        limits.maxConnectionsPerIp,
        limits.connectionBurst,
        limits.connectionsPerSecond,
      ),
    );
    // An admission writes this instance's count for the IP, so an older failed write is repaired.
    if (reply === 'ok') this.unwritten.delete(ip);
    if (reply === 'ok' || reply === 'rate' || reply === 'concurrent') return reply;
    throw new Error(`unexpected reply from the admission script: ${String(reply)}`);
  }

  holding(ip: string, heldHere: number): void {
    this.write('ip-conns', this.unwritten, ip, heldHere);
  }

  async admitJob(ip: string, heldHere: number): Promise<boolean> {
    const { limits, instance, prefix } = this.options;
    const reply = await this.call(() =>
      this.options.redis.eval(
        ADMIT_JOB_SCRIPT,
        2,
        this.key('ip-jobs', ip),
        networkKey(prefix, 'instances'),
        instance,
        heldHere,
        limits.maxJobsPerIp,
      ),
    );
    if (reply === 1) this.unwrittenJobs.delete(ip);
    return reply === 1;
  }

  jobsHolding(ip: string, heldHere: number): void {
    this.write('ip-jobs', this.unwrittenJobs, ip, heldHere);
  }

  /** This instance's count for `ip` in hash `kind`, as an absolute value; a failed write waits for flush(). */
  private write(kind: string, unwritten: Set<string>, ip: string, heldHere: number): void {
    unwritten.delete(ip);
    if (!this.options.up()) {
      unwritten.add(ip);
      return;
    }
    const key = this.key(kind, ip);
    const { redis, instance } = this.options;
    const write = heldHere > 0 ? redis.hset(key, instance, heldHere) : redis.hdel(key, instance);
    write.catch((error: unknown) => {
      unwritten.add(ip);
      this.options.log.debug('quota-write-failed', { kind, error: messageOf(error) });
    });
  }

  async takeReceipts(ip: string, n: number): Promise<boolean> {
    const { limits } = this.options;
    const reply = await this.call(() =>
      this.options.redis.eval(
        TAKE_SCRIPT,
        1,
        this.key('ip-receipts', ip),
        limits.receiptIpBurst,
        limits.receiptsPerIpPerSecond,
        n,
      ),
    );
    return reply === 1;
  }

  flush(heldHere: (ip: string) => number, jobsHere: (ip: string) => number): void {
    if (!this.options.up()) return;
    for (const ip of [...this.unwritten]) this.holding(ip, heldHere(ip));
    for (const ip of [...this.unwrittenJobs]) this.jobsHolding(ip, jobsHere(ip));
  }

  private key(kind: string, ip: string): string {
    return networkKey(this.options.prefix, `${kind}:${ip}`);
  }

  private async call(run: () => Promise<unknown>): Promise<unknown> {
    if (!this.options.up()) throw new SharedStateUnavailable('shared state (Redis) is unreachable');
    try {
      return await run();
    } catch (error) {
      throw new SharedStateUnavailable(`shared state (Redis) could not check a quota: ${messageOf(error)}`);
    }
  }
}
