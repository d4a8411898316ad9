import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import { readBody as readBoundedBody } from "../../src/transport/read-body.ts";

/** What every reference server (limit, peer, bare REST) reads from its environment. */
export interface ReferenceServerEnv {
  readonly port: number;
  readonly redisUrl: string;
  /** Prefix of every Redis pub/sub channel the server uses. */
  readonly redisPrefix: string;
  /** The one app: its key (what subscribers present in `connectionParams.key`), id and secret. */
  readonly appKey: string;
  readonly appId: string;
  readonly appSecret: string;
}

export function readReferenceServerEnv(env = process.env): ReferenceServerEnv {
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  return {
    port: Number(required("PORT")),
    redisUrl: required("REDIS_URL"),
    redisPrefix: required("BENCH_REDIS_PREFIX"),
    appKey: env.BENCH_APP_KEY ?? "herald-dev-key",
    appId: env.BENCH_APP_ID ?? "dev",
    appSecret: env.BENCH_APP_SECRET ?? "herald-dev-secret-not-for-production",
  };
}

/**
 * Listens on 127.0.0.1 and ends the process on SIGTERM/SIGINT (the runner's preload turns its
 * own disappearance into a SIGTERM too).
 */
export function serveUntilStopped(server: Server, port: number, onStop: () => void = () => {}): void {
  const stop = () => {
    onStop();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  server.listen(port, "127.0.0.1");
}

const MAX_BODY_BYTES = 1024 * 1024;

/** Reads a request body up to 1 MiB (Herald's default limit); undefined when it is larger. */
export const readBody = (req: IncomingMessage) => readBoundedBody(req, MAX_BODY_BYTES);

/** Answers `GET /healthz` (200 once every Redis client is ready, else 503) and returns true; false for any other request. */
export function answerHealth(req: IncomingMessage, res: ServerResponse, clients: readonly Redis[]): boolean {
  if (req.method !== "GET" || (req.url ?? "").split("?", 1)[0] !== "/healthz") return false;
  const ready = clients.every((client) => client.status === "ready");
  res.writeHead(ready ? 200 : 503).end(ready ? "ok" : "connecting to Redis");
  return true;
}
