import { spawn } from "node:child_process";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createRedisEngine } from "../src/engine/redis.ts";
import { PublishDocument } from "./generated/graphql.ts";
import { TEST_APPS, connectWs, gql, sleep, startHerald, subscribeChannel, type TestServer } from "./helpers/herald.ts";
import { freePort } from "./helpers/net.ts";
import { runHeraldExpectingExit, spawnHerald } from "./helpers/process.ts";
import { deleteKeys, redisUrl, uniquePrefix } from "./helpers/redis.ts";

describe("operational endpoints and GraphiQL", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startHerald();
  });
  afterAll(() => server.close());

  it("serves /healthz and /readyz", async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", engine: "memory" });
  });

  it("serves GraphiQL at GET /graphql to a browser", async () => {
    const response = await fetch(server.graphqlUrl, { headers: { accept: "text/html" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/text\/html/);
    const html = await response.text();
    expect(html).toMatch(/<title>Herald<\/title>/);
    expect(html).toMatch(/graphiql/i);
  });

  it("serves Prometheus metrics that follow connections, subscriptions, publishes, deliveries and errors", async () => {
    const metrics = async () => (await (await fetch(`${server.url}/metrics`)).text());
    const value = (text: string, series: string) => {
      const escaped = series.replace(/[{}"=,]/g, (c) => `\\${c}`);
      const match = new RegExp(`^${escaped} (\\S+)$`, "m").exec(text);
      return match ? Number(match[1]) : undefined;
    };
    const before = await metrics();
    expect(value(before, 'herald_connections{app="one",transport="ws"}')).toBe(0);
    expect(before).toMatch(/^process_cpu_user_seconds_total /m); // prom-client's default series
    expect(before).toMatch(/^herald_slow_consumer_disconnects_total 0$/m);
    // Every *_total series is a counter, whichever part of Herald counts it.
    const totals = [...before.matchAll(/^# TYPE (herald_\w+_total) (\w+)$/gm)];
    expect(totals.map(([, name]) => name)).toEqual(expect.arrayContaining(["herald_webhook_deliveries_total", "herald_grip_slow_consumer_disconnects_total", "herald_pusher_slow_consumer_disconnects_total"]));
    expect(totals.filter(([, , type]) => type !== "counter").map(([, name]) => name)).toEqual([]);
    const publishedBefore = value(before, 'herald_publishes_total{app="one",surface="graphql"}') ?? 0;
    const deliveredBefore = value(before, 'herald_deliveries_total{app="one",transport="ws"}') ?? 0;
    const refusedBefore = value(before, 'herald_errors_total{surface="graphql",code="UNAUTHENTICATED"}') ?? 0;

    const ws = connectWs(server);
    await ws.ack;
    const sub = subscribeChannel(ws, "metered");
    await sub.subscribed;
    for (let i = 0; i < 3; i++) await gql(server, PublishDocument, { input: { channels: ["metered"], data: i } });
    await sub.messages(3);
    await gql(server, PublishDocument, { input: { channels: ["metered"] } }, null); // refused: no credentials
    const after = await metrics();
    expect(value(after, 'herald_connections{app="one",transport="ws"}')).toBe(1);
    expect(value(after, 'herald_subscriptions{app="one",transport="ws"}')).toBe(1);
    expect(value(after, 'herald_publishes_total{app="one",surface="graphql"}')).toBe(publishedBefore + 3);
    expect(value(after, 'herald_deliveries_total{app="one",transport="ws"}')).toBe(deliveredBefore + 3);
    expect(value(after, 'herald_errors_total{surface="graphql",code="UNAUTHENTICATED"}')).toBe(refusedBefore + 1);
    // The first delivery of each 64 is timed.
    expect(value(after, 'herald_publish_to_delivery_seconds_count{transport="ws"}')).toBeGreaterThanOrEqual(1);
    await ws.dispose();
  });

  it("answers 404 for unknown routes", async () => {
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });
});

describe("readiness follows the engine", () => {
  it("turns /readyz to 503 when Redis goes away", async (ctx) => {
    const port = await freePort();
    const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    const spawned = await new Promise<boolean>((resolve) => {
      redis.once("error", () => resolve(false));
      redis.once("spawn", () => resolve(true));
    });
    if (!spawned) {
      // No redis-server binary here; CI must have one (.ci/run installs it when it starts one).
      expect(process.env.CI, "redis-server is needed for this test in CI").not.toBe("true");
      ctx.skip();
    }
    try {
      const url = `redis://127.0.0.1:${port}`;
      let engine;
      for (let i = 0; i < 50 && !engine; i++) {
        engine = await createRedisEngine({ url, onError: () => {} }).catch(() => new Promise((r) => setTimeout(r, 100)).then(() => undefined));
      }
      const server = await startHerald({ engine: engine! });
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      redis.kill("SIGKILL");
      await new Promise((r) => redis.once("exit", r));
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ engine: "redis" });
      // What a backend sees meanwhile: 503 ENGINE_UNAVAILABLE, as the README's error table says.
      const startedAt = Date.now();
      const published = await gql(server, PublishDocument, { input: { channels: ["while-down"] } });
      expect(published.errors?.[0]?.extensions?.code).toBe("ENGINE_UNAVAILABLE");
      expect(published.status).toBe(503);
      expect(Date.now() - startedAt).toBeLessThan(10_000);
      // Publishes queued behind one another all fail together, not one batch per reconnect cycle.
      const settledAt: number[] = [];
      const down = Array.from({ length: 200 }, (_, i) =>
        engine!
          .publish("app", [{ id: `down-${i}`, channel: "while-down", event: "e", data: i, headers: {}, publishedAt: new Date().toISOString() }])
          .then(
            () => "published",
            (error: { code?: string }) => error.code,
          )
          .finally(() => settledAt.push(Date.now())),
      );
      expect(new Set(await Promise.all(down))).toEqual(new Set(["ENGINE_UNAVAILABLE"]));
      expect(Math.max(...settledAt) - Math.min(...settledAt)).toBeLessThan(1_500);
      await server.close();
      await engine!.close().catch(() => {});
    } finally {
      redis.kill("SIGKILL");
    }
  });
});

describe("the process", () => {
  it("exits non-zero naming the variable when a setting is invalid", async () => {
    const port = await runHeraldExpectingExit({ PORT: "not-a-port" });
    expect(port.code).not.toBe(0);
    expect(port.code).toBe(2);
    expect(port.output).toMatch(/PORT/);
    const apps = await runHeraldExpectingExit({ HERALD_APPS: "[{]" });
    expect(apps.code).not.toBe(0);
    expect(apps.code).toBe(2);
    expect(apps.output).toMatch(/HERALD_APPS: not valid JSON/);
    const limit = await runHeraldExpectingExit({ HERALD_MAX_BATCH_SIZE: "-1" });
    expect(limit.output).toMatch(/HERALD_MAX_BATCH_SIZE/);
    expect(limit.code).toBe(2);
  });

  it("refuses to start in production without configured apps", async () => {
    const result = await runHeraldExpectingExit({ NODE_ENV: "production", HERALD_APPS: "" });
    expect(result.code).not.toBe(0);
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/HERALD_APPS: no apps configured/);
  });

  it("exits 1 naming the port when it is already taken", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const result = await runHeraldExpectingExit({ PORT: String(port), HOST: "127.0.0.1" });
      expect(result.code).toBe(1);
      expect(result.output).toContain(`herald: port ${port} on 127.0.0.1 is already in use`);
      expect(result.output).not.toMatch(/\n\s+at /); // a sentence, not a stack trace
    } finally {
      taken.close();
    }
  });

  it("starts with the development app and prints GraphiQL's address and the credentials", async () => {
    const herald = await spawnHerald({ HERALD_APPS: "" });
    try {
      expect(herald.output()).toMatch(/GraphiQL at http:\/\/127\.0\.0\.1:\d+\/graphql/);
      expect(herald.output()).toMatch(/"key":"herald-dev-key"/);
    } finally {
      herald.child.kill("SIGTERM");
    }
    expect(await herald.exited).toBe(0);
  });

  it("drains on SIGTERM: subscriptions complete, sockets close with 1001, exit 0", async () => {
    const herald = await spawnHerald({ HERALD_APPS: JSON.stringify(TEST_APPS) });
    onTestFinished(() => void herald.child.kill("SIGKILL"));
    const server = { graphqlUrl: `${herald.url}/graphql`, wsUrl: `${herald.url.replace("http", "ws")}/graphql` };
    const ws = connectWs(server);
    const sub = subscribeChannel(ws, "draining");
    await sub.subscribed;
    await gql(server, PublishDocument, { input: { channels: ["draining"] } });
    await sub.messages(1);
    herald.child.kill("SIGTERM");
    const closed = await ws.closed;
    expect(closed.code).toBe(1001);
    expect(await herald.exited).toBe(0);
    expect(herald.output()).toMatch(/"msg":"stopped"/);
    await ws.dispose();
  });

  it("exits at once on a second signal while a request keeps the drain waiting", async () => {
    const herald = await spawnHerald({ HERALD_APPS: JSON.stringify(TEST_APPS), HERALD_SHUTDOWN_TIMEOUT_MS: "60000" });
    onTestFinished(() => void herald.child.kill("SIGKILL"));
    // A request whose body never finishes stays in flight.
    const { port } = new URL(herald.url);
    const socket = connect(Number(port), "127.0.0.1");
    onTestFinished(() => void socket.destroy());
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
    await sleep(100);
    herald.child.kill("SIGTERM");
    await sleep(300);
    expect(herald.child.exitCode).toBeNull(); // still draining
    const startedAt = Date.now();
    herald.child.kill("SIGTERM");
    expect(await herald.exited).toBe(1);
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(herald.output()).toMatch(/second signal while draining/);
  });
});

