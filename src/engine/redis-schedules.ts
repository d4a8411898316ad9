import type { RedisClient } from "./redis-connections.ts";
import { luaScript, runScript, type LuaScript } from "./redis-scripts.ts";
import type { ClaimedRun, ScheduleRecord, ScheduleStatus, ScheduleStore, ScheduledPublish } from "./schedule-types.ts";
import { redisKeys } from "./redis-keys.ts";

/**
 * Schedules in Redis, shared by every instance on the same prefix (see schedule-types.ts for the
 * guarantees).
 *
 * Keys, per app (the `{app}` hash tag keeps one app's schedule keys in one Redis Cluster slot, so
 * every script below touches a single slot):
 * - `herald:{app}:schedules`        sorted set id → due time of its next run (ms). Exactly the
 *                                    active schedules: its size is the app's active count.
 * - `herald:{app}:schedule:<id>`    hash: `message` (the publish input as JSON, never decoded by
 *                                    Lua), `publishAt`, `every` (ms), `expiresAt`, `status`,
 *                                    `runs`, `nextRunAt`, `firstPublishedAt`, `lastPublishedAt`,
 *                                    `errorMessage`. No TTL while active; `retainSeconds` once
 *                                    finished or cancelled.
 *
 * Claim: `ZRANGEBYSCORE` lists candidates, then one Lua script per candidate re-checks its score
 * and advances it (or removes it after the last run) in one atomic step, so concurrent claimers
 * on any number of instances each get a disjoint set of runs. Cancel is one script that removes
 * the id from the sorted set: whichever of cancel and claim runs first wins.
 * Times are the claiming instance's clock: keep instances' clocks in sync (NTP).
 */
export function createRedisSchedules(client: RedisClient, prefix: string): ScheduleStore {
  const { schedules: dueKey, schedule: recordKey } = redisKeys(prefix);
  const keysOf = (appId: string, id: string) => [dueKey(appId), recordKey(appId, id)];

  const add = bindScript(client, ADD);
  const claim = bindScript(client, CLAIM);
  const cancel = bindScript(client, CANCEL);
  const recordRun = bindScript(client, RECORD_RUN);

  return {
    async add(appId, schedule, maxActive) {
      const fields: (string | number)[] = ["message", JSON.stringify(schedule.message), "publishAt", schedule.publishAt];
      fields.push("status", "SCHEDULED", "runs", 0, "nextRunAt", schedule.publishAt);
      if (schedule.repeatEveryMs !== undefined) fields.push("every", schedule.repeatEveryMs);
      if (schedule.repeatExpiresAt !== undefined) fields.push("expiresAt", schedule.repeatExpiresAt);
      const result = await add(keysOf(appId, schedule.id), [schedule.id, maxActive, schedule.publishAt, ...fields]);
      return result as "added" | "exists" | "limit";
    },

    async get(appId, id) {
      return recordOf(id, await client.hgetall(recordKey(appId, id)));
    },

    async cancel(appId, id, retainSeconds) {
      const [cancelled, flat] = (await cancel(keysOf(appId, id), [id, retainSeconds])) as [number, string[]];
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      return { cancelled: cancelled === 1, record: recordOf(id, fields) };
    },

    async claimDue(appId, now, limit, retainSeconds) {
      const ids = await client.zrangebyscore(dueKey(appId), "-inf", now, "LIMIT", 0, limit);
      // Auto-pipelining sends these together; each script is atomic on its own schedule.
      const claimed = await Promise.all(
        ids.map(async (id): Promise<ClaimedRun | undefined> => {
          const result = (await claim(keysOf(appId, id), [id, now, retainSeconds])) as [string, string, number] | null;
          if (!result) return undefined; // another instance claimed it first, or it was cancelled
          const [message, dueAt, last] = result;
          return { appId, id, message: JSON.parse(message) as ScheduledPublish, dueAt: Number(dueAt), last: last === 1 };
        }),
      );
      return claimed.filter((run): run is ClaimedRun => run !== undefined);
    },

    async recordRun(appId, id, outcome, retainSeconds) {
      const args = outcome.ok ? ["1", outcome.publishedAt, "0"] : ["0", outcome.errorMessage, outcome.stop ? "1" : "0"];
      await recordRun(keysOf(appId, id), [id, ...args, retainSeconds]);
    },

    async activeCount(appId) {
      return client.zcard(dueKey(appId));
    },
  };
}

