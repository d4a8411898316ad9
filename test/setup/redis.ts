import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import type { TestProject } from "vitest/node";

/**
 * Finds a Redis for the Redis suites, once per test run:
 * REDIS_URL if set; else a server on 127.0.0.1:6379; else `redis-server` from PATH on a free
 * port, started for this run and stopped after. With none of these the Redis suites skip with a
 * notice — and with CI=true that is a failure instead.
 */
export default async function setup(project: TestProject) {
  let child: ChildProcess | undefined;
  let url = process.env.REDIS_URL || undefined;
  if (url) {
    if (!(await answers(url))) throw new Error(`REDIS_URL=${url} does not answer PING`);
  } else if (await answers("redis://127.0.0.1:6379")) {
    url = "redis://127.0.0.1:6379";
  } else {
    const port = await freePort();
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    const spawned = await new Promise<boolean>((resolve) => {
      child!.once("error", () => resolve(false));
      child!.once("spawn", () => resolve(true));
    });
    if (spawned) {
      url = `redis://127.0.0.1:${port}`;
      const deadline = Date.now() + 5_000;
      while (!(await answers(url)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (!(await answers(url))) url = undefined;
    }
  }
  if (!url) {
    const notice = "No Redis found (REDIS_URL, 127.0.0.1:6379, or redis-server on PATH): the Redis suites are skipped. Install redis-server or set REDIS_URL to run them.";
    if (process.env.CI === "true") throw new Error(`CI=true: ${notice}`);
    console.warn(`\n⚠ ${notice}\n`);
  }
  project.provide("redisUrl", url ?? "");
  return () => {
    child?.kill("SIGTERM");
  };
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
