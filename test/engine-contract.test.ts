import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../src/engine/memory.ts";
import { createRedisEngine } from "../src/engine/redis.ts";
import type { ChannelMessage, Engine } from "../src/engine/types.ts";
import { collector, message } from "./helpers/engine.ts";
import { deleteClusterKeys, deleteKeys, redisClusterNodes, redisUrl, uniquePrefix } from "./helpers/redis.ts";

/**
 * The engine contract (src/engine/types.ts), run against every engine. A second engine on the
 * same backing store stands for a second Herald instance (for memory: the same engine).
 */
interface EngineFactory {
  name: string;
  skip: boolean;
  /** Two handles on one backing store (one "service"). */
  create(): Promise<[Engine, Engine]>;
  cleanup(): Promise<void>;
}

const prefix = uniquePrefix("engine-contract");
const factories: EngineFactory[] = [
  {
    name: "memory",
    skip: false,
    async create() {
      const engine = createMemoryEngine();
      return [engine, engine];
    },
    async cleanup() {},
  },
  {
    name: "redis",
    skip: !redisUrl,
    async create() {
      const options = { url: redisUrl!, prefix, heartbeatMs: 200, instanceTtlMs: 1_000 };
      return [await createRedisEngine(options), await createRedisEngine(options)];
    },
    cleanup: () => deleteKeys(redisUrl!, prefix),
  },
  {
    name: "redis cluster",
    skip: !redisClusterNodes,
    async create() {
      const options = { cluster: { nodes: redisClusterNodes! }, prefix, heartbeatMs: 200, instanceTtlMs: 1_000 };
      return [await createRedisEngine(options), await createRedisEngine(options)];
    },
    cleanup: () => deleteClusterKeys(redisClusterNodes!, prefix),
  },
];


const settle = (engine: Engine) => new Promise((r) => setTimeout(r, engine.kind === "redis" ? 100 : 0));

