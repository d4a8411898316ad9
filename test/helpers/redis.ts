import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { describe, inject } from "vitest";

/** The Redis the global setup found, or undefined (then the Redis suites skip; never in CI). */
export const redisUrl: string | undefined = inject("redisUrl") || undefined;

export const describeRedis = redisUrl ? describe : describe.skip;

/** The seed nodes of the Redis Cluster the global setup started (REDIS_CLUSTER_NODES form), or undefined. */
export const redisClusterSpec: string | undefined = inject("redisClusterNodes") || undefined;

/** That cluster's seed nodes, as the engine's `cluster.nodes` takes them. */
export const redisClusterNodes = redisClusterSpec?.split(",").map((hostPort) => {
  const [host, port] = hostPort.split(":") as [string, string];
  return { host, port: Number(port) };
});

/** Deletes every key under `prefix` on every master of the cluster at `nodes`. */
export async function deleteClusterKeys(nodes: readonly { host: string; port: number }[], prefix: string): Promise<void> {
  const cluster = new Cluster(nodes.map((n) => ({ ...n })), { lazyConnect: true });
  try {
    await cluster.connect();
    await Promise.all(
      cluster.nodes("master").map(async (node) => {
        let cursor = "0";
        do {
          const [next, keys] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
          cursor = next;
          // One key per DEL: a node refuses a DEL whose keys are in different slots.
          await Promise.all(keys.map((key) => node.del(key)));
        } while (cursor !== "0");
      }),
    );
  } finally {
    cluster.disconnect();
  }
}

/** A key prefix no other test file uses; everything a test stores lives under it. */
export function uniquePrefix(name: string): string {
  return `herald-test:${name}:${randomUUID().slice(0, 8)}:`;
}

/** Deletes every key under `prefix` (never FLUSHDB: the Redis may not be ours). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** The engines end-to-end suites run on: memory always, Redis when the setup found one. */
export const ENGINES = [
  { name: "memory", redis: undefined, skip: false },
  { name: "redis", redis: redisUrl, skip: !redisUrl },
] as const;

/**
 * What an instance can run on besides memory, for suites about several instances sharing state:
 * one Redis, and a Redis Cluster (the global setup's). `env` configures a Herald for it.
 */
export const REDIS_BACKENDS = [
  { name: "one Redis", skip: !redisUrl, env: (): Record<string, string> => ({ REDIS_URL: redisUrl! }) },
  { name: "a Redis Cluster", skip: !redisClusterSpec, env: (): Record<string, string> => ({ REDIS_URL: "", REDIS_CLUSTER_NODES: redisClusterSpec! }) },
] as const;

/** Deletes every key under `prefix` on the backend `env` names. */
export function deleteBackendKeys(env: Record<string, string>, prefix: string): Promise<void> {
  return env.REDIS_CLUSTER_NODES ? deleteClusterKeys(redisClusterNodes!, prefix) : deleteKeys(env.REDIS_URL!, prefix);
}
