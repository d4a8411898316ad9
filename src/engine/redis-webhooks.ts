import { randomUUID } from "node:crypto";
import type { RedisClient } from "./redis-connections.ts";
import { luaScript, runScript, type LuaScript } from "./redis-scripts.ts";
import type { ClaimedDelivery, Delivery, DeliveryResult, NewDelivery, WatchRecord, WebhookStore } from "./webhook-types.ts";

/**
 * Webhook deliveries and watch channels in Redis, shared by every instance on the same prefix
 * (guarantees in webhook-types.ts).
 *
 * Keys, per app (the `{app}` hash tag keeps them in one Redis Cluster slot, so every script
 * touches one slot):
 * - `herald:{app}:wh:due`              sorted set target → when its oldest notification may be
 *                                       claimed (its retry time, or the end of the current lease)
 * - `herald:{app}:wh:q:<target>`        list of pending notifications, `<number>|<json>`, oldest first
 * - `herald:{app}:wh:t:<target>`        hash `seq` (last number), `lease`, and the head's
 *                                       `attempts`, `lastStatus`, `lastError`
 * - `herald:{app}:wh:r:<target>`        list of finished results (JSON), newest first, trimmed
 * - `herald:{app}:watches`              sorted set watch id → expiration (ms)
 * - `herald:{app}:watch-records`        hash watch id → watch JSON
 * - `herald:{app}:watched:<channel>`    hash watch id → watch JSON, read on every publish
 * - `herald:{app}:wh:flag:<name>`       a lifecycle flag (channel reported occupied, member reported present)
 *
 * Claim: `ZRANGEBYSCORE` lists candidates, then one script per candidate re-checks its score and
 * moves it to the lease's end, so concurrent claimers get disjoint targets; a dead claimer's
 * target becomes due again when the lease ends (at least once).
 */
export function createRedisWebhooks(client: RedisClient, prefix: string): WebhookStore {
  const app = (appId: string) => `${prefix}{${appId}}`;
  const due = (appId: string) => `${app(appId)}:wh:due`;
  const targetKeys = (appId: string, target: string) => [
    due(appId),
    `${app(appId)}:wh:q:${target}`,
    `${app(appId)}:wh:t:${target}`,
    `${app(appId)}:wh:r:${target}`,
  ];
  const watchKeys = (appId: string, channel: string) => [`${app(appId)}:watches`, `${app(appId)}:watch-records`, `${app(appId)}:watched:${channel}`];
  const run = (script: LuaScript, keys: string[], args: (string | number)[]) => runScript(client, script, [...keys, ...args], keys.length);

  return {
    async enqueue(appId, target, deliveries, { now, dropAt }) {
      const json = deliveries.map((d: NewDelivery) => JSON.stringify(d));
      const numbers = (await run(ENQUEUE, targetKeys(appId, target), [target, now, dropAt ?? 0, ...json])) as number[];
      return numbers.map(Number);
    },

    async claimDue(appId, now, limit, leaseMs) {
      const targets = await client.zrangebyscore(due(appId), "-inf", now, "LIMIT", 0, limit);
      const claimed = await Promise.all(
        targets.map(async (target): Promise<ClaimedDelivery | undefined> => {
          const lease = randomUUID();
          const result = (await run(CLAIM, targetKeys(appId, target), [target, now, leaseMs, lease])) as [string, string] | null;
          if (!result) return undefined; // another instance claimed it first, or it has nothing pending
          const [head, attempts] = result;
          const bar = head.indexOf("|");
          const delivery: Delivery = { ...(JSON.parse(head.slice(bar + 1)) as NewDelivery), number: Number(head.slice(0, bar)), attempts: Number(attempts) };
          return { appId, target, lease, delivery };
        }),
      );
      return claimed.filter((c): c is ClaimedDelivery => c !== undefined);
    },

    async complete(claim, outcome, { now, keepResults }) {
      const keys = targetKeys(claim.appId, claim.target);
      if (outcome.kind === "retry") {
        await run(RETRY, keys, [claim.target, claim.lease, outcome.status ?? "", outcome.error, outcome.retryAt]);
        return;
      }
      const result: DeliveryResult = {
        number: claim.delivery.number,
        state: outcome.kind === "delivered" ? "DELIVERED" : "FAILED",
        status: outcome.status,
        attempts: claim.delivery.attempts + 1,
        lastError: outcome.kind === "failed" ? outcome.error : undefined,
      };
      await run(FINISH, keys, [claim.target, claim.lease, JSON.stringify(result), now, keepResults]);
    },

    async deliveries(appId, target, limit) {
      const [, queue, meta, results] = targetKeys(appId, target);
      const [pendingRaw, fields, finishedRaw] = await Promise.all([
        client.lrange(queue!, 0, limit - 1),
        client.hmget(meta!, "attempts", "lastStatus", "lastError"),
        client.lrange(results!, 0, limit - 1),
      ]);
      const [attempts, lastStatus, lastError] = fields;
      const pending = pendingRaw.map((entry, i): DeliveryResult => {
        const number = Number(entry.slice(0, entry.indexOf("|")));
        const tried = i === 0 ? Number(attempts ?? 0) : 0;
        return {
          number,
          state: tried > 0 ? "RETRYING" : "PENDING",
          attempts: tried,
          status: tried > 0 && lastStatus ? Number(lastStatus) : undefined,
          lastError: tried > 0 ? (lastError ?? undefined) : undefined,
        };
      });
      return { pending, finished: finishedRaw.map((r) => JSON.parse(r) as DeliveryResult) };
    },

    async drop(appId, target) {
      const [dueKey, ...rest] = targetKeys(appId, target);
      await client.multi().zrem(dueKey!, target).del(...rest).exec();
    },

    async addWatch(appId, watch, max, now) {
      const result = (await run(ADD_WATCH, watchKeys(appId, watch.channel), [watch.id, JSON.stringify(watch), watch.expiration, now, max])) as string;
      return result as "added" | "exists" | "limit";
    },

    async getWatch(appId, id, now) {
      const json = await client.hget(`${app(appId)}:watch-records`, id);
      const watch = json ? (JSON.parse(json) as WatchRecord) : undefined;
      return watch && watch.expiration > now ? watch : undefined;
    },

    async watchesOf(appId, channel, now) {
      const all = await client.hvals(watchKeys(appId, channel)[2]!);
      return all.map((json) => JSON.parse(json) as WatchRecord).filter((w) => w.expiration > now);
    },

    async watchedChannels(appId, now) {
      const all = await client.hvals(`${app(appId)}:watch-records`);
      const live = all.map((json) => JSON.parse(json) as WatchRecord).filter((w) => w.expiration > now);
      return [...new Set(live.map((w) => w.channel))];
    },

    async removeWatch(appId, id) {
      const json = (await run(REMOVE_WATCH, [`${app(appId)}:watches`, `${app(appId)}:watch-records`], [id, `${app(appId)}:watched:`])) as string | null;
      return typeof json === "string";
    },

    async takeExpiredWatches(appId, now, limit) {
      const ids = await client.zrangebyscore(`${app(appId)}:watches`, "-inf", now, "LIMIT", 0, limit);
      const taken = await Promise.all(
        ids.map(
          (id) =>
            run(REMOVE_WATCH, [`${app(appId)}:watches`, `${app(appId)}:watch-records`], [id, `${app(appId)}:watched:`]) as Promise<string | null>,
        ),
      );
      return taken.filter((json): json is string => typeof json === "string").map((json) => JSON.parse(json) as WatchRecord);
    },

    async setFlag(appId, name) {
      return (await client.set(`${app(appId)}:wh:flag:${name}`, "1", "NX")) === "OK";
    },

    async clearFlag(appId, name) {
      return (await client.del(`${app(appId)}:wh:flag:${name}`)) === 1;
    },

    async exchangeValue(appId, name, value) {
      const key = `${app(appId)}:wh:value:${name}`;
      return value === null ? client.getdel(key) : client.set(key, value, "EX", VALUE_TTL_SECONDS, "GET");
    },
  };
}

