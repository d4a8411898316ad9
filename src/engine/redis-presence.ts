import type { Redis } from "ioredis";
import { redisKeys } from "./redis-keys.ts";
import { luaScript, runScript } from "./redis-scripts.ts";
import type { ExpiredMembersListener, PresenceMember, PresenceStore } from "./types.ts";

export interface RedisPresenceDeps {
  redis: Redis;
  prefix: string;
  instanceId: string;
  /** Ids of the instances whose heartbeat is fresh. */
  liveInstances(): Promise<Set<string>>;
  onError(error: Error): void;
}

/**
 * Presence on Redis: per channel a hash of members by connection, per instance the set of
 * channels it has members in, so whoever reaps a dead instance knows where to look (keys in
 * redis-keys.ts). Fields of instances without a fresh heartbeat do not count.
 */
export function createRedisPresence(deps: RedisPresenceDeps): PresenceStore & { reap(instanceId: string): Promise<void> } {
  const { redis, prefix, instanceId, liveInstances, onError } = deps;
  const { presence: presenceKey, instancePresence: instanceKey } = redisKeys(prefix);
  const listeners: ExpiredMembersListener[] = [];

  /** Members by user id (first connection's info wins), from a presence hash: live instances' fields, except `without`'s. */
  function usersOf(fields: Record<string, string>, live: Set<string>, without?: string): Map<string, PresenceMember> {
    const users = new Map<string, PresenceMember>();
    for (const [field, json] of Object.entries(fields)) {
      const instance = field.slice(0, field.indexOf("|"));
      if (instance === without || !live.has(instance)) continue;
      const member = parseMember(json);
      if (member && !users.has(member.userId)) users.set(member.userId, member);
    }
    return users;
  }

  return {
    async join(appId, channel, socketId, member, maxMembers) {
      const result = await runScript(redis, JOIN, [
        presenceKey(appId, channel),
        `${instanceId}|${socketId}`,
        JSON.stringify(member),
        member.userId,
        maxMembers,
      ]);
      if (result !== "full") await redis.sadd(instanceKey(instanceId), `${appId}\0${channel}`);
      return result as "added" | "present" | "full";
    },

    async leave(appId, channel, socketId, userId) {
      return (await runScript(redis, LEAVE, [presenceKey(appId, channel), `${instanceId}|${socketId}`, userId])) === 1;
    },

    async members(appId, channel) {
      const [fields, live] = await Promise.all([redis.hgetall(presenceKey(appId, channel)), liveInstances()]);
      return [...usersOf(fields, live).values()].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
    },

    onExpired(listener) {
      listeners.push(listener);
    },

    /** Removes a dead instance's members and reports the users that left with it. */
    async reap(deadId) {
      const places = await redis.smembers(instanceKey(deadId));
      const live = await liveInstances();
      for (const place of places) {
        const [appId, channel] = place.split("\0") as [string, string];
        const key = presenceKey(appId, channel);
        const fields = await redis.hgetall(key);
        const deadFields = Object.keys(fields).filter((f) => f.startsWith(`${deadId}|`));
        if (deadFields.length === 0) continue;
        const before = new Map<string, PresenceMember>();
        for (const f of deadFields) {
          const member = parseMember(fields[f]!);
          if (member) before.set(member.userId, member);
        }
        await redis.hdel(key, ...deadFields);
        // The snapshot still holds the fields just deleted; an instance reaping itself is live.
        const remaining = usersOf(fields, live, deadId);
        const gone = [...before.values()].filter((m) => !remaining.has(m.userId));
        if (gone.length === 0) continue;
        for (const listener of listeners) {
          try {
            listener(appId, channel, gone);
          } catch (error) {
            onError(error as Error);
          }
        }
      }
      await redis.del(instanceKey(deadId));
    },
  };
}

/**
 * Join and leave are one script each, so two connections of one user joining on two instances
 * at once make exactly one "added", and the member limit holds. (Fields of a dead instance
 * count here until it is reaped, at most the instance TTL later.)
 */
const JOIN = luaScript(1, `
local values = redis.call('HVALS', KEYS[1])
local users, count, present = {}, 0, false
for _, json in ipairs(values) do
  local ok, member = pcall(cjson.decode, json)
  if ok and type(member) == 'table' and member.userId ~= nil then
    if not users[member.userId] then users[member.userId] = true; count = count + 1 end
    if member.userId == ARGV[3] then present = true end
  end
end
if not present and count >= tonumber(ARGV[4]) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if present then return 'present' end
return 'added'
`);

const LEAVE = luaScript(1, `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
for _, json in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, member = pcall(cjson.decode, json)
  if ok and type(member) == 'table' and member.userId == ARGV[2] then return 0 end
end
return 1
`);

function parseMember(json: string): PresenceMember | undefined {
  try {
    const value = JSON.parse(json) as PresenceMember;
    return typeof value?.userId === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}
