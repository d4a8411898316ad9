import type { RedisClient } from "./redis-connections.ts";
import { isChannelMessage } from "./channel-message.ts";
import { redisKeys } from "./redis-keys.ts";
import { luaScript, runScript } from "./redis-scripts.ts";
import { isExpired, newQueueKey, type QueueOptions, type QueueRecord, type QueueStore } from "./queue-types.ts";
import type { ChannelMessage } from "./types.ts";

/**
 * Pull queues of the Redis engine (guarantees in queue-types.ts). Per queue (keys in
 * redis-keys.ts): a hash of its facts and a sorted set of its messages, scored so that ZPOPMIN
 * returns the highest priority first, then publish order: `(9 - priority) * 2^44 + seq`, `seq`
 * counting the queue's appends (exact in a double up to 2^44 appends). Members are
 * `<seq>|<message JSON>`, unique even for two equal messages. The publish script (APPEND_SCRIPT in
 * redis-history.ts) appends to them; both keys carry the idle TTL, refreshed by create and pull.
 */
export const QUEUE_PRIORITY_BAND = 2 ** 44;

/**
 * The Lua appending `payloads` (message JSONs, each starting with `{"priority":N` when it has
 * one) to every queue of a channel: spliced into APPEND_SCRIPT, which defines `maxQueueDepth`.
 * Queues whose hash expired are forgotten by the channel's set here.
 */
export const ENQUEUE_LUA = `
local function enqueue(set, stem, payloads)
  local keys = redis.call('SMEMBERS', set)
  for _, sk in ipairs(keys) do
    local meta = stem .. ':queue:' .. sk
    if redis.call('EXISTS', meta) == 0 then
      redis.call('SREM', set, sk)
    else
      local messages = meta .. ':m'
      local seq = redis.call('HINCRBY', meta, 'seq', #payloads) - #payloads
      local args = {}
      for _, payload in ipairs(payloads) do
        seq = seq + 1
        local priority = tonumber(string.match(payload, '^{"priority":(%d)')) or 5
        args[#args + 1] = (9 - priority) * ${QUEUE_PRIORITY_BAND} + seq
        args[#args + 1] = string.format('%d', seq) .. '|' .. payload
      end
      redis.call('ZADD', messages, unpack(args))
      local depth = redis.call('ZCARD', messages)
      if depth == #payloads then redis.call('PEXPIRE', messages, redis.call('PTTL', meta)) end
      local dropped = 0
      while depth > maxQueueDepth do
        -- The least urgent goes: the oldest message of the lowest priority present.
        local last = redis.call('ZRANGE', messages, -1, -1, 'WITHSCORES')
        local band = math.floor(tonumber(last[2]) / ${QUEUE_PRIORITY_BAND}) * ${QUEUE_PRIORITY_BAND}
        local oldest = redis.call('ZRANGEBYSCORE', messages, band, '+inf', 'LIMIT', 0, 1)
        redis.call('ZREM', messages, oldest[1])
        depth = depth - 1
        dropped = dropped + 1
      end
      if dropped > 0 then redis.call('HINCRBY', meta, 'dropped', dropped) end
    end
  end
end
`;

/**
 * KEYS: the queue's hash, the channel's queue set. ARGV: channel, key, createdAt, idle TTL
 * seconds. Creates the queue where the channel's messages are enqueued (the channel's slot).
 */
const CREATE_SCRIPT = luaScript(
  2,
  `
redis.call('HSET', KEYS[1], 'channel', ARGV[1], 'createdAt', ARGV[3], 'seq', 0, 'dropped', 0)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[2])
`,
);

/** KEYS: the app's queue index. ARGV: key, channel, max queues. Lists the queue unless the app has that many: 1, else 0. */
const INDEX_SCRIPT = luaScript(
  1,
  `
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`,
);

/**
 * KEYS: the queue's hash, its messages. ARGV: max to pop (0: none), idle TTL seconds (0: leave
 * the TTL). Returns false for no queue, else { popped members and scores, depth, channel,
 * createdAt, dropped }.
 */
