import type { RedisClient } from "./redis-connections.ts";
import { isChannelMessage, messageLimit, newEpoch, withoutPosition } from "./channel-message.ts";
import { redisKeys, slotOf } from "./redis-keys.ts";
import { isUnreachable, luaScript, runScript } from "./redis-scripts.ts";
import { ENQUEUE_LUA } from "./redis-queues.ts";
import type { ChannelMessage, HistoryOptions, HistoryResult } from "./types.ts";

export interface RedisHistoryOptions {
  /** Prefix of every key and pub/sub channel, as in `createRedisEngine`. */
  prefix: string;
  /** Messages kept per channel (the stream's exact MAXLEN). */
  historySize?: number;
  /** A channel's stream and meta expire this long after its last publish. */
  historyTtlSeconds?: number;
  /** Messages one pull queue holds at most (see queue-types.ts). */
  maxQueueDepth?: number;
  onError?: (error: Error) => void;
  /** A Redis Cluster: one append call per slot, and sharded pub/sub (SPUBLISH). */
  cluster?: boolean;
  /**
   * The connection appends are sent on. The group commit already batches them, so one without
   * auto-pipelining writes each call at once, without the Pipeline ioredis builds per flush.
   * Defaults to `client`.
   */
  appender?: RedisClient;
}

export interface RedisHistory {
  /**
   * Appends the messages to their channels' streams and publishes them (and sets `statuses`), in
   * one atomic step; concurrent appends may share that step (group commit), in call order. With
   * `keep` false the messages are only published (`history: false`: no offset, no entry).
   */
  append(appId: string, messages: readonly ChannelMessage[], statuses?: StatusWrites, keep?: boolean): Promise<void>;
  read(appId: string, channel: string, options: HistoryOptions): Promise<HistoryResult>;
  /** The channel's last offset and epoch as they are, without giving a channel that has none a stream. */
  position(appId: string, channel: string): Promise<{ offset: number; epoch: string | undefined }>;
  /** Resolves once every append made so far has been answered (whatever the answer). */
  settled(): Promise<void>;
  claim(appId: string, id: string, windowSeconds: number): Promise<boolean>;
}

/** String values to SET with a TTL in the same step as an append (the engine's message statuses). */
export interface StatusWrites {
  readonly writes: readonly { readonly key: string; readonly json: string }[];
  readonly ttlSeconds: number;
}

/**
 * Appends the messages of one or more publishes: per channel, assigns their offsets, adds them
 * to the stream and publishes them, all in one atomic step, so every subscriber on every
 * instance receives a channel's messages in offset order, and a reader that subscribed before
 * reading the stream gets every later offset live.
 *
 * KEYS: s status keys, then per channel: meta hash (`epoch`, `offset` = last offset), stream
 * (entry id = `<offset>-0`, field `m` = the message JSON as published), set of its pull queues.
 * ARGV[1] stream MAXLEN, ARGV[2] TTL seconds, ARGV[3] the epoch to use for a channel without
 * meta, ARGV[4] s, ARGV[5] the pull queues' max depth, ARGV[6] the publish command (`PUBLISH`;
 * `SPUBLISH` on a cluster), then per status its value and TTL seconds, then per channel (in KEYS
 * order): its pub/sub channel, its message count n, 1 to append them (0: only publish them, with
 * no offset: `history: false`), and its n messages as JSON objects without their closing brace.
 * Every message also goes to every pull queue of its channel (ENQUEUE_LUA, redis-queues.ts), in
 * this same step.
 *
 * On one Redis, one call carries every channel of a batch and its statuses (one command instead
 * of one per channel and one per status). On a cluster a call carries what one slot holds (see
 * the lanes of `createRedisHistory`).
 */
