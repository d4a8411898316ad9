import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { describe, inject } from "vitest";

/** The Redis the global setup found, or undefined (then the Redis suites skip; never in CI). */
export const redisUrl: string | undefined = inject("redisUrl") || undefined;

export const describeRedis = redisUrl ? describe : describe.skip;

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
