import { randomUUID } from "node:crypto";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { Redis, type RedisOptions } from "ioredis";
import type {
  ChannelCounts,
  ChannelMessage,
  Engine,
  EngineSubscription,
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
  onError?: (error: Error) => void;
  now?: () => number;
}

/**
 * Redis carries pub/sub and state so many instances act as one.
 *
 * Keys (hash tags keep a channel's keys in one Redis Cluster slot):
 * - `herald:{app:channel}`          pub/sub channel of that Herald channel (not a key)
 * - `herald:{app:channel}:subs`     hash instanceId → live subscriptions on that instance
 * - `herald:{app}:channels`         set of channel names that may be occupied (pruned lazily)
 * - `herald:{app}:status:<id>`      JSON message status record, with a TTL
 * - `herald:instances`              sorted set instanceId → last heartbeat (ms)
 */
export async function createRedisEngine(options: RedisEngineOptions): Promise<Engine> {
  const {
    url,
    prefix = "herald:",
    heartbeatMs = 5_000,
    instanceTtlMs = 15_000,
    onError = () => {},
    now = Date.now,
  } = options;
  const instanceId = randomUUID();
  const redisOptions: RedisOptions = { maxRetriesPerRequest: 3, lazyConnect: true };
  const publisher = new Redis(url, { ...redisOptions, enableAutoPipelining: true });
  const subscriber = new Redis(url, redisOptions);
  for (const client of [publisher, subscriber]) client.on("error", onError);
  await Promise.all([publisher.connect(), subscriber.connect()]);

  const pubsub = new RedisPubSub({ publisher, subscriber });
  const channelTopic = (appId: string, channel: string) => `${prefix}{${appId}:${channel}}`;
  const subsKey = (appId: string, channel: string) => `${prefix}{${appId}:${channel}}:subs`;
  const channelsKey = (appId: string) => `${prefix}{${appId}}:channels`;
  const statusKey = (appId: string, id: string) => `${prefix}{${appId}}:status:${id}`;
  const instancesKey = `${prefix}instances`;

  /** Subscriptions of this instance, so `close()` can uncount them all. */
  const open = new Set<EngineSubscription>();
  let closed = false;

  const beat = () => publisher.zadd(instancesKey, now(), instanceId);
  await beat();
  const heartbeat = setInterval(() => {
    beat().catch(onError);
    // Forget instances dead for long; their counter fields are pruned when read.
    publisher.zremrangebyscore(instancesKey, "-inf", now() - 10 * instanceTtlMs).catch(onError);
  }, heartbeatMs);
  heartbeat.unref();

  async function liveInstances(): Promise<Set<string>> {
    return new Set(await publisher.zrangebyscore(instancesKey, now() - instanceTtlMs, "+inf"));
  }

  /** Sums a channel's per-instance counters, pruning fields of dead instances. */
  async function countOf(appId: string, channel: string, live: Set<string>): Promise<number> {
    const fields = await publisher.hgetall(subsKey(appId, channel));
    let count = 0;
    const dead: string[] = [];
    for (const [instance, value] of Object.entries(fields)) {
      if (live.has(instance)) count += Math.max(0, Number(value));
      else dead.push(instance);
    }
    if (dead.length > 0) await publisher.hdel(subsKey(appId, channel), ...dead);
    return count;
  }

  return {
    kind: "redis",

    async publish(appId, messages) {
      // Auto-pipelining keeps these in call order on the one publisher connection.
      await Promise.all(messages.map((m) => pubsub.publish(channelTopic(appId, m.channel), m)));
    },

    async subscribe(appId, channel, listener) {
      if (closed) throw new Error("engine is closed");
      // Count first, so a publisher asking for counts right after we resolve sees us.
      await publisher
        .multi()
        .hincrby(subsKey(appId, channel), instanceId, 1)
        .sadd(channelsKey(appId), channel)
        .exec();
      let subId: number;
      try {
        // RedisPubSub resolves after Redis confirmed the SUBSCRIBE (or immediately when this
        // instance is already subscribed to the channel), and shares one SUBSCRIBE per channel.
        subId = await pubsub.subscribe(channelTopic(appId, channel), (payload: unknown) => {
          if (isChannelMessage(payload)) listener(payload);
          else onError(new Error(`dropped a malformed message on ${channel}`));
        });
      } catch (error) {
        await publisher.hincrby(subsKey(appId, channel), instanceId, -1);
        throw error;
      }
      let done = false;
      const subscription: EngineSubscription = {
        async close() {
          if (done) return;
          done = true;
          open.delete(subscription);
          pubsub.unsubscribe(subId);
          const left = await publisher.hincrby(subsKey(appId, channel), instanceId, -1);
          if (left <= 0) await publisher.hdel(subsKey(appId, channel), instanceId);
        },
      };
      open.add(subscription);
      return subscription;
    },

    async channelCounts(appId, channel) {
      return { name: channel, subscriptionCount: await countOf(appId, channel, await liveInstances()) };
    },

    async occupiedChannels(appId, namePrefix, first) {
      const live = await liveInstances();
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
        const subscriptionCount = await countOf(appId, name, live);
        if (subscriptionCount > 0) result.push({ name, subscriptionCount });
        else await publisher.srem(channelsKey(appId), name);
      }
      return result;
    },

    async putMessageStatus(appId, record, ttlSeconds) {
      await publisher.set(statusKey(appId, record.id), JSON.stringify(record), "EX", ttlSeconds);
    },

    async getMessageStatus(appId, id) {
      const text = await publisher.get(statusKey(appId, id));
      return text === null ? undefined : (JSON.parse(text) as MessageStatusRecord);
    },

    async ping() {
      await publisher.ping();
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      await Promise.allSettled([...open].map((s) => s.close()));
      await publisher.zrem(instancesKey, instanceId).catch(onError);
      await pubsub.close().catch(onError);
    },
  };
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => "\\" + c);
}

function isChannelMessage(value: unknown): value is ChannelMessage {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.id === "string" &&
    typeof m.channel === "string" &&
    typeof m.event === "string" &&
    typeof m.publishedAt === "string" &&
    typeof m.headers === "object" &&
    m.headers !== null
  );
}

