import { randomUUID } from "node:crypto";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { Redis, type RedisOptions } from "ioredis";
import { createRedisPresence } from "./redis-presence.ts";
import { createRedisSchedules } from "./redis-schedules.ts";
import { createRedisWebhooks } from "./redis-webhooks.ts";
import { createRedisHistory } from "./redis-history.ts";
import { ChannelFeed, type FeedSubscription } from "./redis-channel-feed.ts";
import { createRedisQueues } from "./redis-queues.ts";
import type { QueueOptions } from "./queue-types.ts";
import { isChannelMessage } from "./channel-message.ts";
import { isUnreachable, luaScript, runScript } from "./redis-scripts.ts";
import { redisKeys } from "./redis-keys.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import type {
  ChannelCounts,
  ChannelMessage,
  Engine,
  EngineSubscription,
  LostListener,
  MessageListener,
  MessageStatusRecord,
} from "./types.ts";

export interface RedisEngineOptions {
  url: string;
  /** Prefix of every key and pub/sub channel; ends with ":" by convention. */
  prefix?: string;
  /** How often this instance refreshes its heartbeat. */
  heartbeatMs?: number;
  /** An instance whose heartbeat is older than this no longer counts. */
  instanceTtlMs?: number;
  /** Messages kept per channel. */
  historySize?: number;
  /** A channel's history expires this long after its last publish. */
  historyTtlSeconds?: number;
  /**
   * Messages one channel holds back at most while it fills a gap from history (after the
   * subscriber connection reconnected); past that it stops, says so, and delivers them.
   */
  maxHeldMessages?: number;
  /** Pull queues' depth and idle TTL. */
  queues?: QueueOptions;
  onError?: (error: Error) => void;
  now?: () => number;
}

/**
 * Redis carries pub/sub and state so many instances act as one.
 *
 * Its keys are listed in redis-keys.ts.
 */
