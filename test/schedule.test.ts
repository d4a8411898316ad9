import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CancelScheduledDocument, ScheduleDocument, ScheduleStatusDocument, type ScheduleInput } from "./generated/graphql.ts";
import { APP_ONE, APP_TWO, connectWs, gql, sleep, startHerald, subscribeChannel, type TestServer, useHerald } from "./helpers/herald.ts";
import { deleteBackendKeys, uniquePrefix, ENGINES, REDIS_BACKENDS } from "./helpers/redis.ts";

/**
 * Scheduled and repeating publish over GraphQL, delivered to graphql-ws subscribers: on each
 * engine, then several instances on one Redis and on a Redis Cluster (exactly once, restarts,
 * cancel racing a run).
 */
const prefix = uniquePrefix("schedule");

/** A moment `ms` from now, as the API takes it. */
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
let counter = 0;
const uniqueChannel = (name: string) => `${name}-${++counter}`;

const schedule = (server: { graphqlUrl: string }, input: ScheduleInput, auth?: Parameters<typeof gql>[3]) =>
  gql(server, ScheduleDocument, { input }, auth);
const statusOf = async (server: { graphqlUrl: string }, id: string, auth?: Parameters<typeof gql>[3]) =>
  (await gql(server, ScheduleStatusDocument, { id }, auth)).data!.messageStatus!;
const cancel = (server: { graphqlUrl: string }, id: string, auth?: Parameters<typeof gql>[3]) => gql(server, CancelScheduledDocument, { id }, auth);

async function until<T>(check: () => Promise<T | undefined>, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(25);
  }
}

