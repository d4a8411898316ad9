import type { Cluster, Redis } from "ioredis";
import type { ClusterNode } from "./redis-connections.ts";
import { slotOf } from "./redis-keys.ts";

export interface ShardedPubSubHooks {
  /** These topics may have missed messages from now on (their shard's connection dropped, or they moved). */
  onBreak(topics: readonly string[]): void;
  /** These topics are subscribed again: every message published from now on reaches them. */
  onRestore(topics: readonly string[]): void;
  onError(error: Error): void;
}

/** The subscribe/unsubscribe half of graphql-redis-subscriptions' RedisPubSub, which the engine uses on one Redis. */
export interface TopicBus {
  /** Resolves with a subscription id once the server confirmed the subscription. */
  subscribe(topic: string, onMessage: (payload: unknown) => void): Promise<number>;
  unsubscribe(id: number): void;
  close(): Promise<unknown>;
}

/**
 * Sharded pub/sub on a Redis Cluster (SSUBSCRIBE, Redis ≥ 7): a topic is subscribed on the
 * master that owns its slot, over one subscriber connection per master, once per instance
 * however many subscriptions share it; its messages (SPUBLISH) never cross the cluster bus.
 *
 * The slot map is the cluster client's (`cluster.slots`, refreshed on MOVED, on a failed
 * connection and every `slotsRefreshMs`). After each refresh, every topic whose slot moved (a
 * failover, a resharding) is subscribed where it now lives. A connection that drops breaks its
 * topics until ioredis has subscribed them again on reconnect and a PING came back after that.
 * What was published meanwhile is not received: the hooks let the engine's channel feeds hold
 * and repair from history (redis-channel-feed.ts), as on one Redis.
 */
