/**
 * SharedState on Redis (SPEC SCALE*): the op log is a Redis Stream every
 * instance reads in order; relayed frames go over pub/sub to the channel of the
 * instance that holds the target; the receipt log is a second stream whose
 * appends are compare-and-set (a Lua script), and each append also puts a
 * `credit` op in the op log so every replica indexes it in the same order.
 *
 * Everything read back from Redis is parsed like wire input: a bad entry is
 * logged and skipped, never applied.
 */
import * as v from 'valibot';
import { randomId } from '@shared/bytes';
import { messageOf } from '@shared/errors';
import { NETWORK_ID_PATTERN, ReceiptError, receiptUnitKey, type LogEntry, type ReceiptLogStorage } from '@shared/trust';
import * as C from './constants';
import { LogConflictError } from './errors';
import type { Logger } from './log';
import { LogEntrySchema } from './receipt-file';
import { RedisQuotas } from './redis-quotas';
import { createRedisClient, type RedisClient } from './redis-client';
import { OpLogCompaction } from './redis-compaction';
import { LIVENESS_LUA, moveOldLayout, networkKey, prefixProblem } from './redis-keys';
import {
  RelayedFrameSchema,
  SharedOpSchema,
  SharedStateUnavailable,
  type RelayedFrame,
  type SharedOp,
  type SharedOpInput,
  type SharedState,
  type SharedStateHandlers,
  type SharedStateHealth,
  type IpQuotaLimits,
  type SharedQuotas,
} from './shared-state';

export interface RedisStateOptions {
  /** redis://host:port[/db]; a password here is used, but config.ts only takes one from the environment. */
  url: string;
  password?: string;
  /** `url` is a node of a Redis Cluster (SPEC SCALE8). */
  cluster?: boolean;
  /** Key prefix (default DEFAULT_REDIS_PREFIX): instances with the same prefix form one network. */
  prefix?: string;
  log: Logger;
  now: () => number;
  /** Ops applied between snapshots of the replica (default SNAPSHOT_EVERY_OPS; SPEC SCALE7). */
  snapshotEveryOps?: number;
}

/**
 * Appends entry ARGV[1] (seq ARGV[2]) only if the log holds exactly seq entries
 * and neither key of the receipt is logged, then puts the credit op ARGV[5] in
 * the op log: atomic, so two instances can never fork the chain.
 */
const APPEND_SCRIPT = `
local len = redis.call('XLEN', KEYS[1])
if len ~= tonumber(ARGV[2]) then return 'stale' end
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 or redis.call('SISMEMBER', KEYS[2], ARGV[4]) == 1 then return 'replay' end
redis.call('XADD', KEYS[1], '0-' .. (len + 1), 'e', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('XADD', KEYS[3], '*', 'op', ARGV[5])
return 'ok'
`;

/**
 * Renews instance ARGV[1]'s liveness for ARGV[2] ms and records ARGV[3], the op
 * it has read up to, which compaction keeps (SPEC SCALE5, SCALE7); forgets
 * instances whose liveness lapsed. KEYS: instances, positions. Returns the live
 * instances.
 */