// Concurrent: each test has its own channels and ids, and waiting on the clock is most of the time.
describe.concurrent.each(ENGINES)("scheduled publish over GraphQL ($name engine)", ({ redis, skip }) => {
  const server = useHerald({ redis, skip }, prefix);

  it.skipIf(skip)("delivers a scheduled message at publishAt, no more than 1 s late, and reports its status", async ({ expect }) => {
    const channel = uniqueChannel("later");
    const ws = connectWs(server);
    const sub = subscribeChannel(ws, channel);
    await sub.subscribed;
    // Far enough ahead that its status is still SCHEDULED when read back on a loaded machine.
    const publishAt = inMs(2_000);
    const result = await schedule(server, { channels: [channel], event: "reminder", data: { n: 1 }, headers: { kind: "r" }, publisherId: "cron", publishAt });
    expect(result.errors).toBeUndefined();
    const scheduled = result.data!.schedule;
    expect(scheduled).toMatchObject({ status: "SCHEDULED", channels: [channel], runs: 0, nextRunAt: publishAt, publishedAt: null, repeatEvery: null });
    expect(await statusOf(server, scheduled.id)).toMatchObject({ status: "SCHEDULED", nextRunAt: publishAt });

    const [event] = await sub.messages(1, 5_000);
    expect(event).toMatchObject({ kind: "MESSAGE", id: scheduled.id, channel, event: "reminder", data: { n: 1 }, headers: { kind: "r" }, publisherId: "cron" });
    const late = Date.parse(event!.publishedAt!) - Date.parse(publishAt);
    expect(late).toBeGreaterThanOrEqual(0); // not before its time
    expect(late).toBeLessThan(1_000);

    const status = await until(async () => {
      const s = await statusOf(server, scheduled.id);
      return s.status === "PUBLISHED" ? s : undefined;
    });
    expect(status).toMatchObject({ runs: 1, publishedAt: event!.publishedAt, lastPublishedAt: event!.publishedAt, nextRunAt: null, errorMessage: null });
    await ws.dispose();
  });

  it.skipIf(skip)("repeats every repeatEvery seconds on the cadence of publishAt, until repeatExpiresAt", async ({ expect }) => {
    const channel = uniqueChannel("repeat");
    const ws = connectWs(server);
    const sub = subscribeChannel(ws, channel);
    await sub.subscribed;
    const start = Date.now() + 600;
    const publishAt = new Date(start).toISOString();
    const repeatExpiresAt = new Date(start + 2_500).toISOString();
    const { data } = await schedule(server, { channels: [channel], data: "tick", publishAt, repeatEvery: 1, repeatExpiresAt });
    expect(data!.schedule).toMatchObject({ status: "SCHEDULED", repeatEvery: 1, repeatExpiresAt });

    const events = await sub.messages(3, 5_000);
    const offsets = events.map((e) => Date.parse(e.publishedAt!) - start);
    offsets.forEach((offset, k) => {
      expect(offset).toBeGreaterThanOrEqual(k * 1_000);
      expect(offset).toBeLessThan(k * 1_000 + 1_000);
    });
    expect(new Set(events.map((e) => e.id))).toEqual(new Set([data!.schedule.id])); // every run has the schedule's id
    const status = await until(async () => {
      const s = await statusOf(server, data!.schedule.id);
      return s.status === "PUBLISHED" ? s : undefined;
    });
    expect(status).toMatchObject({ runs: 3, nextRunAt: null, publishedAt: events[0]!.publishedAt, lastPublishedAt: events[2]!.publishedAt });
    await sleep(1_200); // the run at start + 3 s would come after repeatExpiresAt
    expect(sub.events).toHaveLength(3);
    await ws.dispose();
  });

  it.skipIf(skip)("cancels a schedule: it never fires, and cancelling again is NOT_FOUND", async ({ expect }) => {
    const channel = uniqueChannel("cancel");
    const ws = connectWs(server);
    const sub = subscribeChannel(ws, channel);
    await sub.subscribed;
    // Far enough ahead that a loaded machine still cancels before it is due.
    const { data } = await schedule(server, { channels: [channel], publishAt: inMs(1_500) });
    const id = data!.schedule.id;
    const cancelled = await cancel(server, id);
    expect(cancelled.data!.cancelScheduled).toMatchObject({ id, status: "CANCELLED", runs: 0, nextRunAt: null });
    expect(await statusOf(server, id)).toMatchObject({ status: "CANCELLED" });
    const again = await cancel(server, id);
    expect(again.errors![0]!.extensions).toMatchObject({ code: "NOT_FOUND", status: "CANCELLED" });
    expect(again.errors![0]!.message).toMatch(/already cancelled/);
    expect((await cancel(server, "no-such-schedule")).errors![0]!.extensions!.code).toBe("NOT_FOUND");
    await sleep(1_900);
    expect(sub.events).toHaveLength(0);
    await ws.dispose();
  });

  it.skipIf(skip)("stops a repeating schedule between runs, keeping the count of runs published", async ({ expect }) => {
    const channel = uniqueChannel("stop");
    const ws = connectWs(server);
    const sub = subscribeChannel(ws, channel);
    await sub.subscribed;
    const { data } = await schedule(server, { channels: [channel], publishAt: inMs(500), repeatEvery: 1 });
    await sub.messages(2, 4_000);
    const { data: cancelled } = await cancel(server, data!.schedule.id);
    expect(cancelled!.cancelScheduled).toMatchObject({ status: "CANCELLED", runs: 2, nextRunAt: null });
    await sleep(1_300);
    expect(sub.events).toHaveLength(2);
    await ws.dispose();
  });

  it.skipIf(skip)("treats a caller-supplied id as an idempotency key: scheduling it again returns the first schedule", async ({ expect }) => {
    const channel = uniqueChannel("idem");
    const ws = connectWs(server);
    const sub = subscribeChannel(ws, channel);
    await sub.subscribed;
    const id = `job-${counter}`;
    // Far enough ahead that the second is still in the future on a loaded machine.
    const first = await schedule(server, { id, channels: [channel], data: 1, publishAt: inMs(2_000) });
    const second = await schedule(server, { id, channels: [channel], data: 2, publishAt: inMs(1_800) });
    expect(second.data!.schedule).toEqual(first.data!.schedule);
    await sub.messages(1);
    await sleep(500);
    expect(sub.events.map((e) => e.data)).toEqual([1]);
    await ws.dispose();
  });

  it.skipIf(skip)("filters scheduled messages with subscribers' header selectors", async ({ expect }) => {
    const channel = uniqueChannel("weather");
    const ws = connectWs(server);
    const hot = subscribeChannel(ws, channel, { selector: "city = 'Tokyo' AND temperature > 30" });
    const all = subscribeChannel(ws, channel);
    await Promise.all([hot.subscribed, all.subscribed]);
    const publishAt = inMs(600);
    await schedule(server, { channels: [channel], data: "mild", headers: { city: "Tokyo", temperature: "21" }, publishAt });
    await schedule(server, { channels: [channel], data: "hot", headers: { city: "Tokyo", temperature: "35" }, publishAt });
    await all.messages(2);
    await sleep(100);
    expect(hot.events.map((e) => e.data)).toEqual(["hot"]);
    await ws.dispose();
  });

  it.skipIf(skip)("keeps each app's schedules to itself", async ({ expect }) => {
    const { data } = await schedule(server, { channels: [uniqueChannel("private")], publishAt: inMs(60_000) });
    const id = data!.schedule.id;
    const asTwo = { bearer: APP_TWO.secret };
    expect(await statusOf(server, id, asTwo)).toMatchObject({ status: "UNKNOWN" });
    expect((await cancel(server, id, asTwo)).errors![0]!.extensions!.code).toBe("NOT_FOUND");
    expect(await statusOf(server, id)).toMatchObject({ status: "SCHEDULED" });
    await cancel(server, id);
  });

  describe("rejects bad schedules with a named error, storing nothing", () => {
    const cases: { name: string; input: () => Partial<ScheduleInput>; code: string; message: RegExp }[] = [
      { name: "publishAt in the past", input: () => ({ publishAt: inMs(-5_000) }), code: "INVALID_PUBLISH_AT", message: /in the past/ },
      { name: "repeatEvery of 0", input: () => ({ publishAt: inMs(5_000), repeatEvery: 0 }), code: "INVALID_REPEAT_EVERY", message: /at least|from 1/ },
      { name: "negative repeatEvery", input: () => ({ publishAt: inMs(5_000), repeatEvery: -3 }), code: "INVALID_REPEAT_EVERY", message: /whole number of seconds/ },
      {
        name: "repeatExpiresAt before publishAt",
        input: () => ({ publishAt: inMs(5_000), repeatEvery: 1, repeatExpiresAt: inMs(4_000) }),
        code: "INVALID_REPEAT_EXPIRES_AT",
        message: /before publishAt/,
      },
      {
        name: "repeatExpiresAt without repeatEvery",
        input: () => ({ publishAt: inMs(5_000), repeatExpiresAt: inMs(9_000) }),
        code: "INVALID_REPEAT_EXPIRES_AT",
        message: /needs repeatEvery/,
      },
      { name: "a bad channel name", input: () => ({ channels: ["no spaces"], publishAt: inMs(5_000) }), code: "INVALID_CHANNEL_NAME", message: /channel name/ },
      { name: "headers that are not strings", input: () => ({ headers: { n: 1 }, publishAt: inMs(5_000) }), code: "INVALID_HEADERS", message: /must be a string/ },
    ];
    it.for(cases)("$name → $code", async ({ input, code, message }, ctx) => {
      if (skip) ctx.skip();
      const { expect } = ctx;
      const id = `bad-${++counter}`;
      const result = await schedule(server, { id, channels: ["fine"], ...input() } as ScheduleInput);
      expect(result.data).toBeNull();
      expect(result.errors![0]!.extensions!.code).toBe(code);
      expect(result.errors![0]!.message).toMatch(message);
      expect(await statusOf(server, id)).toMatchObject({ status: "UNKNOWN" });
    });

    it.skipIf(skip)("publishAt that is not a time is refused by the DateTime scalar", async ({ expect }) => {
      const result = await schedule(server, { channels: ["fine"], publishAt: "next tuesday" });
      expect(result.errors![0]!.message).toMatch(/date-time/);
      expect(result.data ?? null).toBeNull();
    });

    it.skipIf(skip)("without the app secret → UNAUTHENTICATED", async ({ expect }) => {
      const byKey = await schedule(server, { channels: ["fine"], publishAt: inMs(5_000) }, { key: APP_ONE.key });
      expect(byKey.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
      const none = await cancel(server, "whatever", null);
      expect(none.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
    });
  });
});

describe("schedule limits", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startHerald({ env: { HERALD_MAX_SCHEDULES_PER_APP: "2", HERALD_SCHEDULE_MIN_REPEAT_SECONDS: "5" } });
  });
  afterAll(() => server?.close());

  it("refuses more active schedules than HERALD_MAX_SCHEDULES_PER_APP, per app → TOO_MANY_SCHEDULES", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push((await schedule(server, { channels: ["c"], publishAt: inMs(60_000) })).data!.schedule.id);
    const third = await schedule(server, { id: "third", channels: ["c"], publishAt: inMs(60_000) });
    expect(third.errors![0]!.extensions).toMatchObject({ code: "TOO_MANY_SCHEDULES", limit: 2 });
    expect(await statusOf(server, "third")).toMatchObject({ status: "UNKNOWN" });
    // Another app has its own allowance; a cancelled schedule frees a slot.
    expect((await schedule(server, { channels: ["c"], publishAt: inMs(60_000) }, { bearer: APP_TWO.secret })).errors).toBeUndefined();
    await cancel(server, ids[0]!);
    expect((await schedule(server, { channels: ["c"], publishAt: inMs(60_000) })).errors).toBeUndefined();
  });

  it("refuses repeatEvery below HERALD_SCHEDULE_MIN_REPEAT_SECONDS → INVALID_REPEAT_EVERY", async () => {
    const result = await schedule(server, { channels: ["c"], publishAt: inMs(60_000), repeatEvery: 4 });
    expect(result.errors![0]!.extensions).toMatchObject({ code: "INVALID_REPEAT_EVERY", minimum: 5 });
  });
});

