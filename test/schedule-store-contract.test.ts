import { Cluster, Redis } from "ioredis";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemorySchedules } from "../src/engine/memory-schedules.ts";
import { createRedisSchedules } from "../src/engine/redis-schedules.ts";
import type { ClaimedRun, NewSchedule, ScheduleStore } from "../src/engine/schedule-types.ts";
import { sleep } from "./helpers/herald.ts";
import { deleteClusterKeys, deleteKeys, redisClusterNodes, redisUrl, uniquePrefix } from "./helpers/redis.ts";

/**
 * The schedule store contract (src/engine/schedule-types.ts), run against every store. Several
 * handles on one backing store stand for several Herald instances (for memory: the same store).
 */
interface StoreFactory {
  name: string;
  skip: boolean;
  /** Three handles on one backing store (one "service"). */
  create(): Promise<[ScheduleStore, ScheduleStore, ScheduleStore]>;
  /** Handles on the same backing store again, as after a restart (memory has none to offer). */
  reopen?(): Promise<ScheduleStore>;
  cleanup(): Promise<void>;
}

const prefix = uniquePrefix("schedule-store");
const clients: (Redis | Cluster)[] = [];
const redisStore = () => {
  const client = new Redis(redisUrl!, { enableAutoPipelining: true });
  clients.push(client);
  return createRedisSchedules(client, prefix);
};
const clusterStore = () => {
  const client = new Cluster(redisClusterNodes!, { enableAutoPipelining: true });
  clients.push(client);
  return createRedisSchedules(client, prefix);
};
const factories: StoreFactory[] = [
  {
    name: "memory",
    skip: false,
    async create() {
      const store = createMemorySchedules();
      return [store, store, store];
    },
    async cleanup() {},
  },
  {
    name: "redis",
    skip: !redisUrl,
    async create() {
      return [redisStore(), redisStore(), redisStore()];
    },
    async reopen() {
      return redisStore();
    },
    async cleanup() {
      await Promise.all(clients.splice(0).map((c) => c.quit()));
    },
  },
  {
    name: "redis cluster",
    skip: !redisClusterNodes,
    async create() {
      return [clusterStore(), clusterStore(), clusterStore()];
    },
    async reopen() {
      return clusterStore();
    },
    async cleanup() {
      await Promise.all(clients.splice(0).map((c) => c.quit()));
    },
  },
];

afterAll(async () => {
  if (redisUrl) await deleteKeys(redisUrl, prefix);
  if (redisClusterNodes) await deleteClusterKeys(redisClusterNodes, prefix);
});

const RETAIN = 60;
let counter = 0;
/** A fresh app id per test keeps the tests' schedules apart on the shared Redis prefix. */
const freshApp = () => `app${++counter}`;

function oneShot(id: string, publishAt: number, extra: Partial<NewSchedule> = {}): NewSchedule {
  return { id, message: { channels: ["c"], event: "message", data: { id }, headers: {} }, publishAt, ...extra };
}