export async function createRedisEngine(options: RedisEngineOptions): Promise<Engine> {
  const {
    url,
    prefix = "herald:",
    heartbeatMs = 5_000,
    instanceTtlMs = 15_000,
    historySize = 100,
    maxHeldMessages = 1_000,
    onError = () => {},
    now = Date.now,
  } = options;
  const instanceId = randomUUID();
  const redisOptions: RedisOptions = { maxRetriesPerRequest: 3, lazyConnect: true };
  // The scripts run with EVALSHA (redis-scripts.ts), not `defineCommand`, which would copy each
  // of them onto the pipeline auto-pipelining builds every tick.
  const publisher = new Redis(url, { ...redisOptions, enableAutoPipelining: true });
  const subscriber = new Redis(url, redisOptions);
  // Appends (history + publish) on their own ordered connection: see createRedisHistory.
  const appender = new Redis(url, redisOptions);
  for (const client of [publisher, subscriber, appender]) client.on("error", onError);
  await Promise.all([publisher.connect(), subscriber.connect(), appender.connect()]);

  // RedisPubSub fires UNSUBSCRIBE without handling its promise: while Redis is down that would
  // be an unhandled rejection (and a crash). Handle it here, once, for every caller.
  for (const method of ["unsubscribe", "punsubscribe"] as const) {
    const original = subscriber[method].bind(subscriber) as (...args: unknown[]) => Promise<unknown>;
    (subscriber as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      const result = original(...args);
      result.catch((error: Error) => onError(error));
      return result;
    };
  }
  const pubsub = new RedisPubSub({ publisher, subscriber });
  const history = createRedisHistory(publisher, {
    prefix,
    historySize,
    historyTtlSeconds: options.historyTtlSeconds,
    maxQueueDepth: options.queues?.maxDepth,
    onError,
    appender,
  });
  const { channel: channelTopic, subs: subsKey, channels: channelsKey, status: statusKey, instances: instancesKey } = redisKeys(prefix);

  /** Channels this instance is subscribed to: their subscriptions, and the SUBSCRIBE in flight. */
  const topics = new Map<string, Topic>();
  /** Subscriptions of this instance, so `close()` can uncount them all. */
  const open = new Set<EngineSubscription>();
  let closed = false;

  interface Topic {
    readonly key: string;
    readonly appId: string;
    readonly channel: string;
    /** Its messages, checked once for all of its subscriptions (`Subscription`s). */
    readonly feed: ChannelFeed;
    readonly ready: Promise<number>;
  }

  /**
   * The subscriber connection dropped (Redis restarted, or the link broke): every channel holds
   * its messages back until it has subscribed again and filled what it missed from history.
   * `breaks` counts the drops, so a PING answered over a connection that dropped since is not
   * taken for the one now.
   */
  let breaks = 0;
  if (historySize > 0) {
    subscriber.on("close", () => {
      breaks++;
      for (const topic of topics.values()) topic.feed.hold();
    });
    subscriber.on("ready", () => {
      if (breaks === 0) return;
      const at = breaks;
      // ioredis sent the re-SUBSCRIBEs before `ready`: the PING is answered after them, and
      // from then on every message published reaches us.
      subscriber.ping().then(
        () => {
          if (at === breaks) for (const topic of topics.values()) topic.feed.recover();
        },
        () => {}, // dropped again: the next `ready` recovers
      );
    });
  }

  /**
   * One listener of a channel. Subscriptions live as long as their clients, so this is a class
   * holding its topic and listener (the channel's keys are the topic's), not closures per
   * subscription; each object is its own entry, so one function subscribed twice is two.
   */
  class Subscription implements EngineSubscription, FeedSubscription {
    #done = false;

    constructor(
      readonly topic: Topic,
      readonly listener: MessageListener,
      readonly onLost: LostListener | undefined,
    ) {}

    async close() {
      if (this.#done) return;
      this.#done = true;
      open.delete(this);
      const topic = this.topic;
      topic.feed.subscriptions.delete(this);
      if (topic.feed.subscriptions.size === 0 && topics.get(topic.key) === topic) {
        topics.delete(topic.key);
        pubsub.unsubscribe(await topic.ready);
      }
      await count(topic.appId, topic.channel, -1);
    }
  }

  /**
   * Subscriptions this instance counts per channel (its field of the channel's `subs` hash), by
   * that hash's key: what `reassert` writes back. A channel leaves it at zero once Redis has
   * that too; one whose uncount failed stays, at zero, for `reassert` to write.
   */
  const counted = new Map<string, { readonly appId: string; readonly channel: string; n: number }>();

  /** Counts one subscription in or out, here and (one script) in Redis. */
  async function count(appId: string, channel: string, delta: 1 | -1): Promise<void> {
    const key = subsKey(appId, channel);
    let entry = counted.get(key);
    if (!entry) counted.set(key, (entry = { appId, channel, n: 0 }));
    entry.n += delta;
    try {
      if (delta > 0) await runScript(publisher, SUBSCRIBER_ADDED, [key, channelsKey(appId), instanceId, channel]);
      else await runScript(publisher, SUBSCRIBER_REMOVED, [key, instanceId]);
    } catch (error) {
      // A subscribe that failed does not exist; either way Redis may or may not have it now.
      if (delta > 0) entry.n--;
      if (!counted.has(key)) counted.set(key, entry);
      throw error;
    }
    if (entry.n === 0 && counted.get(key) === entry) counted.delete(key);
  }

  const beat = () => publisher.zadd(instancesKey, now(), instanceId);
  await beat();
  const heartbeat = setInterval(() => {
    beat().catch(onError);
    reapDeadInstances().catch(onError);
  }, heartbeatMs);
  heartbeat.unref();

  async function liveInstances(): Promise<Set<string>> {
    return new Set(await publisher.zrangebyscore(instancesKey, now() - instanceTtlMs, "+inf"));
  }

  const presence = createRedisPresence({ redis: publisher, prefix, instanceId, liveInstances, onError });

  /**
   * Once the publisher has reconnected, the Redis it reached may have restarted without this
   * instance's live state (no persistence), with an older copy of it, or have missed what
   * failed while it was unreachable. So the instance writes its state again, as it holds it
   * now: its heartbeat first (members and counts of an instance missing from the set do not
   * count), its subscription counts, its presence members. Values are set, not added, so a
   * Redis that kept everything (AOF) counts nothing twice. ioredis sends what it queued or
   * resends before `ready`; these go after it on the same connection, and a count or join
   * issued later reaches Redis after them.
   */
  function reassert(): Promise<unknown> {
    const writes: Promise<unknown>[] = [beat()];
    for (const [key, entry] of counted) {
      const { appId, channel, n } = entry;
      writes.push(
        runScript(publisher, SUBSCRIBERS_SET, [key, channelsKey(appId), instanceId, n, channel]).then(() => {
          if (n === 0 && entry.n === 0 && counted.get(key) === entry) counted.delete(key);
        }),
      );
    }
    writes.push(presence.reassert());
    return Promise.all(writes);
  }
  let publisherDropped = false;
  const stats = { reconnects: 0 };
  publisher.on("close", () => (publisherDropped = true));
  publisher.on("ready", () => {
    if (!publisherDropped || closed) return;
    publisherDropped = false;
    stats.reconnects++;
    reassert().catch(onError);
  });

  /**
   * An instance whose heartbeat is older than the TTL died without cleaning up. Whoever removes
   * it from the instance set (ZREM is atomic: exactly one instance) reaps its presence members;
   * its counter fields are pruned when next read.
   */
  async function reapDeadInstances() {
    const dead = await publisher.zrangebyscore(instancesKey, "-inf", `(${now() - instanceTtlMs}`);
    for (const id of dead) {
      if ((await publisher.zrem(instancesKey, id)) === 1) await presence.reap(id);
    }
  }

  /**
   * Sums a channel's per-instance counters, pruning fields of dead instances, in one step: read
   * apart (the live set, then the fields), an instance that became live in between (its
   * heartbeat refreshed late, or written again after a Redis restart) was seen with its count
   * but not its heartbeat, and lost that count for good.
   */
  async function countOf(appId: string, channel: string): Promise<number> {
    return Number(await runScript(publisher, SUBSCRIBERS_COUNTED, [subsKey(appId, channel), instancesKey, now() - instanceTtlMs]));
  }

  return withUnavailable({
    kind: "redis",
    stats,
    presence: withUnavailable(presence),
    schedules: withUnavailable(createRedisSchedules(publisher, prefix)),
    queues: withUnavailable(createRedisQueues(publisher, { ...options.queues, prefix, onError, now })),
    webhooks: withUnavailable(createRedisWebhooks(publisher, prefix)),

    async publish(appId, messages, { history: append = true, statuses } = {}) {
      const statusWrites = statuses?.records.map((record) => ({ key: statusKey(appId, record.id), json: JSON.stringify(record) })) ?? [];
      // One path for both: `history: false` messages are only published, in the same kind of step.
      const writes = statusWrites.length > 0 ? { writes: statusWrites, ttlSeconds: statuses!.ttlSeconds } : undefined;
      return history.append(appId, messages, writes, append);
    },

    async history(appId, channel, options) {
      return history.read(appId, channel, options);
    },

    async claimMessageId(appId, id, windowSeconds) {
      return history.claim(appId, id, windowSeconds);
    },

    async subscribe(appId, channel, listener, onLost) {
      if (closed) throw new Error("engine is closed");
      // Count first, so a publisher asking for counts right after we resolve sees us. (One
      // script rather than MULTI, which builds a pipeline of a few KB per transaction.)
      await count(appId, channel, 1);
      // One RedisPubSub subscription (one SUBSCRIBE) per channel on this instance; its messages
      // are checked once and handed to every listener of the channel in one loop.
      const key = channelTopic(appId, channel);
      let topic = topics.get(key);
      if (!topic) {
        const feed = new ChannelFeed({
          read: (options) => history.read(appId, channel, options),
          historySize,
          maxHeld: maxHeldMessages,
          onError: (error) => onError(error instanceof Error ? error : new Error(String(error))),
        });
        // Without history there are no offsets to check, nor anything to fill a gap from.
        const deliver = historySize > 0 ? (m: ChannelMessage) => feed.receive(m) : (m: ChannelMessage) => feed.fanOut(m);
        const ready = pubsub.subscribe(key, (payload: unknown) => {
          if (!isChannelMessage(payload)) return onError(new Error(`dropped a malformed message on ${channel}`));
          deliver(payload);
        });
        if (historySize > 0) {
          // Where the channel stands once subscribed: everything after it reaches the feed live
          // (or, after a reconnect, from history), even before its first message.
          ready.then(() => history.position(appId, channel).then((position) => feed.start(position), onError), () => {});
        }
        topic = { key, appId, channel, feed, ready };
        topics.set(key, topic);
      }
      const current = topic;
      const subscription = new Subscription(current, listener, onLost);
      current.feed.subscriptions.add(subscription);
      try {
        // Resolves after Redis confirmed the SUBSCRIBE (at once if the channel already was).
        await current.ready;
      } catch (error) {
        current.feed.subscriptions.delete(subscription);
        if (topics.get(key) === current && current.feed.subscriptions.size === 0) topics.delete(key);
        await count(appId, channel, -1);
        throw error;
      }
      open.add(subscription);
      return subscription;
    },

    async channelCounts(appId, channel) {
      return { name: channel, subscriptionCount: await countOf(appId, channel) };
    },

    async occupiedChannels(appId, namePrefix, first) {
      const names: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await publisher.sscan(channelsKey(appId), cursor, "MATCH", globEscape(namePrefix) + "*", "COUNT", 1000);
        cursor = next;
        names.push(...batch);
      } while (cursor !== "0");
      names.sort();
      const result: ChannelCounts[] = [];
      for (const name of names) {
        if (result.length >= first) break;
        const subscriptionCount = await countOf(appId, name);
        if (subscriptionCount > 0) result.push({ name, subscriptionCount });
        else await runScript(publisher, CHANNEL_PRUNED, [subsKey(appId, name), channelsKey(appId), name]);
      }
      return result;
    },

    async getMessageStatus(appId, id) {
      // Statuses are written with the appends, on their own connection: read after this
      // instance's appends so far (a duplicate publish reads its original's status).
      await history.settled();
      const text = await publisher.get(statusKey(appId, id));
      return text === null ? undefined : (JSON.parse(text) as MessageStatusRecord);
    },

    async ping() {
      await Promise.all([publisher.ping(), appender.ping()]);
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      await Promise.allSettled([...open].map((s) => s.close()));
      // Members of connections that did not leave (they normally do, as the core closes them).
      await presence.reap(instanceId).catch(onError);
      await publisher.zrem(instancesKey, instanceId).catch(onError);
      await pubsub.close().catch(onError);
      // Appends already made go out before the connection closes.
      await history.settled();
      await appender.quit().catch(onError);
    },
  });
}

