import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import type { App } from "../../src/config.ts";
import { loadConfig } from "../../src/config.ts";
import { createHerald, type Herald } from "../../src/server.ts";
import type { Engine } from "../../src/engine/types.ts";
import { OnChannelDocument, type OnChannelSubscription } from "../generated/graphql.ts";
import { pino } from "pino";
import { afterAll, beforeAll, expect } from "vitest";
import { deleteKeys } from "./redis.ts";

export const APP_ONE: App = { id: "one", key: "one-key-0001", secret: "one-secret-0123456789abcdef", name: "One", enabled: true };
export const APP_TWO: App = { id: "two", key: "two-key-0002", secret: "two-secret-0123456789abcdef", name: "Two", enabled: true };
export const APP_OFF: App = { id: "off", key: "off-key-0003", secret: "off-secret-0123456789abcdef", name: "Off", enabled: false };
export const TEST_APPS = [APP_ONE, APP_TWO, APP_OFF];

export interface TestServer {
  herald: Herald;
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  close(): Promise<void>;
}

/** A real Herald on 127.0.0.1, port 0, with the test apps; Redis engine when `redisUrl` given. */
export async function startHerald(
  options: { redisUrl?: string; prefix?: string; env?: Record<string, string>; engine?: Engine; port?: number } = {},
): Promise<TestServer> {
  const config = loadConfig({
    HERALD_APPS: JSON.stringify(TEST_APPS),
    LOG_LEVEL: "silent",
    HOST: "127.0.0.1",
    PORT: "0",
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...(options.prefix ? { HERALD_REDIS_PREFIX: options.prefix } : {}),
    ...options.env,
  });
  const herald = await createHerald(config, { logger: pino({ level: "silent" }), ...(options.engine ? { engine: options.engine } : {}) });
  const { port } = await herald.listen(options.port ?? 0, "127.0.0.1");
  const url = `http://127.0.0.1:${port}`;
  return { herald, url, graphqlUrl: `${url}/graphql`, wsUrl: `ws://127.0.0.1:${port}/graphql`, close: () => herald.close() };
}

/** The started server of `useHerald`, plus `connect`: a WebSocket closed with the server. */
export interface SuiteServer extends TestServer {
  connect(connectionParams?: Record<string, unknown>): WsConnection;
}

type SuiteEngine = { redis: string | undefined; skip: boolean };

/** A `TestServer` that stands for the one `current` gives once the suite's hooks started it. */
function startedLater(current: () => TestServer | undefined): TestServer {
  const server = (): TestServer => {
    const started = current();
    if (!started) throw new Error("the suite's server is not started (a skipped engine, or used outside a test)");
    return started;
  };
  return {
    get herald() {
      return server().herald;
    },
    get url() {
      return server().url;
    },
    get graphqlUrl() {
      return server().graphqlUrl;
    },
    get wsUrl() {
      return server().wsUrl;
    },
    close: () => server().close(),
  };
}

/**
 * One Herald for a `describe` running on one of `ENGINES`: started before its tests (unless the
 * engine is skipped here), closed after them with every socket `connect` opened, and its Redis
 * keys deleted. Usable as a `TestServer` once the tests run.
 */
export function useHerald(engine: SuiteEngine, prefix: string, env: Record<string, string> = {}): SuiteServer {
  let started: TestServer | undefined;
  const sockets: WsConnection[] = [];
  beforeAll(async () => {
    if (!engine.skip) started = await startHerald({ redisUrl: engine.redis, prefix, env });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((ws) => ws.dispose()));
    await started?.close();
    if (engine.redis) await deleteKeys(engine.redis, prefix);
  });
  const server = startedLater(() => started);
  return Object.assign(server, {
    connect(connectionParams?: Record<string, unknown>) {
      const ws = connectWs(server, connectionParams);
      sockets.push(ws);
      return ws;
    },
  });
}

/** `startPair` for a `describe` on one of `ENGINES`, with the hooks and cleanup of `useHerald`. */
export function usePair(engine: SuiteEngine, prefix: string, env: Record<string, string> = {}): { a: TestServer; b: TestServer } {
  let pair: Awaited<ReturnType<typeof startPair>> | undefined;
  beforeAll(async () => {
    if (!engine.skip) pair = await startPair(engine.redis, prefix, env);
  });
  afterAll(async () => {
    await pair?.close();
    if (engine.redis) await deleteKeys(engine.redis, prefix);
  });
  return { a: startedLater(() => pair?.a), b: startedLater(() => pair?.b) };
}

/** A subscription to `channel` on `ws`, once its SUBSCRIBED event arrived. */
export async function subscribed(ws: WsConnection, channel: string, options?: Parameters<typeof subscribeChannel>[2]) {
  const sub = subscribeChannel(ws, channel, options);
  await sub.subscribed;
  return sub;
}

/** How a test request authenticates; `null` sends no credentials. */
export type Auth = { bearer: string } | { basic: [string, string] } | { key: string } | null;

function authHeaders(auth: Auth): Record<string, string> {
  if (!auth) return {};
  if ("bearer" in auth) return { authorization: `Bearer ${auth.bearer}` };
  if ("basic" in auth) return { authorization: `Basic ${Buffer.from(auth.basic.join(":")).toString("base64")}` };
  return { "x-herald-key": auth.key };
}

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
}