export function createShardedPubSub(
  cluster: Cluster,
  connect: (node: ClusterNode) => Redis,
  hooks: ShardedPubSubHooks,
): TopicBus {
  interface Link {
    readonly nodeKey: string;
    readonly redis: Redis;
    readonly topics: Set<string>;
    /** Connected, with its subscriptions confirmed since the last drop. */
    live: boolean;
    /** Drops so far, so a PING answered over a connection that dropped since is not taken for the one now. */
    breaks: number;
  }
  interface Entry {
    readonly topic: string;
    readonly handlers: Map<number, (payload: unknown) => void>;
    link: Link | undefined;
    /** Settles once the first SSUBSCRIBE of the topic was confirmed. */
    readonly confirmed: Promise<void>;
    confirm(): void;
    fail(error: Error): void;
    settled: boolean;
  }
  const links = new Map<string, Link>();
  const entries = new Map<string, Entry>();
  const topicOf = new Map<number, string>();
  let nextId = 0;
  let closed = false;

  const ownerOf = (topic: string): string | undefined => cluster.slots[slotOf(topic)]?.[0];

  function dispatch(topic: string, text: string) {
    const entry = entries.get(topic);
    if (!entry) return;
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return hooks.onError(new Error(`dropped a message that is not JSON on ${topic}`));
    }
    for (const handler of entry.handlers.values()) handler(payload);
  }

  function linkTo(nodeKey: string): Link {
    const existing = links.get(nodeKey);
    if (existing) return existing;
    const colon = nodeKey.lastIndexOf(":");
    const redis = connect({ host: nodeKey.slice(0, colon), port: Number(nodeKey.slice(colon + 1)) });
    const link: Link = { nodeKey, redis, topics: new Set(), live: false, breaks: 0 };
    links.set(nodeKey, link);
    redis.on("smessage", dispatch);
    // An SSUBSCRIBE answered MOVED: the slot map is stale; the refresh moves the topic.
    redis.on("moved", () => cluster.refreshSlotsCache());
    redis.on("close", () => {
      link.breaks++;
      if (!link.live) return;
      link.live = false;
      if (link.topics.size > 0) hooks.onBreak([...link.topics]);
      // Gone for good (failed over)? The slot map says where its topics went.
      if (!closed) cluster.refreshSlotsCache();
    });
    redis.on("ready", () => {
      // ioredis re-sent the SSUBSCRIBEs before `ready`: the PING is answered after them.
      const at = link.breaks;
      redis.ping().then(
        () => {
          if (at !== link.breaks || link.live) return;
          link.live = true;
          if (link.topics.size > 0) hooks.onRestore([...link.topics]);
        },
        () => {}, // dropped again: the next `ready` restores
      );
    });
    redis.connect().catch(() => {}); // retried by ioredis; `close` and the refresh handle it
    return link;
  }

  /** Subscribes `entry` on the master that owns its slot now (leaving the one it was on). */
  function place(entry: Entry) {
    const owner = ownerOf(entry.topic);
    if (owner === undefined || entry.link?.nodeKey === owner) return;
    const from = entry.link;
    if (from) {
      from.topics.delete(entry.topic);
      if (from.live) {
        hooks.onBreak([entry.topic]);
        from.redis.sunsubscribe(entry.topic).catch(() => {});
      }
      retire(from);
    }
    const link = linkTo(owner);
    entry.link = link;
    link.topics.add(entry.topic);
    link.redis.ssubscribe(entry.topic).then(
      () => {
        if (entry.link !== link) return;
        if (!entry.settled) {
          entry.settled = true;
          return entry.confirm();
        }
        // Moved: restored once a PING on its new connection came back.
        link.redis.ping().then(() => entry.link === link && hooks.onRestore([entry.topic]), () => {});
      },
      (error: Error) => {
        if (entry.link !== link || entry.settled) return;
        entry.settled = true;
        entry.fail(error);
      },
    );
  }

  /** Closes a connection no topic uses and whose master owns no slot any more. */
  function retire(link: Link) {
    if (link.topics.size > 0) return;
    if (cluster.slots.some((owners) => owners?.[0] === link.nodeKey)) return;
    links.delete(link.nodeKey);
    link.redis.disconnect();
  }

  const onRefresh = () => {
    if (closed) return;
    for (const entry of entries.values()) place(entry);
    for (const link of [...links.values()]) retire(link);
  };
  cluster.on("refresh", onRefresh);

  return {
    subscribe(topic, onMessage) {
      if (closed) return Promise.reject(new Error("pub/sub is closed"));
      const id = ++nextId;
      topicOf.set(id, topic);
      let entry = entries.get(topic);
      if (!entry) {
        let confirm!: () => void;
        let fail!: (error: Error) => void;
        const confirmed = new Promise<void>((resolve, reject) => ((confirm = resolve), (fail = reject)));
        const created: Entry = { topic, handlers: new Map(), link: undefined, confirmed, confirm, fail, settled: false };
        entries.set(topic, (entry = created));
        confirmed.catch(() => {
          if (entries.get(topic) === created) entries.delete(topic);
          created.link?.topics.delete(topic);
        });
        place(created);
        if (!created.link) {
          created.settled = true;
          fail(new Error(`no Redis Cluster master is known for the slot of ${topic}`));
        }
      }
      entry.handlers.set(id, onMessage);
      return entry.confirmed.then(() => id);
    },

    unsubscribe(id) {
      const topic = topicOf.get(id);
      if (topic === undefined) return;
      topicOf.delete(id);
      const entry = entries.get(topic);
      if (!entry) return;
      entry.handlers.delete(id);
      if (entry.handlers.size > 0) return;
      entries.delete(topic);
      const link = entry.link;
      if (!link) return;
      link.topics.delete(topic);
      link.redis.sunsubscribe(topic).catch(hooks.onError);
      retire(link);
    },

    async close() {
      closed = true;
      cluster.off("refresh", onRefresh);
      await Promise.allSettled([...links.values()].map((link) => link.redis.quit()));
      links.clear();
      entries.clear();
    },
  };
}