describe.each(factories)("schedule store contract: $name", (factory) => {
  let a: ScheduleStore;
  let b: ScheduleStore;
  let c: ScheduleStore;
  let app: string;
  const T = 1_900_000_000_000; // a fixed "now" far from the real clock: claims take now explicitly

  beforeEach(async (ctx) => {
    if (factory.skip) ctx.skip();
    [a, b, c] = await factory.create();
    app = freshApp();
  });
  afterEach(async () => {
    await factory.cleanup();
  });

  it("stores a schedule and reads it back from another handle, message intact", async () => {
    const message = { channels: ["x", "y"], event: "tick", data: [[], {}, "", 0, null, { a: [] }], headers: {}, publisherId: "me" };
    expect(await a.add(app, { id: "m1", message, publishAt: T, repeatEveryMs: 1000, repeatExpiresAt: T + 5000 }, 10)).toBe("added");
    const record = await b.get(app, "m1");
    expect(record).toMatchObject({ id: "m1", status: "SCHEDULED", runs: 0, nextRunAt: T, publishAt: T, repeatEveryMs: 1000, repeatExpiresAt: T + 5000 });
    expect(record!.message).toEqual(message);
    expect(await b.activeCount(app)).toBe(1);
    expect(await b.get(app, "other")).toBeUndefined();
  });

  it("keeps a string payload a string", async () => {
    await a.add(app, { ...oneShot("s", T), message: { channels: ["c"], event: "e", data: '{"a":1}', headers: { k: "v" } } }, 10);
    const [run] = await b.claimDue(app, T, 10, RETAIN);
    expect(run!.message.data).toBe('{"a":1}');
    expect(run!.message.headers).toEqual({ k: "v" });
  });

  it("refuses an id the app already has, and changes nothing", async () => {
    await a.add(app, oneShot("dup", T), 10);
    expect(await b.add(app, oneShot("dup", T + 99_000), 10)).toBe("exists");
    expect((await a.get(app, "dup"))!.nextRunAt).toBe(T);
    expect(await a.activeCount(app)).toBe(1);
  });

  it("counts active schedules against the limit atomically, per app", async () => {
    const results = await Promise.all([...Array(10).keys()].map((i) => [a, b, c][i % 3]!.add(app, oneShot(`l${i}`, T), 4)));
    expect(results.filter((r) => r === "added")).toHaveLength(4);
    expect(results.filter((r) => r === "limit")).toHaveLength(6);
    expect(await a.add(freshApp(), oneShot("other-app", T), 4)).toBe("added");
    // A cancelled schedule no longer counts.
    const added = results.findIndex((r) => r === "added");
    await a.cancel(app, `l${added}`, RETAIN);
    expect(await b.activeCount(app)).toBe(3);
    expect(await b.add(app, oneShot("after-cancel", T), 4)).toBe("added");
  });

  it("hands out nothing before the due time, then the run once; the last run's record turns PUBLISHED", async () => {
    await a.add(app, oneShot("once", T), 10);
    expect(await b.claimDue(app, T - 1, 10, RETAIN)).toEqual([]);
    const [run, ...rest] = await b.claimDue(app, T, 10, RETAIN);
    expect(rest).toEqual([]);
    expect(run).toMatchObject({ appId: app, id: "once", dueAt: T, last: true });
    expect(await c.claimDue(app, T + 60_000, 10, RETAIN)).toEqual([]);
    // Claimed, not yet recorded: still SCHEDULED, but no run remains and it no longer counts.
    expect(await a.get(app, "once")).toMatchObject({ status: "SCHEDULED", runs: 0, nextRunAt: undefined });
    expect(await a.activeCount(app)).toBe(0);
    await b.recordRun(app, "once", { ok: true, publishedAt: T + 5 }, RETAIN);
    expect(await a.get(app, "once")).toMatchObject({ status: "PUBLISHED", runs: 1, firstPublishedAt: T + 5, lastPublishedAt: T + 5 });
  });

  it("repeats on the cadence until repeatExpiresAt", async () => {
    await a.add(app, oneShot("rep", T, { repeatEveryMs: 1000, repeatExpiresAt: T + 2500 }), 10);
    const claims: ClaimedRun[] = [];
    for (const at of [T, T + 500, T + 1000, T + 1999, T + 2000, T + 3000, T + 10_000]) {
      const got = await [a, b, c][claims.length % 3]!.claimDue(app, at, 10, RETAIN);
      claims.push(...got);
      for (const run of got) await a.recordRun(app, run.id, { ok: true, publishedAt: at }, RETAIN);
      if (at === T + 1000) expect((await a.get(app, "rep"))!.nextRunAt).toBe(T + 2000);
    }
    expect(claims.map((r) => [r.dueAt - T, r.last])).toEqual([
      [0, false],
      [1000, false],
      [2000, true],
    ]);
    expect(await a.get(app, "rep")).toMatchObject({ status: "PUBLISHED", runs: 3, firstPublishedAt: T, lastPublishedAt: T + 2000, nextRunAt: undefined });
  });

  it("collapses runs missed while nobody claimed into one, then keeps the original cadence", async () => {
    await a.add(app, oneShot("late", T, { repeatEveryMs: 1000 }), 10);
    const first = await b.claimDue(app, T + 5500, 10, RETAIN);
    expect(first.map((r) => r.dueAt)).toEqual([T]);
    expect((await a.get(app, "late"))!.nextRunAt).toBe(T + 6000);
    expect(await c.claimDue(app, T + 5999, 10, RETAIN)).toEqual([]);
    expect((await c.claimDue(app, T + 6000, 10, RETAIN)).map((r) => r.dueAt)).toEqual([T + 6000]);
    // Exactly on a cadence point: the next one is strictly later.
    expect((await c.claimDue(app, T + 8000, 10, RETAIN)).map((r) => r.dueAt)).toEqual([T + 7000]);
    expect((await a.get(app, "late"))!.nextRunAt).toBe(T + 9000);
  });

  it("gives every due run to exactly one of many concurrent claimers", async () => {
    for (let i = 0; i < 50; i++) await a.add(app, oneShot(`burst${i}`, T + (i % 7)), 100);
    const claimers = [a, b, c, a, b, c];
    const results = await Promise.all(claimers.map((store) => store.claimDue(app, T + 10, 20, RETAIN)));
    const again = await Promise.all(claimers.map((store) => store.claimDue(app, T + 10, 100, RETAIN)));
    const ids = [...results, ...again].flat().map((r) => r.id);
    expect(ids).toHaveLength(50);
    expect(new Set(ids).size).toBe(50);
    expect(await a.activeCount(app)).toBe(0);
  });

  it("claims earliest first and at most `limit`", async () => {
    await a.add(app, oneShot("third", T + 3), 10);
    await a.add(app, oneShot("first", T + 1), 10);
    await a.add(app, oneShot("second", T + 2), 10);
    expect((await b.claimDue(app, T + 10, 2, RETAIN)).map((r) => r.id).sort()).toEqual(["first", "second"]);
    expect((await b.claimDue(app, T + 10, 2, RETAIN)).map((r) => r.id)).toEqual(["third"]);
  });

  it("cancels an active schedule once; cancelled schedules are never claimed", async () => {
    await a.add(app, oneShot("cx", T, { repeatEveryMs: 1000 }), 10);
    const first = await b.cancel(app, "cx", RETAIN);
    expect(first.cancelled).toBe(true);
    expect(first.record).toMatchObject({ status: "CANCELLED", runs: 0, nextRunAt: undefined });
    expect(await c.claimDue(app, T + 100_000, 10, RETAIN)).toEqual([]);
    const second = await c.cancel(app, "cx", RETAIN);
    expect(second).toMatchObject({ cancelled: false, record: { status: "CANCELLED" } });
    expect(await a.cancel(app, "never-was", RETAIN)).toEqual({ cancelled: false, record: undefined });
    expect(await a.activeCount(app)).toBe(0);
  });

  it("resolves cancel racing a claim: exactly one wins, every time", async () => {
    for (let i = 0; i < 40; i++) await a.add(app, oneShot(`race${i}`, T), 100);
    const stores = [a, b, c];
    const claims: ClaimedRun[][] = [];
    const cancels = await Promise.all(
      [...Array(40).keys()].map(async (i) => {
        const [claimed, cancel] = await Promise.all([
          stores[i % 3]!.claimDue(app, T, 2, RETAIN),
          stores[(i + 1) % 3]!.cancel(app, `race${i}`, RETAIN),
        ]);
        claims.push(claimed);
        return cancel.cancelled;
      }),
    );
    claims.push(await a.claimDue(app, T, 100, RETAIN)); // whatever neither got
    const claimedIds = claims.flat().map((r) => r.id);
    expect(new Set(claimedIds).size).toBe(claimedIds.length); // no run handed out twice
    for (let i = 0; i < 40; i++) {
      const id = `race${i}`;
      expect(cancels[i] !== claimedIds.includes(id), id).toBe(true); // cancelled xor claimed
      expect((await a.get(app, id))!.status).toBe(cancels[i] ? "CANCELLED" : "SCHEDULED");
    }
  });

  it("refuses to cancel a one-shot whose run was claimed, and finished schedules", async () => {
    await a.add(app, oneShot("claimed", T), 10);
    await b.claimDue(app, T, 10, RETAIN);
    expect((await c.cancel(app, "claimed", RETAIN)).cancelled).toBe(false);
    await b.recordRun(app, "claimed", { ok: true, publishedAt: T }, RETAIN);
    expect(await c.cancel(app, "claimed", RETAIN)).toMatchObject({ cancelled: false, record: { status: "PUBLISHED", runs: 1 } });
  });

  it("counts a run claimed before the cancel, and stays CANCELLED", async () => {
    await a.add(app, oneShot("rc", T, { repeatEveryMs: 1000 }), 10);
    await b.claimDue(app, T, 10, RETAIN);
    expect((await c.cancel(app, "rc", RETAIN)).cancelled).toBe(true);
    await b.recordRun(app, "rc", { ok: true, publishedAt: T + 3 }, RETAIN);
    expect(await a.get(app, "rc")).toMatchObject({ status: "CANCELLED", runs: 1, lastPublishedAt: T + 3, nextRunAt: undefined });
  });

  it("records failures: a repeating schedule goes on, a stopped or last run turns FAILED", async () => {
    await a.add(app, oneShot("goes-on", T, { repeatEveryMs: 1000 }), 10);
    await a.add(app, oneShot("stops", T, { repeatEveryMs: 1000 }), 10);
    await a.add(app, oneShot("last", T), 10);
    await b.claimDue(app, T, 10, RETAIN);
    await b.recordRun(app, "goes-on", { ok: false, errorMessage: "engine down", stop: false }, RETAIN);
    await b.recordRun(app, "stops", { ok: false, errorMessage: "payload too large", stop: true }, RETAIN);
    await b.recordRun(app, "last", { ok: false, errorMessage: "engine down", stop: false }, RETAIN);
    expect(await a.get(app, "goes-on")).toMatchObject({ status: "SCHEDULED", runs: 0, errorMessage: "engine down", nextRunAt: T + 1000 });
    expect(await a.get(app, "stops")).toMatchObject({ status: "FAILED", runs: 0, errorMessage: "payload too large", nextRunAt: undefined });
    expect(await a.get(app, "last")).toMatchObject({ status: "FAILED", runs: 0, errorMessage: "engine down" });
    expect((await c.claimDue(app, T + 5000, 10, RETAIN)).map((r) => r.id)).toEqual(["goes-on"]);
  });

  it("keeps each app's schedules to itself", async () => {
    const other = freshApp();
    await a.add(app, oneShot("mine", T), 10);
    expect(await b.claimDue(other, T, 10, RETAIN)).toEqual([]);
    expect(await b.get(other, "mine")).toBeUndefined();
    expect((await b.cancel(other, "mine", RETAIN)).cancelled).toBe(false);
    expect(await b.activeCount(other)).toBe(0);
    expect(await b.add(other, oneShot("mine", T + 1), 10)).toBe("added");
    expect((await b.claimDue(app, T, 10, RETAIN)).map((r) => [r.appId, r.dueAt])).toEqual([[app, T]]);
  });

  it("drops finished records after retainSeconds, and then frees the id", async () => {
    const now = Date.now();
    await a.add(app, oneShot("short", now), 10);
    await a.add(app, oneShot("gone", now + 60_000), 10);
    await b.claimDue(app, now, 10, 1);
    await b.recordRun(app, "short", { ok: true, publishedAt: now }, 1);
    await b.cancel(app, "gone", 1);
    expect((await a.get(app, "short"))!.status).toBe("PUBLISHED");
    await sleep(1_200);
    expect(await a.get(app, "short")).toBeUndefined();
    expect(await a.get(app, "gone")).toBeUndefined();
    expect(await a.add(app, oneShot("gone", now + 60_000), 10)).toBe("added");
  });

  it("is durable: a store opened later on the same backing store sees every schedule", async (ctx) => {
    if (!factory.reopen) return ctx.skip();
    await a.add(app, oneShot("durable", T, { repeatEveryMs: 2000 }), 10);
    await factory.cleanup(); // every handle gone, as when all instances stop
    const later = await factory.reopen();
    expect(await later.get(app, "durable")).toMatchObject({ status: "SCHEDULED", nextRunAt: T });
    expect((await later.claimDue(app, T, 10, RETAIN)).map((r) => r.id)).toEqual(["durable"]);
  });
});
