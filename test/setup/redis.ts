import { spawn, type ChildProcess } from "node:child_process";
import { freePort, redisAnswers } from "../helpers/net.ts";
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
    if (!(await redisAnswers(url))) throw new Error(`REDIS_URL=${url} does not answer PING`);
  } else if (await redisAnswers("redis://127.0.0.1:6379")) {
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
      while (!(await redisAnswers(url)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (!(await redisAnswers(url))) url = undefined;
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



declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
