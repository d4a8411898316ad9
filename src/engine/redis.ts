import { randomUUID } from "node:crypto";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { Cluster, type Redis } from "ioredis";
import { openRedis, type RedisTarget } from "./redis-connections.ts";
import { createShardedPubSub, type TopicBus } from "./redis-sharded-pubsub.ts";
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
  /** One Redis. */
  url?: string;
  /** A Redis Cluster (instead of `url`). */
  cluster?: Omit<Extract<RedisTarget, { kind: "cluster" }>, "kind">;
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
 * Redis carries pub/sub and state so many instances act as one: one Redis, or a Redis Cluster
 * (sharded pub/sub, every script on one slot; docs/redis-cluster.md).
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
  if ((url === undefined) === (options.cluster === undefined)) throw new Error("the Redis engine needs one of url and cluster");
  const target: RedisTarget = url !== undefined ? { kind: "single", url } : { kind: "cluster", ...options.cluster! };
  const connections = await openRedis(target, onError);
  const { publisher, appender } = connections;

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
   * Pub/sub: on one Redis, graphql-redis-subscriptions' RedisPubSub on a subscriber connection
   * of its own; on a cluster, sharded pub/sub (redis-sharded-pubsub.ts). When a subscriber
   * connection drops (Redis restarted, the link broke, a master failed over) its channels hold
   * their messages back until they are subscribed again and have filled what they missed from
   * history.
   */
  const hold = (keys: Iterable<string>) => {
    if (historySize > 0) for (const key of keys) topics.get(key)?.feed.hold();
  };
  const recover = (keys: Iterable<string>) => {
    if (historySize > 0) for (const key of keys) topics.get(key)?.feed.recover();
  };
  /**
   * Whether the subscriber connection is subscribed (one Redis; a cluster's links are per master
   * and not followed here). `reassert` waits for it: the users it reports as gone are published
   * without history, so a local subscriber whose connection was not back yet would never see
   * their MEMBER_REMOVED.
   */
  let subscriberLinked = true;
  const linkWaiters = new Set<() => void>();
  const linked = () => {
    subscriberLinked = true;
    for (const waiter of linkWaiters) waiter();
  };
  function whenSubscriberLinked(): Promise<void> {
    if (subscriberLinked || closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        linkWaiters.delete(done);
        resolve();
      };
      // Not forever: past this the writes go out, and only the reports may be missed.
      const timer = setTimeout(done, SUBSCRIBER_LINK_WAIT_MS);
      timer.unref();
      linkWaiters.add(done);
    });
  }

  const pubsub: TopicBus =
    publisher instanceof Cluster
      ? createShardedPubSub(publisher, (node) => connections.connect(node), { onBreak: hold, onRestore: recover, onError })
      : singleRedisPubSub();

  function singleRedisPubSub(): TopicBus {
    const subscriber = connections.connect();
    void subscriber.connect().catch(onError);
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
    /** Drops so far, so a PING answered over a connection that dropped since is not taken for the one now. */
    let breaks = 0;
    subscriber.on("close", () => {
      breaks++;
      subscriberLinked = false;
      hold(topics.keys());
    });
    subscriber.on("ready", () => {
      if (breaks === 0) return;
      const at = breaks;
      // ioredis sent the re-SUBSCRIBEs before `ready`: the PING is answered after them, and
      // from then on every message published reaches us.
      subscriber.ping().then(
        () => {
          if (at !== breaks) return;
          linked();
          recover(topics.keys());
        },
        () => {}, // dropped again: the next `ready` recovers
      );
    });
    // RedisPubSub publishes nothing here (appends do), but wants a publisher: the one Redis's.
    return new RedisPubSub({ publisher: publisher as Redis, subscriber });
  }
  const history = createRedisHistory(publisher, {
    prefix,
    historySize,
    historyTtlSeconds: options.historyTtlSeconds,
    maxQueueDepth: options.queues?.maxDepth,
    onError,
    appender,
    cluster: connections.cluster,
  });
  const { channel: channelTopic, subs: subsKey, channelIndex, channelIndexes, status: statusKey, instances: instancesKey, instanceSubs } = redisKeys(prefix);

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
      if (delta > 0) {
        // Counted, then listed: a prune between them lists it again (`prune`). One Redis keeps
        // the order of one connection's commands; on a cluster the listing is on another master.
        const first = entry.n === 1;
        const counting = publisher.hincrby(key, instanceId, 1);
        if (connections.cluster) await counting;
        await Promise.all([counting, list(appId, channel, first)]);
      } else await runScript(publisher, SUBSCRIBER_REMOVED, [key, instanceId]);
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
      const write = n > 0 ? publisher.hset(key, instanceId, n).then(() => list(appId, channel, true)) : publisher.hdel(key, instanceId);
      writes.push(
        write.then(() => {
          if (n === 0 && entry.n === 0 && counted.get(key) === entry) counted.delete(key);
        }),
      );
    }
    writes.push(whenSubscriberLinked().then(() => presence.reassert()));
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
      if ((await publisher.zrem(instancesKey, id)) === 1) await Promise.all([presence.reap(id), uncountAll(id)]);
    }
  }

  /**
   * Lists a counted channel in the app's channel index and, with `mine`, its `subs` hash among
   * those this instance has a field in (what `uncountAll` deletes when it is reaped).
   */
  function list(appId: string, channel: string, mine: boolean): Promise<unknown> {
    const listed = publisher.sadd(channelIndex(appId, channel), channel);
    return mine ? Promise.all([listed, publisher.sadd(instanceSubs(instanceId), subsKey(appId, channel))]) : listed;
  }

  /** Deletes an instance's fields from every `subs` hash it had one in (it died, or is closing). */
  async function uncountAll(id: string) {
    const keys = await publisher.smembers(instanceSubs(id));
    await Promise.all(keys.map((key) => publisher.hdel(key, id)));
    await publisher.del(instanceSubs(id));
  }

  /**
   * Sums a channel's per-instance counters over the live instances (`live`: read once by a
   * caller counting many channels). Fields of dead instances are not counted; whoever reaps an
   * instance deletes them (`uncountAll`).
   */
  async function countOf(appId: string, channel: string, live?: Set<string>): Promise<number> {
    const [fields, alive] = await Promise.all([publisher.hgetall(subsKey(appId, channel)), live ?? liveInstances()]);
    let count = 0;
    for (const [instance, n] of Object.entries(fields)) if (alive.has(instance)) count += Math.max(0, Number(n) || 0);
    return count;
  }

  /**
   * Drops a channel nobody counts from its index set. Listing and counting are two slots on a
   * cluster: a subscribe counted meanwhile (HINCRBY, then SADD) is listed again here, or by its
   * own SADD, which comes after the SREM.
   */
  async function prune(appId: string, channel: string): Promise<void> {
    const subs = subsKey(appId, channel);
    if ((await publisher.hlen(subs)) > 0) return; // a dead instance's field, not yet reaped
    const index = channelIndex(appId, channel);
    await publisher.srem(index, channel);
    if ((await publisher.hlen(subs)) > 0) await publisher.sadd(index, channel);
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
      const names = new Set<string>();
      for (const index of channelIndexes(appId)) {
        let cursor = "0";
        do {
          const [next, batch] = await publisher.sscan(index, cursor, "MATCH", globEscape(namePrefix) + "*", "COUNT", 1000);
          cursor = next;
          for (const name of batch) names.add(name);
        } while (cursor !== "0");
      }
      const sorted = [...names].sort();
      const live = await liveInstances();
      const result: ChannelCounts[] = [];
      for (const name of sorted) {
        if (result.length >= first) break;
        const subscriptionCount = await countOf(appId, name, live);
        if (subscriptionCount > 0) result.push({ name, subscriptionCount });
        else await prune(appId, name);
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
      await connections.ping();
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const waiter of linkWaiters) waiter();
      clearInterval(heartbeat);
      // Redis unreachable: each write would fail only after its retries; the instance TTL reaps
      // this instance's counts and members instead.
      if (publisher.status === "ready") {
        await Promise.allSettled([...open].map((s) => s.close()));
        // Members of connections that did not leave (they normally do, as the core closes them),
        // counts that did not reach Redis, and the heartbeat.
        await Promise.all([presence.reap(instanceId).catch(onError), uncountAll(instanceId).catch(onError), publisher.zrem(instancesKey, instanceId).catch(onError)]);
      }
      await pubsub.close().catch(onError);
      // Appends already made go out before the connection closes.
      await history.settled();
      await connections.close();
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

/**
 * KEYS: the channel's `subs` hash; ARGV: instance id. Uncounts one subscription and drops the
 * instance's field at zero, in one step: a subscribe counted in between keeps its count.
 */
/** How long a reconnect's `reassert` waits for the subscriber connection to be subscribed again. */
const SUBSCRIBER_LINK_WAIT_MS = 5_000;

const SUBSCRIBER_REMOVED = luaScript(
  1,
  `
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
`,
);

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => "\\" + c);
}

