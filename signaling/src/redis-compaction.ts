/**
 * Compaction of the shared op stream (SPEC SCALE7): every so many ops one
 * instance writes a snapshot of its replica; the stream is trimmed below the
 * oldest of that snapshot and every live instance's read position; a new
 * instance loads the snapshot and reads only what follows. The receipt log is
 * never trimmed: the ledger's credit index is rebuilt from it.
 */
import * as v from 'valibot';
import { messageOf } from '@shared/errors';
import * as C from './constants';
import type { Logger } from './log';
import type { RedisClient } from './redis-client';
import { LIVENESS_LUA } from './redis-keys';
import { ReplicaSnapshotSchema } from './replica-snapshot';
import type { SharedStateHandlers } from './shared-state';

/** Lua helpers: stream ids `ms-seq` compared as numbers (exact: ms stays far below 2^53). */
const STREAM_IDS = `
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
`;

/** Keeps snapshot ARGV[2], taken after op ARGV[1], unless a newer one is kept. KEYS[1]: snapshot. Returns 1 if kept. */
const SNAPSHOT_SCRIPT = `${STREAM_IDS}
local current = redis.call('HGET', KEYS[1], 'id')
if current and not less(current, ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', ARGV[2])
return 1
`;

/**
 * Trims the op stream below the oldest of the kept snapshot's id and every live
 * instance's position (an instance still reading older ops keeps them; a dead
 * one's position is dropped), and records how far it trimmed.
 * KEYS: snapshot, ops, positions, trimmed-to, instances (liveness).
 * Returns the ops trimmed.
 */
const TRIM_SCRIPT = `${STREAM_IDS}${LIVENESS_LUA}
local bound = redis.call('HGET', KEYS[1], 'id')
if not bound then return 0 end
local now = now_ms()
local positions = redis.call('HGETALL', KEYS[3])
for i = 1, #positions, 2 do
  if live(KEYS[5], positions[i], now) then
    if less(positions[i + 1], bound) then bound = positions[i + 1] end
  else
    redis.call('HDEL', KEYS[3], positions[i])
  end
end
local trimmed = redis.call('GET', KEYS[4])
if not trimmed or less(trimmed, bound) then redis.call('SET', KEYS[4], bound) end
return redis.call('XTRIM', KEYS[2], 'MINID', bound)
`;

/** Whether stream id `a` is below `b`. */
function idBelow(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am < bm || (am === bm && as < bs);
}

/** What compaction needs of the shared state it runs in (redis-state.ts). */
export interface CompactionHost {
  readonly cmd: RedisClient;
  /** The connection that reads the op stream, so a check runs in order with the reads. */
  readonly reader: RedisClient;
  readonly instance: string;
  readonly log: Logger;
  key(name: string): string;
  /** The last op applied to the replica. */
  lastId(): string;
  handlers(): SharedStateHandlers | null;
}

export class OpLogCompaction {
  /** Ops applied since the last snapshot this instance took or loaded. */
  private sinceSnapshot = 0;
  private snapshotting = false;
  /** Set after Redis was out of reach: the next read first checks that no op it needs was trimmed meanwhile. */
  checkTrim = false;
  /** Ops this replica needed were trimmed away: it can no longer agree with the others; restart it. */
  missedOps = false;

  constructor(
    private readonly host: CompactionHost,
    private readonly everyOps = C.SNAPSHOT_EVERY_OPS,
  ) {}

  /** `n` more ops were applied: time for a snapshot? */
  applied(n: number): void {
    this.sinceSnapshot += n;
    if (this.sinceSnapshot >= this.everyOps) void this.snapshot();
  }

  /**
   * Writes a snapshot of this replica and trims the op stream behind it (SPEC
   * SCALE7). One instance per round: the others skip while it holds the lock.
   */
  private async snapshot(): Promise<void> {
    const handlers = this.host.handlers();
    if (!handlers?.snapshot || this.snapshotting) return;
    this.snapshotting = true;
    this.sinceSnapshot = 0;
    try {
      const lock = this.host.key('snapshot-lock');
      if ((await this.host.cmd.set(lock, this.host.instance, 'PX', C.SNAPSHOT_LOCK_MS, 'NX')) !== 'OK') return;
      // Both read in one turn of the event loop: the state is exactly the one after op `id`.
      const id = this.host.lastId();
      const state = JSON.stringify(handlers.snapshot());
      const kept = await this.host.cmd.eval(SNAPSHOT_SCRIPT, 1, this.host.key('snapshot'), id, state);
      this.host.log.info('shared-log-snapshot', { id, bytes: state.length, kept: kept === 1 });
      await this.trim();
      await this.host.cmd.del(lock);
    } catch (error) {
      this.host.log.warn('snapshot-failed', { error: messageOf(error) });
    } finally {
      this.snapshotting = false;
    }
  }

  /**
   * Trims the op stream behind the last snapshot, keeping what any live instance
   * has not read yet (SPEC SCALE7). Run after each snapshot and each liveness
   * renewal, so the stream shrinks once the others have read past the snapshot.
   */
  async trim(): Promise<void> {
    const trimmed = await this.host.cmd.eval(
      TRIM_SCRIPT,
      5,
      this.host.key('snapshot'),
      this.host.key('ops'),
      this.host.key('positions'),
      this.host.key('ops-trimmed-to'),
      this.host.key('instances'),
    );
    if (typeof trimmed === 'number' && trimmed > 0) this.host.log.debug('shared-log-trimmed', { ops: trimmed });
  }

  /** Loads the last snapshot into the replica, when the log was ever compacted; returns the op it was taken after. */
  async load(): Promise<string | null> {
    const [id, text] = await this.host.cmd.hmget(this.host.key('snapshot'), 'id', 'state');
    if (!id || !text) return null;
    const handlers = this.host.handlers();
    if (!handlers?.restore) throw new Error('the shared log was compacted, and this replica cannot load its snapshot');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // Reported below like any other bad snapshot.
    }
    const parsed = v.safeParse(ReplicaSnapshotSchema, json);
    if (!parsed.success)
      throw new Error(
        `the snapshot of the shared log in Redis (${this.host.key('snapshot')}) does not parse: ${parsed.issues[0].message}`,
      );
    await handlers.restore(parsed.output);
    this.host.log.info('snapshot-loaded', { id, bytes: text.length });
    return id;
  }

  /**
   * After an outage: were ops this replica had not read trimmed meanwhile (its
   * liveness lapsed, so its position stopped holding them)? Then it can never
   * agree with the others again: it says so in /healthz and refuses what needs
   * shared state until it is restarted.
   */
  async checkNothingMissed(lastId: string): Promise<void> {
    const trimmed = await this.host.reader.get(this.host.key('ops-trimmed-to'));
    this.checkTrim = false;
    if (trimmed === null || !idBelow(lastId, trimmed)) return;
    this.missedOps = true;
    this.host.log.error('shared-log-missed', {
      instance: this.host.instance,
      at: lastId,
      trimmedTo: trimmed,
      action: 'restart this instance: ops it had not applied were compacted away',
    });
  }
}
