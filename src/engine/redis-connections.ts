import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { ALL_SCRIPTS } from "./redis-scripts.ts";

/** A connection the engine sends commands on: one Redis, or a Redis Cluster routing each command by its key's slot. */
export type RedisClient = Redis | Cluster;

/** Where the engine's Redis is: one server by URL, or a cluster by its seed nodes. */
export type RedisTarget =
  | { readonly kind: "single"; readonly url: string }
  | {
      readonly kind: "cluster";
      /** Seed nodes; the rest of the cluster is found from them (CLUSTER SLOTS). */
      readonly nodes: readonly ClusterNode[];
      readonly username?: string;
      readonly password?: string;
      readonly tls?: boolean;
      /** Addresses the nodes announce → addresses to reach them at (a cluster behind NAT or in containers). */
      readonly natMap?: Readonly<Record<string, ClusterNode>>;
      /** How often the slot map is read again, besides on MOVED and on a failed connection. */
      readonly slotsRefreshMs?: number;
    };

export interface ClusterNode {
  readonly host: string;
  readonly port: number;
}

/**
 * The engine's connections, for one Redis or a cluster: `publisher` (auto-pipelined: counts,
 * reads, state), `appender` (the ordered group commit of appends, redis-history.ts), and, per
 * kind, how to reach each server on its own (a cluster's sharded subscriptions, readiness).
 */
export interface RedisConnections {
  readonly cluster: boolean;
  readonly publisher: RedisClient;
  readonly appender: RedisClient;
  /** A new standalone connection, for subscribing: to the one Redis, or to a cluster node. */
  connect(node?: ClusterNode): Redis;
  /** Every server answers (a cluster: every master, and it reports `cluster_state:ok`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const BASE: RedisOptions = { maxRetriesPerRequest: 3, lazyConnect: true };

export async function openRedis(target: RedisTarget, onError: (error: Error) => void): Promise<RedisConnections> {
  if (target.kind === "single") {
    // The scripts run with EVALSHA (redis-scripts.ts), not `defineCommand`, which would copy each
    // of them onto the pipeline auto-pipelining builds every tick.
    const publisher = new Redis(target.url, { ...BASE, enableAutoPipelining: true });
    // Appends (history + publish) on their own ordered connection: see createRedisHistory.
    const appender = new Redis(target.url, BASE);
    for (const client of [publisher, appender]) client.on("error", onError);
    await Promise.all([publisher.connect(), appender.connect()]);
    return {
      cluster: false,
      publisher,
      appender,
      connect: () => {
        const redis = new Redis(target.url, BASE);
        redis.on("error", onError);
        return redis;
      },
      ping: async () => {
        await Promise.all([publisher.ping(), appender.ping()]);
      },
      close: async () => {
        await Promise.allSettled([publisher.quit(), appender.quit()]);
      },
    };
  }

  const nodeOptions: RedisOptions = {
    ...BASE,
    username: target.username,
    password: target.password,
    ...(target.tls ? { tls: {} } : {}),
  };
  const natMap = target.natMap && Object.fromEntries(Object.entries(target.natMap).map(([from, to]) => [from, { host: to.host, port: to.port }]));
  const clusterOptions = (autoPipelining: boolean): ClusterOptions => ({
    lazyConnect: true,
    enableAutoPipelining: autoPipelining,
    redisOptions: nodeOptions,
    natMap,
    slotsRefreshInterval: target.slotsRefreshMs ?? 2_000,
    // Commands wait for the slot map while a failover settles, then go where it says.
    retryDelayOnClusterDown: 100,
    retryDelayOnFailover: 100,
    retryDelayOnTryAgain: 100,
    maxRedirections: 16,
  });
  const publisher = new Cluster(target.nodes.map((n) => ({ ...n })), clusterOptions(true));
  const appender = new Cluster(target.nodes.map((n) => ({ ...n })), clusterOptions(false));
  for (const client of [publisher, appender]) client.on("error", onError);
  await Promise.all([publisher.connect(), appender.connect()]);
  // Every master caches every script before the first EVALSHA, so no call's EVAL fallback
  // can overtake an earlier call on the same key; a master that joins later caches them then.
  const preload = (node: Redis) => Promise.all(ALL_SCRIPTS.map((script) => node.script("LOAD", script.lua))).catch(onError);
  for (const client of [publisher, appender]) client.on("+node", (node: Redis) => void preload(node));
  await Promise.all(publisher.nodes("master").map(preload));
  return {
    cluster: true,
    publisher,
    appender,
    connect: (node) => {
      // The node's address as the slot map has it, natMap applied.
      if (!node) throw new Error("a cluster connection needs its node");
      // No ready check (INFO): a subscriber connection may be in subscribed mode by then.
      const redis = new Redis({ ...nodeOptions, host: node.host, port: node.port, enableReadyCheck: false });
      redis.on("error", onError);
      return redis;
    },
    ping: async () => {
      // Every slot has a master, and every master that owns slots answers and says the cluster is ok.
      const owners = new Set<string>();
      for (let slot = 0; slot < 16_384; slot++) {
        const owner = publisher.slots[slot]?.[0];
        if (owner === undefined) throw new Error(`Redis Cluster slot ${slot} has no master`);
        owners.add(owner);
      }
      const byKey = new Map(publisher.nodes("master").map((node) => [`${node.options.host}:${node.options.port}`, node]));
      const infos = await Promise.all(
        [...owners].map(async (owner) => {
          const node = byKey.get(owner);
          if (!node) throw new Error(`Redis Cluster master ${owner} is not connected`);
          await node.ping();
          return node.cluster("INFO") as Promise<string>;
        }),
      );
      for (const info of infos) {
        if (!/cluster_state:ok/.test(info)) throw new Error(`Redis Cluster state is not ok: ${/cluster_state:(\w+)/.exec(info)?.[1] ?? "unknown"}`);
      }
    },
    close: async () => {
      await Promise.allSettled([publisher.quit(), appender.quit()]);
    },
  };
}