describe.each(REDIS_BACKENDS)("scheduled publish with several instances on $name", (backend) => {
  const sharedPrefix = uniquePrefix("schedule-multi");
  const start = (env: Record<string, string> = {}) => startHerald({ prefix: sharedPrefix, env: { ...backend.env(), ...env } });
  beforeEach((ctx) => {
    if (backend.skip) ctx.skip();
  });
  afterAll(() => (backend.skip ? undefined : deleteBackendKeys(backend.env(), sharedPrefix)));

  it("publishes each of 50 schedules due in the same second exactly once across three instances", async () => {
    const instances = await Promise.all([start(), start(), start()]);
    const [a, b, c] = instances as [TestServer, TestServer, TestServer];
    const channel = uniqueChannel("burst");
    const onA = connectWs(a);
    const onC = connectWs(c);
    const subA = subscribeChannel(onA, channel);
    const subC = subscribeChannel(onC, channel);
    await Promise.all([subA.subscribed, subC.subscribed]);

    const second = Math.ceil((Date.now() + 1_000) / 1_000) * 1_000; // the next whole second at least 1 s away
    const ids = await Promise.all(
      [...Array(50).keys()].map(async (i) => {
        const publishAt = new Date(second + (i * 17) % 1_000).toISOString();
        const { data, errors } = await schedule(instances[i % 3]!, { channels: [channel], data: i, publishAt });
        expect(errors).toBeUndefined();
        return data!.schedule.id;
      }),
    );
    for (const sub of [subA, subC]) await sub.messages(50, 5_000);
    await sleep(800); // a duplicate would have arrived by now
    for (const sub of [subA, subC]) {
      expect(sub.events).toHaveLength(50);
      expect(new Set(sub.events.map((e) => e.id))).toEqual(new Set(ids));
      for (const event of sub.events) expect(Date.parse(event.publishedAt!) - second).toBeLessThan(2_000);
    }
    const statuses = await Promise.all(ids.map((id, i) => statusOf(instances[(i + 1) % 3]!, id)));
    expect(statuses.every((s) => s.status === "PUBLISHED" && s.runs === 1)).toBe(true);
    await Promise.all([onA.dispose(), onC.dispose()]);
    await Promise.all(instances.map((i) => i.close()));
  });

  it("survives every instance stopping: schedules fire after a restart, missed runs collapse into one catch-up", async () => {
    // The subscriber's instance polls too rarely to run anything during this test: it stands
    // for the clients, while the instances that run schedules stop and start.
    const watcher = await start({ HERALD_SCHEDULER_POLL_MS: "60000" });
    const ws = connectWs(watcher);
    const channel = uniqueChannel("durable");
    const sub = subscribeChannel(ws, channel);
    await sub.subscribed;

    const first = await Promise.all([start(), start()]);
    const { data: once } = await schedule(first[0]!, { channels: [channel], data: "once", publishAt: inMs(2_500) });
    const repeatStart = Date.now() + 600;
    const { data: repeating } = await schedule(first[1]!, {
      channels: [channel],
      data: "repeat",
      publishAt: new Date(repeatStart).toISOString(),
      repeatEvery: 1,
    });
    await sub.messages(1, 3_000);
    await Promise.all(first.map((i) => i.close())); // nothing runs schedules now
    expect(sub.events.map((e) => e.data)).toEqual(["repeat"]);

    await sleep(3_200); // the one-shot and about three runs of the repeating schedule fall due meanwhile
    expect(sub.events).toHaveLength(1);
    const restartedAt = Date.now();
    const second = await Promise.all([start(), start()]);
    await sub.messages(3, 3_000); // the missed one-shot, one catch-up of the repeating one, …
    const caughtUp = sub.events.slice(1).filter((e) => Date.parse(e.publishedAt!) < restartedAt + 800);
    expect(caughtUp.map((e) => e.data).sort()).toEqual(["once", "repeat"]);
    // … then the repeating schedule is back on its cadence: repeatStart + k seconds.
    await sub.messages(4, 2_500);
    const next = sub.events.filter((e) => e.data === "repeat")[2]!;
    expect(Date.parse(next.publishedAt!) - restartedAt).toBeLessThan(1_800);
    expect((Date.parse(next.publishedAt!) - repeatStart) % 1_000).toBeLessThan(500);
    expect(await statusOf(second[1]!, once!.schedule.id)).toMatchObject({ status: "PUBLISHED", runs: 1 });
    expect(await statusOf(second[0]!, repeating!.schedule.id)).toMatchObject({ status: "SCHEDULED", runs: 3 });
    await cancel(second[1]!, repeating!.schedule.id);
    await ws.dispose();
    await Promise.all([...second, watcher].map((i) => i.close()));
  });

  it("turns FAILED, with errorMessage, when a run's message no longer passes the limits", async () => {
    const before = await start();
    const { data } = await schedule(before, { channels: [uniqueChannel("big")], data: "x".repeat(2_000), publishAt: inMs(600), repeatEvery: 1 });
    await before.close();
    const after = await start({ HERALD_MAX_PAYLOAD_BYTES: "1024" }); // the operator lowered the limit meanwhile
    const status = await until(async () => {
      const s = await statusOf(after, data!.schedule.id);
      return s.status === "FAILED" ? s : undefined;
    }, 3_000);
    expect(status).toMatchObject({ runs: 0, nextRunAt: null, errorMessage: expect.stringMatching(/over the limit of 1024 bytes/) });
    await after.close();
  });

  it("resolves cancel racing a due run: fired once and PUBLISHED, or CANCELLED and never fired", async () => {
    const instances = await Promise.all([start({ HERALD_SCHEDULER_POLL_MS: "20" }), start({ HERALD_SCHEDULER_POLL_MS: "20" }), start()]);
    const channel = uniqueChannel("race");
    const ws = connectWs(instances[0]!);
    const sub = subscribeChannel(ws, channel);
    await sub.subscribed;
    const due = Date.now() + 1_000;
    const ids = await Promise.all(
      [...Array(30).keys()].map(async (i) => (await schedule(instances[i % 3]!, { channels: [channel], data: i, publishAt: new Date(due).toISOString() })).data!.schedule.id),
    );
    await sleep(due - Date.now() - 60);
    // Cancels spread from just before the due time to well after it, from every instance.
    const cancels = await Promise.all(
      ids.map(async (id, i) => {
        await sleep(i * 6);
        const result = await cancel(instances[(i + 2) % 3]!, id);
        return result.errors ? (result.errors[0]!.extensions!.code as string) : result.data!.cancelScheduled.status;
      }),
    );
    await sleep(1_000);
    const fired = sub.events.map((e) => e.id);
    expect(new Set(fired).size).toBe(fired.length); // nothing fired twice
    let won = 0;
    for (const [i, id] of ids.entries()) {
      const status = await statusOf(instances[i % 3]!, id);
      if (cancels[i] === "CANCELLED") {
        won++;
        expect(status.status).toBe("CANCELLED");
        expect(fired).not.toContain(id);
      } else {
        expect(cancels[i]).toBe("NOT_FOUND");
        expect(status).toMatchObject({ status: "PUBLISHED", runs: 1 });
        expect(fired).toContain(id);
      }
    }
    expect(won + fired.length).toBe(30);
    await ws.dispose();
    await Promise.all(instances.map((i) => i.close()));
  });
});