const RENEW_SCRIPT = `${LIVENESS_LUA}
local now = now_ms()
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

type StreamReply = Array<[string, Array<[string, string[]]>]> | null;

export class RedisSharedState implements SharedState {
  readonly instance = randomId(9);
  private readonly prefix: string;
  /** Commands; a second connection blocks on the op log, a third subscribes. */
  private readonly cmd: RedisClient;
  private readonly reader: RedisClient;
  private readonly sub: RedisClient;
  private handlers: SharedStateHandlers | null = null;
  private lastId = '0-0';
  private applied = 0;
  private closed = false;
  /** Own ops published and not yet applied here, by nonce. */
  private readonly waiting = new Map<string, () => void>();
  private liveness: ReturnType<typeof setInterval> | null = null;
  private reading: Promise<void> = Promise.resolve();
  private renewFailed = false;
  /** Snapshots of the replica and trimming of the op stream (SPEC SCALE7). */
  private readonly compaction: OpLogCompaction;

  constructor(private readonly options: RedisStateOptions) {
    this.prefix = options.prefix ?? C.DEFAULT_REDIS_PREFIX;
    const problem = prefixProblem(this.prefix);
    if (problem) throw new Error(problem);
    const connect = (name: string) => {
      const redis = createRedisClient({
        url: options.url,
        ...(options.password ? { password: options.password } : {}),
        ...(options.cluster ? { cluster: true } : {}),
        connectionName: `signaling-${this.instance}-${name}`,
      });
      redis.on('error', (error: unknown) => options.log.debug('redis-error', { name, error: messageOf(error) }));
      redis.on('ready', () => options.log.info('redis-ready', { name, instance: this.instance }));
      redis.on('close', () => {
        if (!this.closed) options.log.warn('redis-lost', { name, instance: this.instance });
      });
      return redis;
    };
    this.cmd = connect('cmd');
    this.reader = connect('reader');
    this.sub = connect('sub');
    this.compaction = new OpLogCompaction(
      {
        cmd: this.cmd,
        reader: this.reader,
        instance: this.instance,
        log: options.log,
        key: (name) => this.key(name),
        lastId: () => this.lastId,
        handlers: () => this.handlers,
      },
      options.snapshotEveryOps,
    );
  }

  private key(name: string): string {
    return networkKey(this.prefix, name);
  }

  private channel(instance: string): string {
    return this.key(`relay:${instance}`);
  }

  health(): SharedStateHealth {
    const up =
      !this.closed &&
      !this.renewFailed &&
      !this.compaction.missedOps &&
      this.cmd.status === 'ready' &&
      this.reader.status === 'ready' &&
      this.sub.status === 'ready';
    return { kind: 'redis', up, applied: this.applied };
  }

  async start(handlers: SharedStateHandlers): Promise<void> {
    this.handlers = handlers;
    await this.connected();
    await this.renew();
    this.sub.on('message', (_channel: string, text: string) => this.onRelayed(text));
    await this.sub.subscribe(this.channel(this.instance));
    // Start from the last snapshot, if the log was ever compacted; replay what came after it, then follow.
    this.lastId = (await this.compaction.load()) ?? this.lastId;
    while (await this.readOnce(0)) {}
    this.liveness = setInterval(() => void this.watch(), C.LIVENESS_RENEW_MS);
    this.liveness.unref?.();
    this.reading = this.follow();
  }

  async publish(op: SharedOpInput): Promise<void> {
    if (!this.health().up) throw new SharedStateUnavailable('shared state (Redis) is unreachable');
    const stamped = { ...op, instance: this.instance, at: this.options.now(), nonce: randomId(16) };
    const applied = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(stamped.nonce);
        reject(new SharedStateUnavailable('shared state (Redis) did not confirm a change in time'));
      }, C.SHARED_APPLY_TIMEOUT_MS);
      timer.unref?.();
      this.waiting.set(stamped.nonce, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    try {
      await this.cmd.xadd(this.key('ops'), '*', 'op', JSON.stringify(stamped));
    } catch (error) {
      this.waiting.get(stamped.nonce)?.();
      throw new SharedStateUnavailable(`shared state (Redis) refused a change: ${messageOf(error)}`);
    }
    // Read-your-writes: the caller goes on once this replica has applied it.
    await applied;
  }

  relay(instance: string, frame: RelayedFrame): void {
    if (!this.health().up) throw new SharedStateUnavailable('shared state (Redis) is unreachable');
    this.cmd.publish(this.channel(instance), JSON.stringify(frame)).catch((error: unknown) => {
      this.options.log.warn('relay-failed', { to: instance, error: messageOf(error) });
    });
  }

  receiptStorage(): ReceiptLogStorage {
    return new RedisReceiptLogStorage(
      this.cmd,
      this.key('receipts'),
      this.key('receipt-keys'),
      (entry) =>
        JSON.stringify({
          op: 'credit',
          entry,
          instance: this.instance,
          at: this.options.now(),
          nonce: randomId(16),
        } satisfies SharedOp),
      this.key('ops'),
    );
  }

  quotas(limits: IpQuotaLimits): SharedQuotas {
    return new RedisQuotas({
      redis: this.cmd,
      prefix: this.prefix,
      instance: this.instance,
      limits,
      up: () => this.health().up,
      log: this.options.log,
    });
  }

  async settleNetwork(proposed: string): Promise<string> {
    await this.connected();
    await this.cmd.set(this.key('network'), proposed, 'NX');
    const network = await this.cmd.get(this.key('network'));
    if (network === null || !NETWORK_ID_PATTERN.test(network))
      throw new Error(`Redis key ${this.key('network')} does not hold a network id`);
    return network;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.liveness) clearInterval(this.liveness);
    // Tell the others at once rather than after its liveness lapses.
    if (this.health().up)
      await this.cmd
        .xadd(
          this.key('ops'),
          '*',
          'op',
          JSON.stringify({
            op: 'instance-gone',
            gone: this.instance,
            instance: this.instance,
            at: this.options.now(),
            nonce: randomId(16),
          } satisfies SharedOp),
        )
        .then(() =>
          this.cmd.multi().zrem(this.key('instances'), this.instance).hdel(this.key('positions'), this.instance).exec(),
        )
        .catch(() => undefined);
    this.closed = true;
    this.reader.disconnect();
    // A read in flight when Redis died may never settle; the loop sees `closed` within one block either way.
    await Promise.race([this.reading, new Promise((r) => setTimeout(r, C.SHARED_LOG_BLOCK_MS).unref())]);
    this.sub.disconnect();
    this.cmd.disconnect();
  }

  // ------------------------------------------------------------------ internals

  private connecting: Promise<unknown> | null = null;

  /** Opens the three connections once (later drops reconnect by themselves) and moves a network kept under the old key layout. */
  private connected(): Promise<unknown> {
    this.connecting ??= Promise.all([this.cmd.connect(), this.reader.connect(), this.sub.connect()]).then(() =>
      moveOldLayout(this.cmd, this.prefix, this.options.log),
    );
    return this.connecting;
  }

  /** Reads one batch of the op log after lastId and applies it; returns whether it read anything. */
  private async readOnce(blockMs: number): Promise<boolean> {
    if (this.compaction.checkTrim) await this.compaction.checkNothingMissed(this.lastId);
    if (this.compaction.missedOps) {
      await new Promise((r) => setTimeout(r, blockMs));
      return false;
    }
    const args: Array<string | number> = ['COUNT', C.SHARED_LOG_BATCH];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    const reply = (await this.reader.call('XREAD', ...args, 'STREAMS', this.key('ops'), this.lastId)) as StreamReply;
    if (!reply) return false;
    for (const [, entries] of reply)
      for (const [id, fields] of entries) {
        this.lastId = id;
        this.applyEntry(fields);
      }
    this.compaction.applied(reply.reduce((n, [, entries]) => n + entries.length, 0));
    return true;
  }

  private async follow(): Promise<void> {
    while (!this.closed) {
      try {
        await this.readOnce(C.SHARED_LOG_BLOCK_MS);
      } catch (error) {
        if (this.closed) return;
        this.compaction.checkTrim = true;
        this.options.log.debug('shared-log-read-failed', { error: messageOf(error) });
        await new Promise((r) => setTimeout(r, C.SHARED_LOG_BLOCK_MS / 4));
      }
    }
  }

  private applyEntry(fields: string[]): void {
    const text = fields[0] === 'op' ? fields[1] : undefined;
    let parsed: v.SafeParseResult<typeof SharedOpSchema> | null = null;
    try {
      parsed = v.safeParse(SharedOpSchema, JSON.parse(text ?? 'null') as unknown);
    } catch {
      // Not JSON: reported below like any other bad entry.
    }
    if (!parsed?.success) {
      this.options.log.error('shared-log-bad-entry', { id: this.lastId });
      return;
    }
    const op = parsed.output;
    this.applied++;
    this.handlers?.apply(op);
    if (op.instance === this.instance) {
      this.waiting.get(op.nonce)?.();
      this.waiting.delete(op.nonce);
    }
  }

  private onRelayed(text: string): void {
    let parsed: v.SafeParseResult<typeof RelayedFrameSchema> | null = null;
    try {
      parsed = v.safeParse(RelayedFrameSchema, JSON.parse(text) as unknown);
    } catch {
      // Reported below.
    }
    if (!parsed?.success) return this.options.log.warn('relayed-bad-frame', {});
    this.handlers?.deliver(parsed.output as RelayedFrame);
  }

  /** Renews this instance's liveness and the op it has read up to (SPEC SCALE5, SCALE7); resolves to the live instances. */
  private async renew(): Promise<Set<string>> {
    const live = await this.cmd.eval(
      RENEW_SCRIPT,
      2,
      this.key('instances'),
      this.key('positions'),
      this.instance,
      C.LIVENESS_TTL_MS,
      this.lastId,
    );
    if (!Array.isArray(live)) throw new Error(`unexpected reply from the liveness script: ${String(live)}`);
    return new Set(live.map(String));
  }

  /** Renews this instance's liveness and declares gone the instances whose liveness expired (SPEC SCALE5). */
  private async watch(): Promise<void> {
    try {
      const live = await this.renew();
      this.renewFailed = false;
      await this.compaction.trim();
      for (const other of this.handlers?.instancesHolding() ?? []) {
        if (live.has(other)) continue;
        this.options.log.info('instance-gone', { gone: other });
        await this.publish({ op: 'instance-gone', gone: other });
      }
    } catch (error) {
      this.renewFailed = true;
      this.compaction.checkTrim = true;
      this.options.log.debug('liveness-failed', { error: messageOf(error) });
    }
  }
}

/** The receipt log as a Redis Stream with ids 0-1, 0-2, …: entry seq is stream id 0-(seq+1). */
export class RedisReceiptLogStorage implements ReceiptLogStorage {
  constructor(
    private readonly redis: RedisClient,
    private readonly streamKey: string,
    private readonly keysKey: string,
    private readonly creditOp: (entry: LogEntry) => string,
    private readonly opsKey: string,
  ) {}

  async append(entry: LogEntry): Promise<void> {
    const result = await this.redis.eval(
      APPEND_SCRIPT,
      3,
      this.streamKey,
      this.keysKey,
      this.opsKey,
      JSON.stringify(entry),
      entry.seq,
      `id ${entry.receipt.id}`,
      `unit ${receiptUnitKey(entry.receipt)}`,
      this.creditOp(entry),
    );
    if (result === 'stale') throw new LogConflictError('another instance appended first');
    if (result === 'replay') throw new ReceiptError('replay', `receipt ${entry.receipt.id} already logged`);
    if (result !== 'ok') throw new Error(`unexpected reply from the append script: ${String(result)}`);
  }

  length(): Promise<number> {
    return this.redis.xlen(this.streamKey);
  }

  async last(): Promise<LogEntry | undefined> {
    const rows = await this.redis.xrevrange(this.streamKey, '+', '-', 'COUNT', 1);
    return rows.length ? this.parse(rows[0]!) : undefined;
  }

  async read(from: number, to: number): Promise<LogEntry[]> {
    if (to <= from) return [];
    const rows = await this.redis.xrange(this.streamKey, `0-${from + 1}`, `0-${to}`);
    return rows.map((row) => this.parse(row));
  }

  async hasReceipt(id: string, unitKey: string): Promise<boolean> {
    const [a, b] = await this.redis.smismember(this.keysKey, `id ${id}`, `unit ${unitKey}`);
    return a === 1 || b === 1;
  }

  private parse([id, fields]: [string, string[]]): LogEntry {
    const parsed = v.safeParse(LogEntrySchema, JSON.parse(fields[1] ?? 'null') as unknown);
    if (!parsed.success || `0-${parsed.output.seq + 1}` !== id)
      throw new Error(`receipt log entry ${id} in Redis does not parse: ${parsed.issues?.[0]?.message ?? 'wrong seq'}`);
    return parsed.output;
  }
}