const APPEND_SCRIPT = luaScript(0, `
local maxQueueDepth = tonumber(ARGV[5])
local publish = ARGV[6]
${ENQUEUE_LUA}
local statuses = tonumber(ARGV[4])
for s = 1, statuses do
  redis.call('SET', KEYS[s], ARGV[5 + 2 * s], 'EX', ARGV[6 + 2 * s])
end
local a = 7 + 2 * statuses
for k = statuses + 1, #KEYS, 3 do
  local meta, stream, queues, topic, count = KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[a], tonumber(ARGV[a + 1])
  local payloads = {}
  if ARGV[a + 2] == '0' then
    for i = a + 3, a + 2 + count do
      local payload = ARGV[i] .. '}'
      payloads[#payloads + 1] = payload
      redis.call(publish, topic, payload)
    end
  else
    local epoch = redis.call('HGET', meta, 'epoch')
    if not epoch then
      -- The history is lost (expired, evicted) or never was: a new generation, offsets from 1.
      redis.call('DEL', stream)
      epoch = ARGV[3]
      redis.call('HSET', meta, 'epoch', epoch, 'offset', 0)
    end
    local offset = redis.call('HINCRBY', meta, 'offset', count) - count
    for i = a + 3, a + 2 + count do
      offset = offset + 1
      local id = string.format('%d', offset)
      local payload = ARGV[i] .. ',"offset":' .. id .. ',"epoch":"' .. epoch .. '"}'
      payloads[#payloads + 1] = payload
      redis.call('XADD', stream, 'MAXLEN', ARGV[1], id .. '-0', 'm', payload)
      redis.call(publish, topic, payload)
    end
    redis.call('EXPIRE', meta, ARGV[2])
    redis.call('EXPIRE', stream, ARGV[2])
  end
  enqueue(queues, topic, payloads)
  a = a + 3 + count
end
return 1
`);

/**
 * Reads a channel's position and messages in one atomic step. A channel without meta gets one
 * (a new epoch at offset 0, with the TTL) so that position stays valid for a later resume.
 *
 * KEYS as above. ARGV[1] TTL seconds, ARGV[2] the epoch to use if the channel has no meta,
 * ARGV[3] limit, ARGV[4] since offset ('' for the latest messages; -1 for one that cannot be
 * served), ARGV[5] since epoch.
 * Returns { epoch, offset, recoverable (1/0), entries }; without since, entries are newest first.
 */
const READ_SCRIPT = luaScript(2, `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  redis.call('DEL', KEYS[2])
  epoch = ARGV[2]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
local top = tonumber(redis.call('HGET', KEYS[1], 'offset')) or 0
local limit = tonumber(ARGV[3])
if ARGV[4] == '' then
  if limit == 0 then return {epoch, top, 1, {}} end
  return {epoch, top, 1, redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', limit)}
end
local since = tonumber(ARGV[4])
if ARGV[5] ~= epoch or since < 0 or since > top then return {epoch, top, 0, {}} end
if since == top then return {epoch, top, 1, {}} end
-- Offsets are contiguous and trimmed from the oldest: since + 1 is retained iff it comes first.
local entries = redis.call('XRANGE', KEYS[2], string.format('%d', since + 1), '+', 'COUNT', math.max(limit, 1))
if #entries == 0 or entries[1][1] ~= string.format('%d-0', since + 1) then return {epoch, top, 0, {}} end
if limit == 0 then return {epoch, top, 1, {}} end
return {epoch, top, 1, entries}
`);

type StreamEntry = [id: string, fields: string[]];

/** An append waiting for the script call that carries it. */
interface PendingAppend {
  readonly appId: string;
  readonly messages: readonly ChannelMessage[];
  readonly statuses: StatusWrites | undefined;
  /** False: publish only (`history: false`). */
  readonly keep: boolean;
  resolve(): void;
  reject(error: unknown): void;
}

/** Publishes carried by one append call at most; the rest wait for the next (Redis runs a script alone). */
const MAX_APPENDS_PER_CALL = 64;
/** Messages and statuses carried by one append call at most, unless a single append has more. */
const MAX_VALUES_PER_CALL = 1_024;
type ReadReply = [epoch: string, offset: number, recoverable: 0 | 1, entries: StreamEntry[]];