/** How long a value of `exchangeValue` outlives its last write. */
const VALUE_TTL_SECONDS = 24 * 3600;

// Lua turns large numbers into strings like "1.7e+12": every time written back is formatted
// with %.0f to keep all its digits.

/** KEYS: due, queue, meta, results. ARGV: target, now, dropAt (0: never), delivery JSON… Returns the numbers. */
const ENQUEUE = luaScript(
  4,
  `
local numbers = {}
for i = 4, #ARGV do
  local n = redis.call('HINCRBY', KEYS[3], 'seq', 1)
  redis.call('RPUSH', KEYS[2], n .. '|' .. ARGV[i])
  numbers[#numbers + 1] = n
end
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
if ARGV[3] ~= '0' then
  for k = 2, 4 do redis.call('PEXPIREAT', KEYS[k], ARGV[3]) end
end
return numbers
`,
);

/** KEYS: due, queue, meta, results. ARGV: target, now, leaseMs, lease. Returns { head, attempts } or nil. */
const CLAIM = luaScript(
  4,
  `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return false end
local head = redis.call('LINDEX', KEYS[2], 0)
if not head then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[1], string.format('%.0f', tonumber(ARGV[2]) + tonumber(ARGV[3])), ARGV[1])
redis.call('HSET', KEYS[3], 'lease', ARGV[4])
return { head, redis.call('HGET', KEYS[3], 'attempts') or '0' }
`,
);

/** KEYS: due, queue, meta, results. ARGV: target, lease, status ('' when none), error, retryAt. */
const RETRY = luaScript(
  4,
  `
if redis.call('HGET', KEYS[3], 'lease') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], 'lease')
redis.call('HINCRBY', KEYS[3], 'attempts', 1)
redis.call('HSET', KEYS[3], 'lastStatus', ARGV[3], 'lastError', ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
return 1
`,
);

/** KEYS: due, queue, meta, results. ARGV: target, lease, result JSON, now, keepResults. */
const FINISH = luaScript(
  4,
  `
if redis.call('HGET', KEYS[3], 'lease') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], 'lease', 'attempts', 'lastStatus', 'lastError')
redis.call('LPOP', KEYS[2])
redis.call('LPUSH', KEYS[4], ARGV[3])
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[5]) - 1)
local ttl = redis.call('PTTL', KEYS[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[4], ttl) end
if redis.call('LLEN', KEYS[2]) > 0 then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
`,
);

/** KEYS: watches, records, watched:<channel>. ARGV: id, JSON, expiration, now, max. */
const ADD_WATCH = luaScript(
  3,
  `
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if current and tonumber(current) > tonumber(ARGV[4]) then return 'exists' end
if redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[4], '+inf') >= tonumber(ARGV[5]) then return 'limit' end
if current then return 'exists' end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 'added'
`,
);

/**
 * KEYS: watches, records. ARGV: id, prefix of watched:<channel> keys. Returns the watch JSON, or
 * nil. The channel's key is named only here (it is known once the record is read); it carries the
 * same `{app}` hash tag, so it lives in the same Cluster slot.
 */
const REMOVE_WATCH = luaScript(
  2,
  `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return false end
local json = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if json then
  local channel = cjson.decode(json).channel
  redis.call('HDEL', ARGV[2] .. channel, ARGV[1])
end
return json or false
`,
);