describe.skipIf(!redisUrl)("the process, when Redis stops answering", () => {
  it("exits 1 once the drain has taken HERALD_SHUTDOWN_TIMEOUT_MS + 5 s, rather than hang", async () => {
    const proxy = await freezableProxy(new URL(redisUrl!));
    onTestFinished(() => proxy.close());
    const prefix = uniquePrefix("drain-timer");
    onTestFinished(() => deleteKeys(redisUrl!, prefix));
    const herald = await spawnHerald({
      HERALD_APPS: JSON.stringify(TEST_APPS),
      REDIS_URL: proxy.url,
      HERALD_REDIS_PREFIX: prefix,
      HERALD_SHUTDOWN_TIMEOUT_MS: "100",
    });
    onTestFinished(() => void herald.child.kill("SIGKILL"));
    // Connections stay open but nothing comes back: closing the engine waits forever.
    proxy.freeze();
    const startedAt = Date.now();
    herald.child.kill("SIGTERM");
    await sleep(1_000);
    expect(herald.child.exitCode).toBeNull(); // still draining
    expect(await herald.exited).toBe(1);
    const took = Date.now() - startedAt;
    expect(took).toBeGreaterThanOrEqual(5_000);
    expect(took).toBeLessThan(9_000);
    expect(herald.output()).toMatch(/drain did not finish in time/);
  }, 20_000);
});

/** A TCP proxy to `target` that can stop passing bytes while keeping every connection open. */
async function freezableProxy(target: URL) {
  let frozen = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on("data", (chunk) => void (frozen || to.write(chunk)));
      from.on("error", () => to.destroy());
      from.on("close", () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}${target.pathname}`,
    freeze: () => void (frozen = true),
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

