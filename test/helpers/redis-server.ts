import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, redisAnswers } from "./net.ts";

/**
 * A redis-server of a test's own, on a free port and in a directory of its own, to kill and
 * start again (the shared Redis is never touched). Only the process it started is signalled.
 */
export interface OwnRedis {
  readonly url: string;
  /** SIGKILL, as a crash would; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (what it persisted, it loads). */
  start(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}

/** Undefined when there is no `redis-server` to run (which CI must have: see `.ci/run`). */
export async function startOwnRedis(args: readonly string[], place: { port?: number; dir?: string } = {}): Promise<OwnRedis | undefined> {
  const port = place.port ?? (await freePort());
  const dir = place.dir ?? mkdtempSync(join(tmpdir(), "herald-test-redis-"));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    const started = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, ...args], { stdio: "ignore" });
    const spawned = await new Promise<boolean>((resolve) => {
      started.once("error", () => resolve(false));
      started.once("spawn", () => resolve(true));
    });
    if (!spawned) throw new Error("redis-server could not be started");
    child = started;
    exited = new Promise((resolve) => started.once("exit", () => resolve()));
    const deadline = Date.now() + 5_000;
    while (!(await redisAnswers(url, 500))) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} does not answer`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function kill(): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await exited;
  }

  try {
    await start();
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    url,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