/** Runs a typed document over HTTP POST. */
export async function gql<TResult, TVariables>(
  server: { graphqlUrl: string },
  document: { toString(): string; __apiType?: (v: TVariables) => TResult },
  variables: TVariables,
  auth: Auth = { bearer: APP_ONE.secret },
): Promise<GraphQLResponse<TResult>> {
  const response = await fetch(server.graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json", ...authHeaders(auth) },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<TResult>, "status">;
  return { status: response.status, ...body };
}

export type ChannelEventOf = OnChannelSubscription["channel"];

export interface WsConnection {
  client: Client;
  /** The connection_ack payload (holds `socketId`). */
  ack: Promise<Record<string, unknown>>;
  /** Why the socket closed, once it did. */
  closed: Promise<{ code: number; reason: string }>;
  dispose(): Promise<void>;
}

export function connectWs(server: { wsUrl: string }, connectionParams: Record<string, unknown> = { key: APP_ONE.key }): WsConnection {
  let resolveAck!: (payload: Record<string, unknown>) => void;
  let resolveClosed!: (event: { code: number; reason: string }) => void;
  const ack = new Promise<Record<string, unknown>>((r) => (resolveAck = r));
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));
  const client = createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => {},
    on: {
      connected: (_socket, payload) => resolveAck((payload ?? {}) as Record<string, unknown>),
      closed: (event) => {
        const e = event as { code: number; reason: string };
        resolveClosed({ code: e.code, reason: String(e.reason) });
      },
    },
  });
  return { client, ack, closed, dispose: () => client.dispose() as Promise<void> };
}

export interface Collected<T> {
  /** Every event after the first SUBSCRIBED (a later one, with `recovered: false`, announces a loss). */
  events: T[];
  errors: unknown[];
  /** Resolves with the SUBSCRIBED event: from then on nothing published is missed. */
  subscribed: Promise<T>;
  /** Resolves once `count` MESSAGE events arrived (or rejects after `ms`). */
  messages(count: number, ms?: number): Promise<T[]>;
  completed: Promise<void>;
  unsubscribe(): void;
}

/** Subscribes to a channel over graphql-ws and collects what arrives. */
export interface SubscribeOptions {
  selector?: string;
  since?: { offset: number; epoch: string };
  token?: string;
  auth?: string;
  channelData?: string;
}

export function subscribeChannel(ws: WsConnection, name: string, options: SubscribeOptions = {}): Collected<ChannelEventOf> {
  return subscribeWith<OnChannelSubscription>(ws, OnChannelDocument, name, options);
}

/** `subscribeChannel` with another `channel` subscription document (e.g. OnGripChannel). */
export function subscribeWith<R extends { channel: { kind: string } }>(
  ws: WsConnection,
  document: { toString(): string },
  name: string,
  options: SubscribeOptions = {},
): Collected<R["channel"]> {
  type ChannelEventOf = R["channel"];
  const events: ChannelEventOf[] = [];
  const errors: unknown[] = [];
  const waiters: (() => void)[] = [];
  let resolveSubscribed!: (e: ChannelEventOf) => void;
  let rejectSubscribed!: (e: unknown) => void;
  let resolveCompleted!: () => void;
  const subscribed = new Promise<ChannelEventOf>((res, rej) => ((resolveSubscribed = res), (rejectSubscribed = rej)));
  const completed = new Promise<void>((r) => (resolveCompleted = r));
  subscribed.catch(() => {});
  let started = false;
  const unsubscribe = ws.client.subscribe<R>(
    { query: document.toString(), variables: { name, ...options } },
    {
      next: (result) => {
        if (result.errors) {
          errors.push(...result.errors);
          rejectSubscribed(result.errors);
        }
        const event = result.data?.channel;
        if (!event) return;
        if (event.kind === "SUBSCRIBED" && !started) {
          started = true;
          resolveSubscribed(event);
        } else events.push(event);
        waiters.forEach((w) => w());
      },
      error: (error) => {
        errors.push(error);
        rejectSubscribed(error);
        resolveCompleted();
      },
      complete: () => resolveCompleted(),
    },
  );
  return {
    events,
    errors,
    subscribed,
    completed,
    unsubscribe,
    messages(count, ms = 5_000) {
      return waitFor(() => (events.length >= count ? events.slice(0, count) : undefined), ms, () => `${events.length}/${count} messages on ${name}`, waiters);
    },
  };
}

function waitFor<T>(check: () => T | undefined, ms: number, describe: () => string, waiters: (() => void)[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = check();
    if (done !== undefined) return resolve(done);
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${describe()}`)), ms);
    waiters.push(() => {
      const value = check();
      if (value !== undefined) {
        clearTimeout(timer);
        resolve(value);
      }
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Two instances of one service for a test file: on Redis two servers sharing `prefix`; in
 * memory one server standing for both. `close()` stops them (and nothing else).
 */
export async function startPair(redis: string | undefined, prefix: string, env: Record<string, string> = {}) {
  const a = await startHerald({ redisUrl: redis, prefix, env });
  const b = redis ? await startHerald({ redisUrl: redis, prefix, env }) : a;
  return { a, b, close: async () => void (await Promise.all([a.close(), b === a ? undefined : b.close()])) };
}

/**
 * Asserts the subscription is refused (its `subscribed` rejects); the `extensions` of its first
 * error (its `code`, and details like `limit`).
 */
export async function refusal(sub: Collected<unknown>): Promise<{ code?: string; [detail: string]: unknown } | undefined> {
  await expect(sub.subscribed).rejects.toBeDefined();
  return (sub.errors[0] as { extensions?: { code?: string } } | undefined)?.extensions;
}
