import { createHash } from "node:crypto";
import { Cluster, type Redis } from "ioredis";
import type { RedisClient } from "./redis-connections.ts";

/**
 * The Lua scripts of the Redis engine, run with EVALSHA (falling back to EVAL) rather than
 * ioredis's `defineCommand`: ioredis copies every defined command onto each Pipeline it creates,
 * and with auto-pipelining that is a pipeline per tick on the publisher's hot path.
 */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
  readonly numberOfKeys: number;
}

/** Every script defined, so a cluster's masters can cache them all up front (redis-connections.ts). */
export const ALL_SCRIPTS: LuaScript[] = [];

export function luaScript(numberOfKeys: number, lua: string): LuaScript {
  const script = { lua, sha: createHash("sha1").update(lua).digest("hex"), numberOfKeys };
  ALL_SCRIPTS.push(script);
  return script;
}

/** ioredis's ways of saying Redis could not be reached (not Redis's own error replies). */
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"]);
export function isUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === "MaxRetriesPerRequestError" ||
    error.message === "Connection is closed." ||
    error.message.startsWith("Stream isn't writeable") ||
    UNREACHABLE_CODES.has((error as NodeJS.ErrnoException).code ?? "")
  );
}

/** Per client, the scripts known to be cached by the Redis it is connected to. */
const loadedByClient = new WeakMap<Redis, Set<string>>();

function loadedOn(client: Redis): Set<string> {
  let loaded = loadedByClient.get(client);
  if (!loaded) {
    const set = (loaded = new Set());
    loadedByClient.set(client, set);
    // The next connection may reach a Redis that restarted without them.
    client.on("close", () => set.clear());
  }
  return loaded;
}

/**
 * Runs `script` on `client` (auto-pipelined if the client is). As ioredis does for its defined
 * commands: the first call on a connection sends EVAL, which caches the script in Redis, and
 * later calls send EVALSHA, which commands on one connection reach only after that EVAL; if
 * Redis lost the script anyway (SCRIPT FLUSH), NOSCRIPT resends the call as EVAL. A cluster's
 * masters cached every script when the engine connected (redis-connections.ts): EVALSHA at once.
 */
export function runScript(
  client: RedisClient,
  script: LuaScript,
  keysAndArgs: readonly (string | number)[],
  /** For a script taking a varying number of keys. */
  numberOfKeys = script.numberOfKeys,
): Promise<unknown> {
  // As one array (ioredis flattens it), not spread: an append may carry 100k values, past
  // what a call's arguments can hold.
  const values = keysAndArgs as readonly (string | number)[] as string[];
  const loaded = client instanceof Cluster ? undefined : loadedOn(client);
  if (loaded && !loaded.has(script.sha)) {
    loaded.add(script.sha);
    return client.eval(script.lua, numberOfKeys, values);
  }
  return client.evalsha(script.sha, numberOfKeys, values).catch((error: unknown) => {
    if (!(error instanceof Error) || !error.message.includes("NOSCRIPT")) throw error;
    return client.eval(script.lua, numberOfKeys, values);
  });
}