/** History, offsets and message-id claims of the Redis engine, on the engine's publisher client. */
export function createRedisHistory(client: RedisClient, options: RedisHistoryOptions): RedisHistory {
  const { prefix, historySize = 100, historyTtlSeconds = 600, maxQueueDepth = 10_000, onError = () => {}, appender = client, cluster = false } = options;
  const publishCommand = cluster ? "SPUBLISH" : "PUBLISH";
  /** Also the pub/sub channel of that Herald channel (see redis.ts). */
  const { channel: channelKey, claim: claimKey } = redisKeys(prefix);

  function parse(channel: string, entry: StreamEntry): ChannelMessage | undefined {
    const text = entry[1][1];
    let value: unknown;
    try {
      value = text === undefined ? undefined : JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (isChannelMessage(value)) return value;
    onError(new Error(`skipped a malformed history entry ${entry[0]} on ${channel}`));
    return undefined;
  }

  /**
   * Group commit: while one append call is in flight, later appends wait in `queue`, and the
   * next call carries them (up to MAX_APPENDS_PER_CALL appends and MAX_VALUES_PER_CALL messages
   * and statuses; one larger append goes alone), in call order. A lone publish goes at once;
   * under load one script call (and one round trip) serves many publishes, and publishes to the
   * same channel share its meta reads and TTL refreshes. Per channel, offsets follow call order,
   * as they did with one call per publish. (Two calls in flight made smaller batches: more Redis
   * CPU per publish and fewer requests/s in the REST benchmark.) When Redis cannot be reached,
   * every queued append fails with the call, at once, rather than one batch per reconnect cycle.
   *
   * On one Redis that is one lane. On a cluster every slot is a lane of its own: an append is
   * split by slot (its channels' messages, its statuses by their message ids), each part goes
   * down its slot's lane, and the append settles once every part has. A master that is down
   * holds up its own slots' lanes only.
   */
  interface Lane {
    readonly queue: PendingAppend[];
    appending: boolean;
  }
  const lanes = new Map<number, Lane>();
  const laneOf = (slot: number): Lane => {
    let lane = lanes.get(slot);
    if (!lane) lanes.set(slot, (lane = { queue: [], appending: false }));
    return lane;
  };
  /** Settles once every append made so far has settled. */
  let lastAppend: Promise<unknown> = Promise.resolve();

  function takeBatch(queue: PendingAppend[]): PendingAppend[] {
    let values = 0;
    let count = 0;
    while (count < queue.length && count < MAX_APPENDS_PER_CALL) {
      const next = queue[count]!;
      values += next.messages.length + (next.statuses?.writes.length ?? 0);
      if (count > 0 && values > MAX_VALUES_PER_CALL) break;
      count++;
    }
    return queue.splice(0, count);
  }

  function appendQueued(lane: Lane): void {
    const { queue } = lane;
    const batch = takeBatch(queue);
    lane.appending = true;
    const settle = (error?: unknown) => {
      // Redis is gone: what waits would fail the same way, one reconnect cycle at a time.
      const failed = error !== undefined && isUnreachable(error) ? batch.concat(queue.splice(0)) : batch;
      for (const pending of failed) {
        if (error === undefined) pending.resolve();
        else pending.reject(error);
      }
      lane.appending = false;
      if (queue.length > 0) appendQueued(lane);
    };
    let call: Promise<unknown>;
    try {
      call = runScript(appender, APPEND_SCRIPT, ...appendArguments(batch));
    } catch (error) {
      call = Promise.reject(error);
    }
    call.then(() => settle(), (error: unknown) => settle(error ?? new Error("append failed")));
  }

  /** Queues (part of) an append on a lane; settles with the call that carries it. */
  function enqueue(lane: Lane, appId: string, messages: readonly ChannelMessage[], statuses: StatusWrites | undefined, keep: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      lane.queue.push({ appId, messages, statuses, keep, resolve, reject });
      if (!lane.appending) appendQueued(lane);
    });
  }

  /** An append's parts by slot, on a cluster: its messages by channel, its statuses by key. */
  function bySlot(appId: string, messages: readonly ChannelMessage[], statuses: StatusWrites | undefined) {
    const parts = new Map<number, { messages: ChannelMessage[]; writes: StatusWrites["writes"][number][] }>();
    const part = (key: string) => {
      const slot = slotOf(key);
      let found = parts.get(slot);
      if (!found) parts.set(slot, (found = { messages: [], writes: [] }));
      return found;
    };
    for (const message of messages) part(channelKey(appId, message.channel)).messages.push(message);
    for (const write of statuses?.writes ?? []) part(write.key).writes.push(write);
    return [...parts].map(([slot, { messages, writes }]) => ({
      slot,
      messages,
      statuses: writes.length > 0 ? { writes, ttlSeconds: statuses!.ttlSeconds } : undefined,
    }));
  }

  /** KEYS and ARGV of one append call for `batch` (see APPEND_SCRIPT), and the number of keys. */
  function appendArguments(batch: readonly PendingAppend[]): [(string | number)[], number] {
    const statusKeys: string[] = [];
    const statusArgs: (string | number)[] = [];
    /**
     * Per channel key and mode (in order of first appearance), its messages in call order. A
     * channel's kept and publish-only messages are two entries: their relative order is only
     * promised for calls awaited one after another (the engine contract), which never share one.
     */
    const byChannel = new Map<string, { key: string; keep: boolean; jsons: string[] }>();
    // The script appends `,"offset":…,"epoch":"…"}` (or just `}`) to each message: send them without the `}`.
    // A priority goes first: the script reads it from there for the pull queues' order.
    const json = (message: ChannelMessage) => {
      const plain = withoutPosition(message);
      return JSON.stringify(plain.priority === undefined ? plain : { priority: plain.priority, ...plain }).slice(0, -1);
    };
    for (const { appId, messages, statuses, keep } of batch) {
      for (const write of statuses?.writes ?? []) {
        statusKeys.push(write.key);
        statusArgs.push(write.json, statuses!.ttlSeconds);
      }
      for (const message of messages) {
        const key = channelKey(appId, message.channel);
        const entry = byChannel.get(keep ? key : `${key}\0`);
        if (entry) entry.jsons.push(json(message));
        else byChannel.set(keep ? key : `${key}\0`, { key, keep, jsons: [json(message)] });
      }
    }
    const keys: (string | number)[] = statusKeys;
    const args: (string | number)[] = [historySize, historyTtlSeconds, newEpoch(), statusKeys.length, maxQueueDepth, publishCommand, ...statusArgs];
    for (const { key, keep, jsons } of byChannel.values()) {
      keys.push(`${key}:meta`, `${key}:history`, `${key}:queues`);
      args.push(key, jsons.length, keep ? 1 : 0, ...jsons);
    }
    return [keys.concat(args), keys.length];
  }

  return {
    append(appId, messages, statuses, keep = true) {
      const writes = statuses?.writes ?? [];
      if (messages.length === 0 && writes.length === 0) return Promise.resolve();
      const appended = cluster
        ? Promise.all(bySlot(appId, messages, statuses).map((p) => enqueue(laneOf(p.slot), appId, p.messages, p.statuses, keep))).then(() => {})
        : enqueue(laneOf(0), appId, messages, statuses, keep);
      lastAppend = Promise.all([lastAppend, appended.catch(() => {})]);
      return appended;
    },

    settled() {
      return lastAppend.then(() => {});
    },

    async read(appId, channel, { since, limit }) {
      const key = channelKey(appId, channel);
      // -1: a position that cannot be served (malformed, or no history is kept at all).
      const servable = since !== undefined && historySize > 0 && Number.isSafeInteger(since.offset) && since.offset >= 0;
      const sinceOffset = since === undefined ? "" : servable ? String(since.offset) : "-1";
      const [epoch, offset, recoverable, entries] = (await runScript(client, READ_SCRIPT, [
        `${key}:meta`,
        `${key}:history`,
        historyTtlSeconds,
        newEpoch(),
        messageLimit(limit),
        sinceOffset,
        since?.epoch ?? "",
      ])) as ReadReply;
      if (since === undefined) entries.reverse();
      const messages: ChannelMessage[] = [];
      for (const entry of entries) {
        const message = parse(channel, entry);
        if (message) messages.push(message);
      }
      return { messages, offset, epoch, recoverable: recoverable === 1 };
    },

    async position(appId, channel) {
      const [epoch, offset] = await client.hmget(`${channelKey(appId, channel)}:meta`, "epoch", "offset");
      return epoch === null ? { offset: 0, epoch: undefined } : { offset: Number(offset) || 0, epoch };
    },

    async claim(appId, id, windowSeconds) {
      const window = Math.max(1, Math.ceil(windowSeconds));
      return (await client.set(claimKey(appId, id), "1", "EX", window, "NX")) === "OK";
    },
  };
}