const READ_SCRIPT = luaScript(
  2,
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local popped = {}
if tonumber(ARGV[1]) > 0 then popped = redis.call('ZPOPMIN', KEYS[2], ARGV[1]) end
if tonumber(ARGV[2]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
local info = redis.call('HMGET', KEYS[1], 'channel', 'createdAt', 'dropped')
return {popped, redis.call('ZCARD', KEYS[2]), info[1], info[2], info[3]}
`,
);

/** KEYS: the queue's hash, its messages, the channel's queue set. ARGV: key. */
const DELETE_SCRIPT = luaScript(
  3,
  `
local existed = redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return existed
`,
);

type ReadReply = [popped: string[], depth: number, channel: string, createdAt: string, dropped: string] | null;

export function createRedisQueues(
  client: RedisClient,
  options: QueueOptions & { prefix: string; onError: (error: Error) => void; now?: () => number },
): QueueStore {
  const { prefix, idleTtlSeconds = 86_400, onError, now = Date.now } = options;
  const { queueIndex, queue: queueKey, queues: channelQueues } = redisKeys(prefix);

  /** The channel of the app's queue `key`, from the app's index (undefined: no such queue). */
  async function channelOf(appId: string, key: string): Promise<string | undefined> {
    return (await client.hget(queueIndex(appId), key)) ?? undefined;
  }

  async function read(appId: string, key: string, pop: number, ttl: number, known?: string) {
    const channel = known ?? (await channelOf(appId, key));
    if (channel === undefined) return undefined;
    const stem = queueKey(appId, channel, key);
    const reply = (await runScript(client, READ_SCRIPT, [stem, `${stem}:m`, pop, ttl])) as ReadReply;
    if (reply === null) return undefined;
    const [popped, depth, , createdAt, dropped] = reply;
    const record: QueueRecord = { key, channel, createdAt, depth, dropped: Number(dropped) };
    const messages: ChannelMessage[] = [];
    for (let i = 0; i < popped.length; i += 2) {
      const member = popped[i]!;
      let value: unknown;
      try {
        value = JSON.parse(member.slice(member.indexOf("|") + 1));
      } catch {
        value = undefined;
      }
      if (isChannelMessage(value)) messages.push(value);
      else onError(new Error(`dropped a malformed queued message in ${key}`));
    }
    return { queue: record, messages, popped: popped.length / 2 };
  }

  /**
   * The app's queues, from its index; entries whose queue expired are forgotten here, by the
   * index and by the channel's queue set.
   */
  async function liveQueues(appId: string): Promise<QueueRecord[]> {
    const index = await client.hgetall(queueIndex(appId));
    const records = await Promise.all(
      Object.entries(index).map(async ([key, channel]) => {
        const found = await read(appId, key, 0, 0, channel);
        if (found) return found.queue;
        await Promise.all([client.hdel(queueIndex(appId), key), client.srem(channelQueues(appId, channel), key)]);
        return undefined;
      }),
    );
    return records.filter((r): r is QueueRecord => r !== undefined);
  }

  return {
    async create(appId, channel, maxQueues) {
      if ((await liveQueues(appId)).length >= maxQueues) return "limit";
      const key = newQueueKey();
      const createdAt = new Date(now()).toISOString();
      // The queue first, then its index entry (two slots on a cluster): a queue not yet listed
      // is one nobody knows the key of; one whose listing lost the race to the limit goes again.
      const stem = queueKey(appId, channel, key);
      await runScript(client, CREATE_SCRIPT, [stem, channelQueues(appId, channel), channel, key, createdAt, idleTtlSeconds]);
      if ((await runScript(client, INDEX_SCRIPT, [queueIndex(appId), key, channel, maxQueues])) === 1) {
        return { key, channel, createdAt, depth: 0, dropped: 0 };
      }
      await runScript(client, DELETE_SCRIPT, [stem, `${stem}:m`, channelQueues(appId, channel), key]);
      return "limit";
    },

    async get(appId, key) {
      return (await read(appId, key, 0, 0))?.queue;
    },

    async list(appId, channel) {
      const records = await liveQueues(appId);
      return records
        .filter((r) => channel === undefined || r.channel === channel)
        .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
    },

    async delete(appId, key) {
      const channel = await channelOf(appId, key);
      if (channel === undefined) return false;
      const stem = queueKey(appId, channel, key);
      const existed = await runScript(client, DELETE_SCRIPT, [stem, `${stem}:m`, channelQueues(appId, channel), key]);
      await client.hdel(queueIndex(appId), key);
      return Number(existed) > 0;
    },

    async pull(appId, key, max) {
      const messages: ChannelMessage[] = [];
      let queue: QueueRecord | undefined;
      // Expired messages are popped and dropped: pop again until `max` live ones or an empty queue.
      for (;;) {
        const result = await read(appId, key, max - messages.length, idleTtlSeconds);
        // Deleted since the last round: what was popped then is still returned.
        if (!result) return queue && { queue, messages };
        queue = result.queue;
        const at = now();
        for (const message of result.messages) if (!isExpired(message, at)) messages.push(message);
        if (result.popped === 0 || messages.length >= max || queue.depth === 0) return { queue, messages };
      }
    },
  };
}
