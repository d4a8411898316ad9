import type { Server } from "node:http";

/** What every reference server (limit, peer, bare REST) reads from its environment. */
export interface ReferenceServerEnv {
  readonly port: number;
  readonly redisUrl: string;
  /** Prefix of every Redis pub/sub channel the server uses. */
  readonly redisPrefix: string;
  /** The one app key subscribers must present (`connectionParams.key`). */
  readonly appKey: string;
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

export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads a request body up to `MAX_BODY_BYTES`; undefined when it is larger. */
export function readBody(req: import("node:http").IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