function recordOf(id: string, fields: Record<string, string>): ScheduleRecord | undefined {
  if (fields.message === undefined) return undefined;
  const number = (name: string) => (fields[name] === undefined ? undefined : Number(fields[name]));
  return {
    id,
    message: JSON.parse(fields.message) as ScheduledPublish,
    publishAt: Number(fields.publishAt),
    repeatEveryMs: number("every"),
    repeatExpiresAt: number("expiresAt"),
    status: fields.status as ScheduleStatus,
    runs: Number(fields.runs ?? 0),
    nextRunAt: number("nextRunAt"),
    firstPublishedAt: number("firstPublishedAt"),
    lastPublishedAt: number("lastPublishedAt"),
    errorMessage: fields.errorMessage,
  };
}

type Script = (keys: string[], args: (string | number)[]) => Promise<unknown>;

/** A Lua script over two keys (the app's due set and one record), run with EVALSHA. */
function bindScript(client: RedisClient, script: LuaScript): Script {
  return (keys, args) => runScript(client, script, [...keys, ...args]);
}

// Lua turns large numbers into strings like "1.7e+12": every time written back is formatted
// with %.0f to keep all its digits.

/** KEYS: due set, record. ARGV: id, maxActive, publishAt, field, value, … */
const ADD = luaScript(2, `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 'limit' end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 'added'
`);

/**
 * KEYS: due set, record. ARGV: id, now, retainSeconds. Returns nil when the run is not due (or
 * no longer there), else { message, dueAt, last }. Missed runs collapse into this one; the next
 * is the first of the cadence later than now (same rule as nextRunAfter in memory-schedules.ts).
 */
const CLAIM = luaScript(2, `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return false end
local due = tonumber(score)
local now = tonumber(ARGV[2])
if due > now then return false end
local f = redis.call('HMGET', KEYS[2], 'message', 'every', 'expiresAt')
if not f[1] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return false
end
local every = f[2] and tonumber(f[2]) or 0
local nextAt = nil
if every > 0 then
  nextAt = due + (math.floor(math.max(0, now - due) / every) + 1) * every
  if f[3] and nextAt > tonumber(f[3]) then nextAt = nil end
end
if nextAt then
  local n = string.format('%.0f', nextAt)
  redis.call('ZADD', KEYS[1], n, ARGV[1])
  redis.call('HSET', KEYS[2], 'nextRunAt', n)
  return { f[1], score, 0 }
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], 'nextRunAt')
-- The claimer may die before recording the run: the record expires regardless.
redis.call('EXPIRE', KEYS[2], ARGV[3])
return { f[1], score, 1 }
`);

/** KEYS: due set, record. ARGV: id, retainSeconds. Returns { cancelled (0|1), HGETALL record }. */
const CANCEL = luaScript(2, `
local cancelled = 0
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], 'status', 'CANCELLED')
  redis.call('HDEL', KEYS[2], 'nextRunAt')
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  cancelled = 1
end
return { cancelled, redis.call('HGETALL', KEYS[2]) }
`);

/**
 * KEYS: due set, record. ARGV: id, ok ('1'|'0'), publishedAt or errorMessage, stop ('1'|'0'),
 * retainSeconds. A CANCELLED record keeps its status; a SCHEDULED one whose runs are over turns
 * PUBLISHED or FAILED.
 */
const RECORD_RUN = luaScript(2, `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local status = redis.call('HGET', KEYS[2], 'status')
local active = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[2], 'runs', 1)
  redis.call('HSETNX', KEYS[2], 'firstPublishedAt', ARGV[3])
  redis.call('HSET', KEYS[2], 'lastPublishedAt', ARGV[3])
  if status == 'SCHEDULED' and not active then
    redis.call('HSET', KEYS[2], 'status', 'PUBLISHED')
    redis.call('EXPIRE', KEYS[2], ARGV[5])
  end
  return 1
end
redis.call('HSET', KEYS[2], 'errorMessage', ARGV[3])
if status == 'SCHEDULED' and (ARGV[4] == '1' or not active) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[2], 'status', 'FAILED')
  redis.call('HDEL', KEYS[2], 'nextRunAt')
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
return 1
`);
