/**
 * Where one network's state lives in Redis (SPEC SCALE8). Every key is
 * `{prefix}name`: the braces make the whole prefix the key's hash tag, so on a
 * Redis Cluster all of one network's keys sit in one slot and a Lua script may
 * touch any of them together. Each script still gets every key it touches in
 * KEYS, never a name built inside the script: a Cluster routes a script by its
 * KEYS (tests/integration/redis-cluster.test.ts checks both rules).
 *
 * Instance liveness (SCALE5) is one sorted set, `instances`: a member per
 * instance whose score is when its liveness lapses, by Redis's clock. One key
 * rather than one per instance, so a script that asks which instances are live
 * names it in KEYS instead of building `live:<instance>`.
 */
import { messageOf } from '@shared/errors';
import type { Logger } from './log';
import type { RedisClient } from './redis-client';

/** Key `name` of the network under `prefix`. */
export function networkKey(prefix: string, name: string): string {
  return `{${prefix}}${name}`;
}

/** Why `prefix` cannot be a network's key prefix, or null when it can: a brace would end the hash tag early. */
export function prefixProblem(prefix: string): string | null {
  return /[{}]/.test(prefix)
    ? `the Redis key prefix must not hold { or } (it becomes the keys' hash tag): ${prefix}`
    : null;
}

/** Lua: `now_ms()`, Redis's clock in ms, so instances with skewed clocks agree. */
export const CLOCK_LUA = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Lua: CLOCK_LUA and `live(instances, instance, now)`, whether `instance`
 * renewed its liveness in sorted set `instances` and it has not lapsed.
 */
export const LIVENESS_LUA = `${CLOCK_LUA}
local function live(instances, instance, now)
  local lapses = redis.call('ZSCORE', instances, instance)
  return lapses ~= false and tonumber(lapses) > now
end
`;

/**
 * What outlives every instance under the layout before hash tags (keys were
 * `prefix + name`): the network id, the receipt log and its replay index, the op
 * stream and its snapshot. Per-IP counts and buckets and liveness are not
 * moved: they are rebuilt as clients reconnect.
 */
const KEPT_ACROSS_LAYOUTS = ['network', 'receipts', 'receipt-keys', 'ops', 'snapshot', 'ops-trimmed-to'] as const;

/**
 * Renames each old key (KEYS odd) to its new name (the KEYS after it), once: only while the old network id is
 * there and the new one is not, so two instances starting together move everything exactly once.
 */
const MOVE_LAYOUT_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('RENAME', KEYS[i], KEYS[i + 1]) end
end
return 1
`;

/**
 * Moves a network kept under the layout before hash tags to its new key names,
 * when there is one. Refuses while an instance of the old layout is still
 * live: it would go on writing the old keys and fork the receipt log. The old
 * layout could not run on a Cluster (its scripts' keys were in different
 * slots), so this only has work to do on one Redis, where they may share a
 * script.
 */
export async function moveOldLayout(redis: RedisClient, prefix: string, log: Logger): Promise<void> {
  const old = (name: string) => prefix + name;
  if ((await redis.exists(old('network'))) === 0 || (await redis.exists(networkKey(prefix, 'network'))) === 1) return;
  for (const instance of await redis.hkeys(old('positions')))
    if (await redis.exists(old(`live:${instance}`)))
      throw new Error(
        `instance ${instance} of the previous signaling version is still running on this Redis (${old(`live:${instance}`)}): stop every instance, then start the new version`,
      );
  const keys = KEPT_ACROSS_LAYOUTS.flatMap((name) => [old(name), networkKey(prefix, name)]);
  const moved = await redis.eval(MOVE_LAYOUT_SCRIPT, keys.length, ...keys).catch((error: unknown) => {
    throw new Error(
      `could not move ${old('*')} to ${networkKey(prefix, '*')} (${messageOf(error)}); on a Redis Cluster, where the old layout could never run, delete ${old('network')}`,
    );
  });
  if (moved !== 1) return;
  // Dead instances' read positions: compaction keeps its own under the new name.
  await redis.del(old('positions'));
  log.info('redis-layout-moved', { from: old(''), to: networkKey(prefix, '') });
}
