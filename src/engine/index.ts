import type { Config } from "../config.ts";
import { createMemoryEngine } from "./memory.ts";
import { createRedisEngine } from "./redis.ts";
import type { Engine } from "./types.ts";

export type { Engine } from "./types.ts";

export type EngineConfig = Pick<
  Config,
  "redisUrl" | "redisCluster" | "redisPrefix" | "instanceHeartbeatMs" | "instanceTtlMs" | "historySize" | "historyTtlSeconds" | "memoryMaxStatuses" | "limits" | "queues"
>;

/** The one place that chooses an engine: Redis when `REDIS_URL` or `REDIS_CLUSTER_NODES` is set, memory otherwise. */
export async function createEngine(config: EngineConfig, onError: (error: Error) => void): Promise<Engine> {
  const kind = config.redisUrl === undefined && config.redisCluster === undefined ? "memory" : "redis";
  switch (kind) {
    case "memory":
      return createMemoryEngine({
        historySize: config.historySize,
        historyTtlSeconds: config.historyTtlSeconds,
        maxStatuses: config.memoryMaxStatuses,
        queues: queueOptions(config),
      });
    case "redis":
      return createRedisEngine({
        url: config.redisUrl,
        cluster: config.redisCluster,
        prefix: config.redisPrefix,
        heartbeatMs: config.instanceHeartbeatMs,
        instanceTtlMs: config.instanceTtlMs,
        historySize: config.historySize,
        historyTtlSeconds: config.historyTtlSeconds,
        // Held back beyond what one subscriber may have queued, they would be dropped anyway.
        maxHeldMessages: config.limits.subscriberQueueLength,
        queues: queueOptions(config),
        onError,
      });
    default: {
      const never: never = kind;
      throw new Error(`unknown engine ${String(never)}`);
    }
  }
}

const queueOptions = ({ queues }: EngineConfig) => ({ maxDepth: queues.maxDepth, idleTtlSeconds: queues.idleTtlSeconds });