describe.each(factories)("engine contract: $name", (factory) => {
  let a: Engine;
  let b: Engine;
  beforeEach(async (ctx) => {
    if (factory.skip) ctx.skip();
    [a, b] = await factory.create();
  });
  afterEach(async () => {
    await a?.close();
    if (b !== a) await b?.close();
  });
  afterAll(() => (factory.skip ? undefined : factory.cleanup()));

  it("delivers in publish order, without loss, to subscribers on every instance", async () => {
    const onA = collector();
    const onB = collector();
    await a.subscribe("app", "orders", onA.listener);
    await b.subscribe("app", "orders", onB.listener);
    const batch = Array.from({ length: 50 }, (_, i) => message("orders", i));
    await b.publish("app", batch.slice(0, 25));
    for (const m of batch.slice(25)) await b.publish("app", [m]);
    for (const c of [onA, onB]) {
      const got = await c.until(50);
      expect(got.map((m) => (m.data as { n: number }).n)).toEqual(batch.map((_, i) => i));
    }
    await settle(a);
    expect(onA.received).toHaveLength(50); // exactly once
  });

  it("loses nothing published right after subscribe resolves", async () => {
    for (let round = 0; round < 10; round++) {
      const c = collector();
      const channel = `race-${round}`;
      await a.subscribe("app", channel, c.listener);
      await b.publish("app", [message(channel, round)]);
      await c.until(1);
    }
  });

  it("stores the statuses given with a publish, readable on every instance by the time a subscriber has the message", async () => {
    for (const history of [true, false]) {
      const c = collector();
      const channel = `status-${history}`;
      await a.subscribe("app", channel, c.listener);
      const records = [
        { id: `m1-${history}`, status: "PUBLISHED" as const, channels: [channel], publishedAt: "2026-01-01T00:00:00.000Z", runs: 1 },
        { id: `m2-${history}`, status: "PUBLISHED" as const, channels: [channel, "other"], runs: 1 },
      ];
      await b.publish("app", [message(channel, 1)], { history, statuses: { records, ttlSeconds: 60 } });
      await c.until(1);
      for (const record of records) expect(await a.getMessageStatus("app", record.id)).toEqual(record);
      expect(await a.getMessageStatus("other-app", records[0]!.id)).toBeUndefined();
    }
  });

  it("forgets a status once its ttlSeconds have passed", async () => {
    const record = { id: "short-lived", status: "PUBLISHED" as const, channels: ["ttl"], runs: 1 };
    await b.publish("app", [message("ttl", 1)], { statuses: { records: [record], ttlSeconds: 1 } });
    expect(await a.getMessageStatus("app", record.id)).toEqual(record);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await a.getMessageStatus("app", record.id)).toBeUndefined();
  });

  it("keeps data as given: strings stay strings, headers and fields survive", async () => {
    const c = collector();
    await a.subscribe("app", "shape", c.listener);
    const sent = message("shape", 0, { data: '{"not":"parsed"}', headers: { city: "Tokyo" }, publisherId: "p1", excludeSocketId: "1.2" });
    await b.publish("app", [sent]);
    const [got] = await c.until(1);
    expect(got).toEqual({ ...sent, offset: 1, epoch: got!.epoch }); // the engine adds the position
  });

  it("stops delivering after close(), which is idempotent", async () => {
    const kept = collector();
    const dropped = collector();
    await a.subscribe("app", "news", kept.listener);
    const subscription = await a.subscribe("app", "news", dropped.listener);
    await subscription.close();
    await subscription.close();
    await b.publish("app", [message("news", 1)]);
    await kept.until(1);
    await settle(a);
    expect(dropped.received).toHaveLength(0);
    expect((await b.channelCounts("app", "news")).subscriptionCount).toBe(1);
  });

  it("isolates apps: same channel name, different app, nothing crosses", async () => {
    const one = collector();
    const two = collector();
    await a.subscribe("one", "shared", one.listener);
    await a.subscribe("two", "shared", two.listener);
    await b.publish("one", [message("shared", 1)]);
    await one.until(1);
    await settle(a);
    expect(two.received).toHaveLength(0);
    expect((await b.channelCounts("two", "shared")).subscriptionCount).toBe(1);
    expect((await b.occupiedChannels("three", "", 100))).toEqual([]);
    await b.publish("one", [], { statuses: { records: [{ id: "x", status: "PUBLISHED", channels: ["shared"], runs: 1 }], ttlSeconds: 60 } });
    expect(await b.getMessageStatus("two", "x")).toBeUndefined();
    expect((await a.getMessageStatus("one", "x"))?.status).toBe("PUBLISHED");
  });

  it("keeps counting a subscription made while another one of the channel closes (a page reload)", async () => {
    for (let round = 0; round < 5; round++) {
      const first = await a.subscribe("app", `reload-${round}`, () => {});
      const closing = first.close();
      // Let the close's uncount go out (auto-pipelined writes leave on the next check phase).
      for (let i = 0; i < round; i++) await new Promise((resolve) => setImmediate(resolve));
      const second = await a.subscribe("app", `reload-${round}`, () => {});
      await closing;
      expect((await b.channelCounts("app", `reload-${round}`)).subscriptionCount).toBe(1);
      await second.close();
    }
  });

  it("counts subscriptions across instances and lists occupied channels by prefix", async () => {
    const s1 = await a.subscribe("app", "room-1", () => {});
    await b.subscribe("app", "room-1", () => {});
    await b.subscribe("app", "room-2", () => {});
    await a.subscribe("app", "other", () => {});
    expect((await a.channelCounts("app", "room-1")).subscriptionCount).toBe(2);
    expect(await b.occupiedChannels("app", "room-", 100)).toEqual([
      { name: "room-1", subscriptionCount: 2 },
      { name: "room-2", subscriptionCount: 1 },
    ]);
    expect(await b.occupiedChannels("app", "room-", 1)).toHaveLength(1);
    await s1.close();
    expect((await b.channelCounts("app", "room-1")).subscriptionCount).toBe(1);
    expect((await b.channelCounts("app", "empty")).subscriptionCount).toBe(0);
  });

  it("uncounts every subscription of an instance that closes", async (ctx) => {
    if (a === b) ctx.skip(); // one memory engine is one instance
    await a.subscribe("app", "leaving", () => {});
    await b.subscribe("app", "leaving", () => {});
    await a.close();
    expect((await b.channelCounts("app", "leaving")).subscriptionCount).toBe(1);
  });

  it("reports the members an instance still had as gone when it closes", async (ctx) => {
    if (a === b) ctx.skip(); // one memory engine is one instance: its members go with it
    const gone: string[] = [];
    a.presence.onExpired((_appId, channel, members) => gone.push(...members.map((m) => `${channel}:${m.userId}`)));
    await a.presence.join("app", "presence-closing", "1.1", { userId: "ada", info: null }, 10);
    await b.presence.join("app", "presence-closing", "2.1", { userId: "bob", info: null }, 10);
    await a.close();
    expect(gone).toEqual(["presence-closing:ada"]);
    expect((await b.presence.members("app", "presence-closing")).map((m) => m.userId)).toEqual(["bob"]);
  });

  it("answers ping", async () => {
    await expect(a.ping()).resolves.toBeUndefined();
  });
});

describe("memory engine: message statuses are bounded by count", () => {
  // Issue 20, finding 11: a status per message for a day filled the heap at a steady rate.
  const store = (engine: Engine, appId: string, id: string) =>
    engine.publish(appId, [], { statuses: { records: [{ id, status: "PUBLISHED", channels: ["c"], runs: 1 }], ttlSeconds: 3_600 }, history: false });
  const kept = async (engine: Engine, ids: [string, string][]) =>
    (await Promise.all(ids.map(async ([appId, id]) => ((await engine.getMessageStatus(appId, id)) ? `${appId}/${id}` : undefined)))).filter(Boolean);

  it("forgets the oldest stored first, across apps, long before the TTL, and answers the newest", async () => {
    const engine = createMemoryEngine({ maxStatuses: 3 });
    const all: [string, string][] = [["app", "s1"], ["other", "s2"], ["app", "s3"], ["app", "s4"], ["other", "s5"]];
    for (const [appId, id] of all) await store(engine, appId, id);
    expect(await kept(engine, all)).toEqual(["app/s3", "app/s4", "other/s5"]);
    // Stored again, a status counts as the newest: the next one pushes out s4, not s3.
    await store(engine, "app", "s3");
    await store(engine, "app", "s6");
    expect(await kept(engine, [...all, ["app", "s6"]])).toEqual(["app/s3", "other/s5", "app/s6"]);
    await engine.close();
  });
});
