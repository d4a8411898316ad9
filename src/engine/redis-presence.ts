import type { RedisClient } from "./redis-connections.ts";
import { redisKeys } from "./redis-keys.ts";
import { luaScript, runScript } from "./redis-scripts.ts";
import type { ExpiredMembersListener, PresenceMember, PresenceStore } from "./types.ts";

export interface RedisPresenceDeps {
  redis: RedisClient;
  prefix: string;
  instanceId: string;
  /** Ids of the instances whose heartbeat is fresh. */
  liveInstances(): Promise<Set<string>>;
  onError(error: Error): void;
}

export interface RedisPresence extends PresenceStore {
  /** Removes a dead instance's members and reports the users that left with it. */
  reap(instanceId: string): Promise<void>;
  /**
   * Writes this instance's members again, as it holds them now, and finishes the leaves that
   * did not reach Redis (reporting the users that left): for a Redis that restarted without
   * them, or missed a leave while unreachable. Idempotent: members are set, not added.
   */
  reassert(): Promise<void>;
}

/** One connection's membership, as this instance holds it. */
interface HeldMember {
  readonly member: PresenceMember;
  readonly json: string;
  /** Its JOIN was answered: from then on `reassert` writes it (before, the JOIN will). */
  joined: boolean;
}

/**
 * Presence on Redis: per channel a hash of members by connection, per instance the set of
 * channels it has members in, so whoever reaps a dead instance knows where to look (keys in
 * redis-keys.ts). Fields of instances without a fresh heartbeat do not count.
 *
 * The instance also holds its own members, and the leaves Redis did not get, so that it can
 * tell a Redis that lost them (`reassert`).
 */