/**
 * `target` with every method's failure to reach Redis turned into ENGINE_UNAVAILABLE (503 on
 * every surface), at the one depth that knows what such a failure looks like; anything else
 * (a Redis error reply, a bug) passes as it is.
 */
function withUnavailable<T extends object>(target: T): T {
  const translate = (error: unknown): never => {
    if (!isUnreachable(error)) throw error;
    throw new HeraldError(ErrorCode.EngineUnavailable, `Redis is unreachable: ${(error as Error).message}`);
  };
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(target)) {
    wrapped[name] =
      typeof value === "function"
        ? (...args: unknown[]) => {
            const result: unknown = value.apply(target, args);
            return result instanceof Promise ? result.catch(translate) : result;
          }
        : value;
  }
  return wrapped as T;
}

/** KEYS: the channel's `subs` hash, the app's channel set; ARGV: instance id, channel name. */
const SUBSCRIBER_ADDED = luaScript(
  2,
  `
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[2])
`,
);

/**
 * KEYS: the channel's `subs` hash, the instance set; ARGV: the oldest heartbeat (ms) of a live
 * instance. Sums the live instances' counts and deletes the fields of the others.
 */
const SUBSCRIBERS_COUNTED = luaScript(
  2,
  `
local fields = redis.call('HGETALL', KEYS[1])
local count = 0
for i = 1, #fields, 2 do
  local beat = redis.call('ZSCORE', KEYS[2], fields[i])
  if beat and tonumber(beat) >= tonumber(ARGV[1]) then
    count = count + math.max(0, tonumber(fields[i + 1]) or 0)
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
return count
`,
);

/**
 * KEYS: the channel's `subs` hash, the app's channel set; ARGV: instance id, its count of
 * subscriptions, channel name. Sets the instance's count (none: drops its field), as `reassert`
 * knows it.
 */
const SUBSCRIBERS_SET = luaScript(
  2,
  `
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
`,
);

/**
 * KEYS: the channel's `subs` hash, the app's channel set; ARGV: channel name. Drops the channel
 * from the set only if no instance counts a subscription by now (dead instances' fields were
 * pruned just before): a subscribe counted since the caller looked keeps it listed.
 */
const CHANNEL_PRUNED = luaScript(
  2,
  `
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
`,
);

/**
 * KEYS: the channel's `subs` hash; ARGV: instance id. Uncounts one subscription and drops the
 * instance's field at zero, in one step: a subscribe counted in between keeps its count.
 */
const SUBSCRIBER_REMOVED = luaScript(
  1,
  `
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
`,
);

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => "\\" + c);
}

