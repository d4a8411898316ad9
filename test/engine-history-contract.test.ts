import { randomInt } from "node:crypto";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../src/engine/memory.ts";
import { createRedisEngine } from "../src/engine/redis.ts";
import type { ChannelMessage, Engine, StreamPosition } from "../src/engine/types.ts";
import { collector, message } from "./helpers/engine.ts";
import { deleteClusterKeys, deleteKeys, redisClusterNodes, redisUrl, uniquePrefix } from "./helpers/redis.ts";

/**
 * The history part of the engine contract (src/engine/types.ts): offsets, epochs, bounded
 * history, resume positions and message-id claims, run against every engine. A second engine
 * on the same backing store stands for a second Herald instance (for memory: the same engine).
 */
interface EngineOptions {
  historySize?: number;
  historyTtlSeconds?: number;
}

interface EngineFactory {
  name: string;
  skip: boolean;
  /** Two handles on one backing store (one "service"). */
  create(options?: EngineOptions): Promise<[Engine, Engine]>;
  /** Lets this much time pass for the engines' TTLs: a fake clock for memory, real time for Redis. */
  elapse(seconds: number): Promise<void>;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const prefix = uniquePrefix("engine-history");
let clock = Date.now();
const factories: EngineFactory[] = [
  {
    name: "memory",
    skip: false,
    async create(options = {}) {
      const engine = createMemoryEngine({ ...options, now: () => clock });
      return [engine, engine];
    },
    async elapse(seconds) {
      clock += seconds * 1000;
    },
    async cleanup() {},
  },
  {
    name: "redis",
    skip: !redisUrl,
    async create(options = {}) {
      const all = { url: redisUrl!, prefix, heartbeatMs: 200, instanceTtlMs: 1_000, ...options };
      return [await createRedisEngine(all), await createRedisEngine(all)];
    },
    // Redis expires keys on its own clock, with millisecond precision.
    elapse: (seconds) => sleep(seconds * 1000 + 150),
    cleanup: () => deleteKeys(redisUrl!, prefix),
  },
  {
    name: "redis cluster",
    skip: !redisClusterNodes,
    async create(options = {}) {
      const all = { cluster: { nodes: redisClusterNodes! }, prefix, heartbeatMs: 200, instanceTtlMs: 1_000, ...options };
      return [await createRedisEngine(all), await createRedisEngine(all)];
    },
    elapse: (seconds) => sleep(seconds * 1000 + 150),
    cleanup: () => deleteClusterKeys(redisClusterNodes!, prefix),
  },
];

let counter = 0;
/** A channel name no other test uses (the Redis prefix is shared by the whole file). */
const freshChannel = (name: string) => `${name}-${++counter}`;


const offsets = (messages: readonly ChannelMessage[]) => messages.map((m) => m.offset);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(factories)("engine history contract: $name", (factory) => {
  let engines: Engine[] = [];
  /** Creates the two instances of one service; closed after the test. */
  async function start(options?: EngineOptions): Promise<[Engine, Engine]> {
    const pair = await factory.create(options);
    engines.push(...pair);
    return pair;
  }
  beforeEach((ctx) => {
    if (factory.skip) ctx.skip();
  });
  afterEach(async () => {
    await Promise.all([...new Set(engines)].map((e) => e.close()));
    engines = [];
  });
  afterAll(() => (factory.skip ? undefined : factory.cleanup()));

  it("assigns consecutive offsets, in delivery order, across concurrent publishers on both instances", async () => {
    const [a, b] = await start();
    const channel = freshChannel("orders");
    const onA = collector();
    const onB = collector();
    await a.subscribe("app", channel, onA.listener);
    await b.subscribe("app", channel, onB.listener);
    const fromA = Array.from({ length: 50 }, (_, i) => message(channel, i, { publisherId: "a" }));
    const fromB = Array.from({ length: 50 }, (_, i) => message(channel, i, { publisherId: "b" }));
    await Promise.all([
      (async () => {
        for (const m of fromA) await a.publish("app", [m]);
      })(),
      (async () => {
        for (let i = 0; i < fromB.length; i += 5) await b.publish("app", fromB.slice(i, i + 5));
      })(),
    ]);
    const liveA = await onA.until(100);
    const liveB = await onB.until(100);
    expect(offsets(liveA)).toEqual(range(1, 100));
    expect(liveB).toEqual(liveA); // every instance sees one order
    expect(new Set(liveA.map((m) => m.epoch)).size).toBe(1);
    for (const publisherId of ["a", "b"]) {
      const own = liveA.filter((m) => m.publisherId === publisherId).map((m) => (m.data as { n: number }).n);
      expect(own).toEqual(range(0, 49)); // each publisher's own order kept
    }
    // History holds exactly what was delivered live.
    const history = await a.history("app", channel, { limit: 100 });
    expect(history).toEqual({ messages: liveA, offset: 100, epoch: liveA[0]!.epoch, recoverable: true });
  });

  it("numbers publishes issued at once (not awaited one by one) in call order, per channel and app, with their statuses", async () => {
    // The Redis engine carries concurrent publishes in shared script calls (group commit, at
    // most 64 per call): 300 at once cross several calls and mix channels, apps and statuses.
    const [a] = await start();
    const x = freshChannel("burst-x");
    const y = freshChannel("burst-y");
    const heard = { one: collector(), other: collector(), y: collector() };
    await a.subscribe("app", x, heard.one.listener);
    await a.subscribe("other-app", x, heard.other.listener);
    await a.subscribe("app", y, heard.y.listener);
    const calls = Array.from({ length: 300 }, (_, n) => {
      const app = n % 3 === 0 ? "other-app" : "app";
      const messages = n % 5 === 0 ? [message(x, n), message(y, n)] : [message(x, n)];
      const id = messages[0]!.id;
      const statuses = n % 2 === 0 ? { records: [{ id, status: "PUBLISHED" as const, channels: [x], runs: 1 }], ttlSeconds: 60 } : undefined;
      return { app, messages, id, promise: a.publish(app, messages, statuses ? { statuses } : {}) };
    });
    await Promise.all(calls.map((c) => c.promise));
    const ns = (messages: readonly ChannelMessage[]) => messages.map((m) => (m.data as { n: number }).n);
    for (const [listener, app, channel] of [[heard.one, "app", x], [heard.other, "other-app", x], [heard.y, "app", y]] as const) {
      const expected = calls.filter((c) => c.app === app && c.messages.some((m) => m.channel === channel));
      const live = await listener.until(expected.length);
      expect(ns(live)).toEqual(expected.map((c) => (c.messages[0]!.data as { n: number }).n));
      expect(offsets(live)).toEqual(range(1, expected.length));
    }
    for (const call of calls.filter((_, n) => n % 2 === 0)) {
      expect((await a.getMessageStatus(call.app, call.id))?.status).toBe("PUBLISHED");
    }
    expect(await a.getMessageStatus(calls[1]!.app, calls[1]!.id)).toBeUndefined();
  });

  it("mixes kept and `history: false` publishes issued at once: each kind in call order, only the kept numbered", async () => {
    const [a] = await start();
    const channel = freshChannel("mixed");
    const heard = collector();
    await a.subscribe("app", channel, heard.listener);
    const calls = Array.from({ length: 120 }, (_, n) => a.publish("app", [message(channel, n)], { history: n % 3 !== 0 }));
    await Promise.all(calls);
    const live = await heard.until(120);
    const n = (m: ChannelMessage) => (m.data as { n: number }).n;
    const kept = live.filter((m) => n(m) % 3 !== 0);
    expect(kept.map(n)).toEqual(range(0, 119).filter((i) => i % 3 !== 0));
    expect(offsets(kept)).toEqual(range(1, 80));
    const only = live.filter((m) => n(m) % 3 === 0);
    expect(only.map(n)).toEqual(range(0, 119).filter((i) => i % 3 === 0));
    expect(only.every((m) => m.offset === undefined && m.epoch === undefined)).toBe(true);
    expect((await a.history("app", channel, { limit: 200 })).messages.map(n)).toEqual(kept.map(n));
  });

  it("carries appends of any size: many large publishes at once all land", async () => {
    // 70 publishes of 2,560 messages each: together far past what one call's arguments hold.
    const [a] = await start();
    const channels = Array.from({ length: 32 }, (_, i) => freshChannel(`large-${i}`));
    const calls = Array.from({ length: 70 }, (_, n) => a.publish("app", channels.flatMap((c) => Array.from({ length: 80 }, (_, i) => message(c, n * 80 + i)))));
    await Promise.all(calls);
    const last = await a.history("app", channels[31]!, { limit: 1 });
    expect(last.offset).toBe(5_600);
    expect((last.messages[0]!.data as { n: number }).n).toBe(5_599);
  });

  it("reads a publish's status right after the call, before it resolved, and sends what was published before closing", async () => {
    const [a] = await start();
    const busy = freshChannel("busy");
    const channel = freshChannel("status-now");
    // A large append in flight, so the next one waits its turn.
    const inFlight = a.publish("app", Array.from({ length: 2_000 }, (_, i) => message(busy, i)));
    const m = message(channel, 1);
    const published = a.publish("app", [m], { statuses: { records: [{ id: m.id, status: "PUBLISHED", channels: [channel], runs: 1 }], ttlSeconds: 60 } });
    expect((await a.getMessageStatus("app", m.id))?.status).toBe("PUBLISHED");
    await Promise.all([inFlight, published]);
    const queued = Array.from({ length: 300 }, (_, i) => a.publish("app", [message(channel, i + 2)]));
    await a.close();
    const outcomes = await Promise.allSettled(queued);
    expect(outcomes.filter((o) => o.status === "rejected")).toEqual([]);
  });

  it("numbers each channel on its own within one publish call", async () => {
    const [a, b] = await start();
    const x = freshChannel("x");
    const y = freshChannel("y");
    const onX = collector();
    await a.subscribe("app", x, onX.listener);
    await b.publish("app", [message(x, 1), message(y, 1), message(x, 2), message(y, 2), message(x, 3)]);
    expect((await onX.until(3)).map((m) => [m.offset, (m.data as { n: number }).n])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(offsets((await a.history("app", y, { limit: 10 })).messages)).toEqual([1, 2]);
  });

  it("keeps messages as delivered: same fields, offset and epoch, strings stay strings", async () => {
    const [a, b] = await start();
    const channel = freshChannel("shape");
    const c = collector();
    await a.subscribe("app", channel, c.listener);
    const sent = message(channel, 0, { data: '{"not":"parsed"}', headers: { city: "Tokyo" }, publisherId: "p1", excludeSocketId: "1.2" });
    // Offsets are the engine's to set: a caller's are replaced.
    await b.publish("app", [{ ...sent, offset: 42, epoch: "forged" }]);
    const [live] = await c.until(1);
    expect(live).toEqual({ ...sent, offset: 1, epoch: live!.epoch });
    expect(live!.epoch).not.toBe("forged");
    const { messages } = await b.history("app", channel, { limit: 10 });
    expect(messages).toEqual([live]);
  });

  it("returns the last `limit` messages, oldest first, and the current position", async () => {
    const [a, b] = await start();
    const channel = freshChannel("latest");
    await b.publish("app", range(1, 10).map((n) => message(channel, n)));
    const last3 = await a.history("app", channel, { limit: 3 });
    expect(offsets(last3.messages)).toEqual([8, 9, 10]);
    expect(last3).toMatchObject({ offset: 10, recoverable: true });
    expect(last3.messages.every((m) => m.epoch === last3.epoch)).toBe(true);
    expect(offsets((await a.history("app", channel, { limit: 100 })).messages)).toEqual(range(1, 10));
    const none = await a.history("app", channel, { limit: 0 });
    expect(none).toEqual({ messages: [], offset: 10, epoch: last3.epoch, recoverable: true });
  });

  it("returns every message after `since`, up to `limit`", async () => {
    const [a, b] = await start();
    const channel = freshChannel("since");
    await b.publish("app", range(1, 10).map((n) => message(channel, n)));
    const { epoch } = await a.history("app", channel, { limit: 0 });
    const after4 = await a.history("app", channel, { since: { offset: 4, epoch }, limit: 100 });
    expect(offsets(after4.messages)).toEqual(range(5, 10));
    expect(after4).toMatchObject({ offset: 10, epoch, recoverable: true });
    const page = await a.history("app", channel, { since: { offset: 4, epoch }, limit: 2 });
    expect(offsets(page.messages)).toEqual([5, 6]);
    expect(page.recoverable).toBe(true);
    expect(offsets((await a.history("app", channel, { since: { offset: 0, epoch }, limit: 100 })).messages)).toEqual(range(1, 10));
    expect(await a.history("app", channel, { since: { offset: 10, epoch }, limit: 100 })).toEqual({ messages: [], offset: 10, epoch, recoverable: true });
    // A position the stream never had, or a malformed one, cannot be served.
    for (const since of [{ offset: 11, epoch }, { offset: -1, epoch }, { offset: 2.5, epoch }]) {
      expect(await a.history("app", channel, { since, limit: 100 })).toEqual({ messages: [], offset: 10, epoch, recoverable: false });
    }
  });

  it("gives a channel without history offset 0 and an epoch that stays, so its position resumes", async () => {
    const [a, b] = await start();
    const channel = freshChannel("empty");
    const first = await a.history("app", channel, { limit: 10 });
    expect(first).toMatchObject({ messages: [], offset: 0, recoverable: true });
    expect(first.epoch).toMatch(/^[0-9a-z]{13,}$/);
    expect((await b.history("app", channel, { limit: 10 })).epoch).toBe(first.epoch);
    await b.publish("app", [message(channel, 1), message(channel, 2)]);
    const resumed = await a.history("app", channel, { since: { offset: 0, epoch: first.epoch }, limit: 10 });
    expect(resumed.recoverable).toBe(true);
    expect(resumed.messages.map((m) => [m.offset, m.epoch])).toEqual([
      [1, first.epoch],
      [2, first.epoch],
    ]);
  });

  it("keeps at most historySize messages; a position before them is not recoverable", async () => {
    const [a, b] = await start({ historySize: 5 });
    const channel = freshChannel("trim");
    for (let n = 1; n <= 12; n++) await b.publish("app", [message(channel, n)]);
    const latest = await a.history("app", channel, { limit: 100 });
    expect(offsets(latest.messages)).toEqual(range(8, 12));
    const { epoch } = latest;
    expect(offsets((await a.history("app", channel, { since: { offset: 7, epoch }, limit: 100 })).messages)).toEqual(range(8, 12));
    for (const offset of [0, 3, 6]) {
      expect(await a.history("app", channel, { since: { offset, epoch }, limit: 100 })).toEqual({ messages: [], offset: 12, epoch, recoverable: false });
    }
  });

  it("serves no position when it keeps no history (historySize 0), not even the current one", async () => {
    const [a, b] = await start({ historySize: 0 });
    const channel = freshChannel("unkept");
    const { offset, epoch } = await a.history("app", channel, { limit: 0 });
    await b.publish("app", [message(channel, 1)], { history: false });
    expect(await b.history("app", channel, { since: { offset, epoch }, limit: 0 })).toMatchObject({ offset, epoch, recoverable: false, messages: [] });
    // Even a message published with history on is not kept.
    await b.publish("app", [message(channel, 2)]);
    expect((await a.history("app", channel, { limit: 10 })).messages).toEqual([]);
  });

  it("says a position from another epoch is not recoverable", async () => {
    const [a, b] = await start();
    const channel = freshChannel("epoch");
    await b.publish("app", [message(channel, 1), message(channel, 2)]);
    const { epoch } = await a.history("app", channel, { limit: 0 });
    const result = await a.history("app", channel, { since: { offset: 1, epoch: "0123456789abcdef" }, limit: 10 });
    expect(result).toEqual({ messages: [], offset: 2, epoch, recoverable: false });
  });

  it("expires the history historyTtlSeconds after the last publish, and then starts a new epoch", async () => {
    const [a, b] = await start({ historyTtlSeconds: 1 });
    const channel = freshChannel("ttl");
    await b.publish("app", [message(channel, 1)]);
    await factory.elapse(0.5);
    await b.publish("app", [message(channel, 2), message(channel, 3)]); // refreshes the TTL
    await factory.elapse(0.5);
    const before = await a.history("app", channel, { limit: 10 });
    expect(offsets(before.messages)).toEqual([1, 2, 3]);

    await factory.elapse(1);
    const after = await a.history("app", channel, { limit: 10 });
    expect(after).toMatchObject({ messages: [], offset: 0, recoverable: true });
    expect(after.epoch).not.toBe(before.epoch);
    const old: StreamPosition = { offset: 3, epoch: before.epoch };
    expect(await a.history("app", channel, { since: old, limit: 10 })).toEqual({ messages: [], offset: 0, epoch: after.epoch, recoverable: false });
    const old0: StreamPosition = { offset: 0, epoch: before.epoch };
    expect((await a.history("app", channel, { since: old0, limit: 10 })).recoverable).toBe(false);

    const c = collector();
    await a.subscribe("app", channel, c.listener);
    await b.publish("app", [message(channel, 4)]);
    const [live] = await c.until(1);
    expect(live).toMatchObject({ offset: 1, epoch: after.epoch });
  });

  it("fans out `history: false` messages without appending them or giving them an offset", async () => {
    const [a, b] = await start();
    const channel = freshChannel("presence-room");
    const c = collector();
    await a.subscribe("app", channel, c.listener);
    const joined = message(channel, 0, { event: "member_added", offset: 7, epoch: "forged" });
    await b.publish("app", [joined], { history: false });
    await b.publish("app", [message(channel, 1)]);
    await b.publish("app", [message(channel, 2)], { history: true });
    const [event, first, second] = await c.until(3);
    expect(event).toEqual({ ...joined, offset: undefined, epoch: undefined });
    expect(event).not.toHaveProperty("offset");
    expect(event).not.toHaveProperty("epoch");
    expect([first!.offset, second!.offset]).toEqual([1, 2]);
    const history = await a.history("app", channel, { limit: 10 });
    expect(history.messages).toEqual([first, second]);
    expect(history.offset).toBe(2);
  });

  it("claims a message id once per app within the window, on any instance", async () => {
    const [a, b] = await start();
    const id = `order-${++counter}`;
    expect(await a.claimMessageId("app", id, 1)).toBe(true);
    expect(await a.claimMessageId("app", id, 1)).toBe(false);
    expect(await b.claimMessageId("app", id, 1)).toBe(false);
    expect(await b.claimMessageId("other-app", id, 1)).toBe(true);
    expect(await a.claimMessageId("app", `${id}-2`, 1)).toBe(true);
    await factory.elapse(1);
    expect(await b.claimMessageId("app", id, 1)).toBe(true);
    expect(await a.claimMessageId("app", id, 1)).toBe(false);
  });

  it("isolates apps: same channel name, separate streams", async () => {
    const [a, b] = await start();
    const channel = freshChannel("shared");
    await b.publish("one", [message(channel, 1), message(channel, 2)]);
    await b.publish("two", [message(channel, 3)]);
    expect(offsets((await a.history("one", channel, { limit: 10 })).messages)).toEqual([1, 2]);
    const two = await a.history("two", channel, { limit: 10 });
    expect(two.messages.map((m) => (m.data as { n: number }).n)).toEqual([3]);
    expect(two.offset).toBe(1);
  });

  it("lets readers that resume while both instances publish continuously get every message once, in order", { timeout: 30_000 }, async () => {
    const [a, b] = await start({ historySize: 1_000 });
    const channel = freshChannel("race");
    const runMs = 2_000;
    const maxMessages = 2_000;
    const pageSize = 100;
    const problems: string[] = [];

    // Witnesses on both instances, subscribed before anything is published, see the whole stream.
    const witnesses = [collector(), collector()];
    await a.subscribe("app", channel, witnesses[0]!.listener);
    await b.subscribe("app", channel, witnesses[1]!.listener);

    let published = 0;
    let publishing = true;
    const started = Date.now();
    async function publishLoop(engine: Engine, name: string) {
      while (published < maxMessages && Date.now() - started < runMs) {
        const size = Math.min(randomInt(1, 4), maxMessages - published);
        published += size;
        await engine.publish("app", Array.from({ length: size }, (_, i) => message(channel, published - size + i, { publisherId: name })));
        await sleep(randomInt(2, 10));
      }
    }

    interface Session {
      since: StreamPosition;
      last: number;
      replayed: number;
      /** Live messages dropped because history had already delivered them. */
      overlap: number;
      /** Overlap that came after the buffer was drained (live lags the history read). */
      lateOverlap: number;
      received: ChannelMessage[];
    }
    /**
     * What the core's resume does: subscribe and buffer live messages, replay history after
     * `since` page by page, then drain the buffer and go live, dropping offsets already
     * delivered. The drop must outlast the drain: on Redis, live messages travel on another
     * connection than the history read and may arrive after history returned them.
     */
    async function resume(engine: Engine, reader: string): Promise<Session> {
      const head = await engine.history("app", channel, { limit: 0 });
      const since = { offset: Math.max(0, head.offset - randomInt(0, 300)), epoch: head.epoch };
      const session: Session = { since, last: since.offset, replayed: 0, overlap: 0, lateOverlap: 0, received: [] };
      const deliver = (m: ChannelMessage, phase: "history" | "buffer" | "live") => {
        if (phase !== "history" && m.offset! <= session.last) {
          session.overlap++;
          if (phase === "live") session.lateOverlap++;
          return;
        }
        if (m.offset !== session.last + 1 || m.epoch !== since.epoch) {
          problems.push(`${reader} ${phase}: got ${m.epoch}/${m.offset} after ${since.epoch}/${session.last}`);
        }
        session.last = Math.max(session.last, m.offset!);
        session.received.push(m);
      };
      let buffer: ChannelMessage[] | undefined = [];
      // The engine's own live stream must be consecutive from the first message on.
      let lastLive: number | undefined;
      const subscription = await engine.subscribe("app", channel, (m) => {
        if (lastLive !== undefined && m.offset !== lastLive + 1) problems.push(`${reader} live stream: ${m.offset} after ${lastLive}`);
        lastLive = m.offset;
        if (buffer) buffer.push(m);
        else deliver(m, "live");
      });
      for (;;) {
        const page = await engine.history("app", channel, { since: { offset: session.last, epoch: since.epoch }, limit: pageSize });
        if (!page.recoverable) problems.push(`${reader}: ${since.epoch}/${session.last} not recoverable`);
        for (const m of page.messages) deliver(m, "history");
        session.replayed += page.messages.length;
        if (!page.recoverable || session.last >= page.offset) break;
      }
      const buffered = buffer;
      buffer = undefined;
      for (const m of buffered) deliver(m, "buffer");
      await sleep(randomInt(20, 200));
      await subscription.close();
      return session;
    }

    const sessions: Session[] = [];
    async function readLoop(engine: Engine, reader: string) {
      while (publishing) sessions.push(await resume(engine, reader));
    }

    const publishers = Promise.all([publishLoop(a, "a1"), publishLoop(a, "a2"), publishLoop(b, "b1"), publishLoop(b, "b2")]);
    const readers = Promise.all(range(1, 6).map((i) => readLoop(i % 2 ? a : b, `reader-${i}`)));
    await publishers;
    publishing = false;
    await readers;

    // The whole stream, as the witnesses on both instances saw it: offsets 1…N, one epoch.
    const total = published;
    const [wa, wb] = [await witnesses[0]!.until(total), await witnesses[1]!.until(total)];
    expect(offsets(wa)).toEqual(range(1, total));
    expect(wb).toEqual(wa);
    const epoch = wa[0]!.epoch;
    expect(wa.every((m) => m.epoch === epoch)).toBe(true);

    expect(problems).toEqual([]);
    for (const session of sessions) {
      // Every session got since+1…last with no gap or duplicate, and the very messages published.
      expect(offsets(session.received)).toEqual(range(session.since.offset + 1, session.last));
      expect(session.received).toEqual(wa.slice(session.since.offset, session.last));
    }
    // A final resume after the run catches up to the end.
    const final = await resume(a, "final");
    expect(final.last).toBe(total);

    const replayed = sessions.reduce((sum, s) => sum + s.replayed, 0);
    const overlap = sessions.reduce((sum, s) => sum + s.overlap, 0);
    const lateOverlap = sessions.reduce((sum, s) => sum + s.lateOverlap, 0);
    console.info(
      `${factory.name}: ${total} messages in ${Date.now() - started} ms; ${sessions.length} resumes replayed ${replayed} ` +
        `and dropped ${overlap} live copies of replayed offsets (${lateOverlap} after the buffer drain)`,
    );
    expect(total).toBeGreaterThan(500);
    expect(sessions.length).toBeGreaterThan(12);
  });
});