export function createRedisPresence(deps: RedisPresenceDeps): RedisPresence {
  const { redis, prefix, instanceId, liveInstances, onError } = deps;
  const { presence: presenceKey, instancePresence: instanceKey } = redisKeys(prefix);
  const listeners: ExpiredMembersListener[] = [];
  /** Presence hash key → this instance's members in it, by field (`<instanceId>|<socketId>`). */
  const held = new Map<string, { readonly appId: string; readonly channel: string; readonly members: Map<string, HeldMember> }>();
  /** Leaves that failed (Redis unreachable), by `<presence key>\0<field>`: `reassert` finishes them. */
  const departed = new Map<string, { readonly appId: string; readonly channel: string; readonly key: string; readonly field: string; readonly member: PresenceMember }>();

  function hold(appId: string, channel: string, key: string, field: string, entry: HeldMember) {
    let place = held.get(key);
    if (!place) held.set(key, (place = { appId, channel, members: new Map() }));
    place.members.set(field, entry);
    departed.delete(`${key}\0${field}`);
  }

  /** Forgets a membership (`entry`: only if it is still that one); returns what was held. */
  function release(key: string, field: string, entry?: HeldMember): HeldMember | undefined {
    const place = held.get(key);
    const current = place?.members.get(field);
    if (!place || !current || (entry && current !== entry)) return undefined;
    place.members.delete(field);
    if (place.members.size === 0) held.delete(key);
    return current;
  }

  function report(appId: string, channel: string, gone: readonly PresenceMember[]) {
    if (gone.length === 0) return;
    for (const listener of listeners) {
      try {
        listener(appId, channel, gone);
      } catch (error) {
        onError(error as Error);
      }
    }
  }

  /** Deletes `fields` from a presence hash; the users that thereby left (no other field of theirs). */
  async function remove(key: string, fields: readonly string[]): Promise<PresenceMember[]> {
    if (fields.length === 0) return [];
    const gone = (await runScript(redis, REMOVE, [key, ...fields])) as string[];
    return gone.map(parseMember).filter((m): m is PresenceMember => m !== undefined);
  }

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
      const key = presenceKey(appId, channel);
      const field = `${instanceId}|${socketId}`;
      const entry: HeldMember = { member, json: JSON.stringify(member), joined: false };
      // Held from the start, so a `reassert` meanwhile does not take its field for a stale one.
      hold(appId, channel, key, field, entry);
      try {
        const result = (await runScript(redis, JOIN, [key, field, entry.json, member.userId, maxMembers])) as "added" | "present" | "full";
        if (result === "full") {
          release(key, field, entry);
          return result;
        }
        entry.joined = true;
        await redis.sadd(instanceKey(instanceId), `${appId}\0${channel}`);
        return result;
      } catch (error) {
        // The caller fails the subscription; a field already written is stale for `reassert`.
        release(key, field, entry);
        throw error;
      }
    },

    async leave(appId, channel, socketId, userId) {
      const key = presenceKey(appId, channel);
      const field = `${instanceId}|${socketId}`;
      const entry = release(key, field);
      const depart = () => departed.set(`${key}\0${field}`, { appId, channel, key, field, member: entry?.member ?? { userId, info: null } });
      // Not sent while the connection is down: ioredis would queue it and send it first thing
      // after the reconnect, and a Redis that came back without the field (no persistence, an
      // older copy) would answer "not there", so the user's MEMBER_REMOVED would never go out.
      // `reassert` finishes it after the reconnect instead, reporting the user if they left.
      if (redis.status !== "ready") {
        depart();
        throw new Error(`Redis is not connected (${redis.status}): the leave is finished on reconnect`);
      }
      try {
        return (await runScript(redis, LEAVE, [key, field, userId])) === 1;
      } catch (error) {
        depart();
        throw error;
      }
    },

    async members(appId, channel) {
      const [fields, live] = await Promise.all([redis.hgetall(presenceKey(appId, channel)), liveInstances()]);
      return [...usersOf(fields, live).values()].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
    },

    onExpired(listener) {
      listeners.push(listener);
    },

    async reap(deadId) {
      for (const place of await redis.smembers(instanceKey(deadId))) {
        const [appId, channel] = place.split("\0") as [string, string];
        const key = presenceKey(appId, channel);
        const deadFields = (await redis.hkeys(key)).filter((f) => f.startsWith(`${deadId}|`));
        report(appId, channel, await remove(key, deadFields));
      }
      await redis.del(instanceKey(deadId));
    },

    async reassert() {
      // Every write below is issued at once, in this order, on one connection: a join or leave
      // issued later reaches Redis after it, so what is set here is never newer than they are.
      const writes: Promise<unknown>[] = [];
      const places: string[] = [];
      for (const [key, { appId, channel, members }] of held) {
        const fields: Record<string, string> = {};
        let any = false;
        for (const [field, entry] of members) {
          if (!entry.joined) continue;
          fields[field] = entry.json;
          any = true;
        }
        if (!any) continue;
        writes.push(redis.hset(key, fields));
        places.push(`${appId}\0${channel}`);
      }
      if (places.length > 0) writes.push(redis.sadd(instanceKey(instanceId), ...places));
      for (const [id, leave] of departed) {
        writes.push(
          runScript(redis, LEAVE, [leave.key, leave.field, leave.member.userId, "finish"]).then((last) => {
            if (departed.get(id) !== leave) return; // joined again meanwhile
            departed.delete(id);
            if (last === 1) report(leave.appId, leave.channel, [leave.member]);
          }),
        );
      }
      await Promise.all(writes);
      // Fields of ours Redis still has and this instance no longer holds (a leave whose answer
      // was lost, a join that failed after it was written): remove them, and report who left.
      for (const place of await redis.smembers(instanceKey(instanceId))) {
        const [appId, channel] = place.split("\0") as [string, string];
        const key = presenceKey(appId, channel);
        const mine = held.get(key)?.members;
        const stale = (await redis.hkeys(key)).filter((f) => f.startsWith(`${instanceId}|`) && !mine?.has(f) && !departed.has(`${key}\0${f}`));
        report(appId, channel, await remove(key, stale));
      }
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

/**
 * Removes a connection's field; 1 when that was the user's last connection. ARGV[3] = "finish":
 * a leave that failed, finished — the user left unless another connection of theirs is present,
 * whether or not Redis still had the field (a Redis that restarted without it never told anyone
 * the user left).
 */
const LEAVE = luaScript(1, `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 and ARGV[3] ~= 'finish' then return 0 end
for _, json in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, member = pcall(cjson.decode, json)
  if ok and type(member) == 'table' and member.userId == ARGV[2] then return 0 end
end
return 1
`);

/**
 * Deletes the fields ARGV from the presence hash; returns the member JSON of each user whose
 * last field it deleted, once per user. One step, so two instances (or a reap and a leave)
 * removing the same fields report each user once.
 */
const REMOVE = luaScript(1, `
local removed = {}
for i = 1, #ARGV do
  local json = redis.call('HGET', KEYS[1], ARGV[i])
  if json then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed[#removed + 1] = json
  end
end
if #removed == 0 then return {} end
local present = {}
for _, json in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, member = pcall(cjson.decode, json)
  if ok and type(member) == 'table' and member.userId ~= nil then present[member.userId] = true end
end
local gone = {}
for _, json in ipairs(removed) do
  local ok, member = pcall(cjson.decode, json)
  if ok and type(member) == 'table' and member.userId ~= nil and not present[member.userId] then
    present[member.userId] = true
    gone[#gone + 1] = json
  end
end
return gone
`);

function parseMember(json: string): PresenceMember | undefined {
  try {
    const value = JSON.parse(json) as PresenceMember;
    return typeof value?.userId === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}
