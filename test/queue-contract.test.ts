import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../src/engine/memory.ts";
import { createRedisEngine } from "../src/engine/redis.ts";
import type { QueueOptions } from "../src/engine/queue-types.ts";
import type { ChannelMessage, Engine } from "../src/engine/types.ts";
import { message } from "./helpers/engine.ts";
import { deleteClusterKeys, deleteKeys, redisClusterNodes, redisUrl, uniquePrefix } from "./helpers/redis.ts";

/**
 * The pull queue contract (src/engine/queue-types.ts), on every engine. A second engine on the
 * same backing store stands for a second Herald instance (for memory: the same engine); a
 * "restart" closes every engine and opens new ones on the same store (memory has nothing to
 * restart onto, so those cases run on Redis only).
 */
interface QueueEngineFactory {
  name: string;
  skip: boolean;
  durable: boolean;
  create(options?: QueueOptions): Promise<[Engine, Engine]>;
}

const prefix = uniquePrefix("queue-contract");
const factories: QueueEngineFactory[] = [
  {
    name: "memory",
    skip: false,
    durable: false,
    async create(queues) {
      const engine = createMemoryEngine({ queues });
      return [engine, engine];
    },
  },
  {
    name: "redis",
    skip: !redisUrl,
    durable: true,
    async create(queues) {
      const options = { url: redisUrl!, prefix, heartbeatMs: 200, instanceTtlMs: 1_000, queues };
      return [await createRedisEngine(options), await createRedisEngine(options)];
    },
  },
  {
    name: "redis cluster",
    skip: !redisClusterNodes,
    durable: true,
    async create(queues) {
      const options = { cluster: { nodes: redisClusterNodes! }, prefix, heartbeatMs: 200, instanceTtlMs: 1_000, queues };
      return [await createRedisEngine(options), await createRedisEngine(options)];
    },
  },
];

const numbers = (messages: readonly ChannelMessage[]) => messages.map((m) => (m.data as { n: number }).n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let appCounter = 0;

describe.each(factories)("queue contract: $name", (factory) => {
  const opened: Engine[] = [];
  /** Two instances of one service, closed after the test. */
  async function service(options?: QueueOptions): Promise<[Engine, Engine]> {
    const pair = await factory.create(options);
    opened.push(...pair);
    return pair;
  }
  afterEach(async () => {
    await Promise.all([...new Set(opened.splice(0))].map((e) => e.close()));
  });
  afterAll(() => {
    if (factory.skip) return;
    return factory.name === "redis cluster" ? deleteClusterKeys(redisClusterNodes!, prefix) : deleteKeys(redisUrl!, prefix);
  });
  const test = factory.skip ? it.skip : it;
  // Each test its own app: nothing one test left behind can show up in another.
  const app = () => `app${++appCounter}`;

  test("a queue holds every message published after it was created, once; a pull removes them", async () => {
    const [a, b] = await service();
    const id = app();
    await a.publish(id, [message("orders", 0)]);
    const queue = await a.queues.create(id, "orders", 10);
    if (queue === "limit") throw new Error("limit");
    expect(queue).toMatchObject({ channel: "orders", depth: 0, dropped: 0 });
    await b.publish(id, [message("orders", 1), message("orders", 2)]);
    await a.publish(id, [message("other", 9)]);
    expect((await a.queues.get(id, queue.key))?.depth).toBe(2);
    const first = await b.queues.pull(id, queue.key, 50);
    expect(numbers(first!.messages)).toEqual([1, 2]);
    expect(first!.queue.depth).toBe(0);
    expect((await a.queues.pull(id, queue.key, 50))!.messages).toEqual([]);
  });

  test("messages published with history off reach queues too, in order", async () => {
    const [a, b] = await service();
    const id = app();
    const { key } = (await a.queues.create(id, "no-history", 10)) as { key: string };
    await b.publish(id, [message("no-history", 1), message("no-history", 2)], { history: false });
    await a.publish(id, [message("no-history", 3)], { history: false });
    const pulled = await a.queues.pull(id, key, 50);
    expect(numbers(pulled!.messages)).toEqual([1, 2, 3]);
    expect(pulled!.messages.every((m) => m.offset === undefined)).toBe(true);
  });

  test("two queues of one channel each get every message", async () => {
    const [a, b] = await service();
    const id = app();
    const q1 = (await a.queues.create(id, "/customer/created", 10)) as { key: string };
    const q2 = (await b.queues.create(id, "/customer/created", 10)) as { key: string };
    for (let n = 0; n < 5; n++) await (n % 2 ? a : b).publish(id, [message("/customer/created", n)]);
    expect(numbers((await a.queues.pull(id, q1.key, 50))!.messages)).toEqual([0, 1, 2, 3, 4]);
    expect(numbers((await b.queues.pull(id, q2.key, 50))!.messages)).toEqual([0, 1, 2, 3, 4]);
  });

  test("pulls return the highest priority first, then publish order, at most max", async () => {
    const [a] = await service();
    const id = app();
    const { key } = (await a.queues.create(id, "jobs", 10)) as { key: string };
    const priorities = [5, 1, 9, 5, 9, 3, undefined];
    await a.publish(id, priorities.map((priority, n) => message("jobs", n, priority === undefined ? {} : { priority })));
    const pulled = await a.queues.pull(id, key, 3);
    expect(numbers(pulled!.messages)).toEqual([2, 4, 0]);
    expect(pulled!.queue.depth).toBe(4);
    expect(numbers((await a.queues.pull(id, key, 50))!.messages)).toEqual([3, 6, 5, 1]);
  });

  test("expired messages are never returned, and a pull drops them", async () => {
    const [a] = await service();
    const id = app();
    const { key } = (await a.queues.create(id, "news", 10)) as { key: string };
    const past = new Date(Date.now() - 1000).toISOString();
    const future = new Date(Date.now() + 60_000).toISOString();
    await a.publish(id, [message("news", 0, { expiresAt: past }), message("news", 1, { expiresAt: future }), message("news", 2, { expiresAt: past })]);
    const pulled = await a.queues.pull(id, key, 1);
    expect(numbers(pulled!.messages)).toEqual([1]);
    expect((await a.queues.pull(id, key, 50))!.messages).toEqual([]);
    expect((await a.queues.get(id, key))!.depth).toBe(0);
  });

  test("a full queue drops the oldest of its lowest priority, counts it, and the publish succeeds", async () => {
    const [a] = await service({ maxDepth: 3 });
    const id = app();
    const { key } = (await a.queues.create(id, "full", 10)) as { key: string };
    await a.publish(id, [message("full", 0, { priority: 7 }), message("full", 1), message("full", 2)]);
    await a.publish(id, [message("full", 3)]); // drops 1: the oldest of priority 5
    await a.publish(id, [message("full", 4, { priority: 9 })]); // drops 2
    await a.publish(id, [message("full", 5, { priority: 1 })]); // drops itself: nothing is less urgent
    const queue = await a.queues.get(id, key);
    expect(queue).toMatchObject({ depth: 3, dropped: 3 });
    expect(numbers((await a.queues.pull(id, key, 50))!.messages)).toEqual([4, 0, 3]);
  });

  test("keys are per app; delete removes the queue and its messages; list shows live queues", async () => {
    const [a, b] = await service();
    const id = app();
    const other = app();
    const q1 = (await a.queues.create(id, "x", 10)) as { key: string };
    const q2 = (await a.queues.create(id, "y", 10)) as { key: string };
    await a.publish(id, [message("x", 1)]);
    expect(await b.queues.get(other, q1.key)).toBeUndefined();
    expect(await b.queues.pull(other, q1.key, 10)).toBeUndefined();
    expect(await b.queues.delete(other, q1.key)).toBe(false);
    expect((await a.queues.list(id)).map((q) => q.key)).toEqual([q1.key, q2.key]);
    expect((await a.queues.list(id, "y")).map((q) => q.key)).toEqual([q2.key]);
    expect(await b.queues.delete(id, q1.key)).toBe(true);
    expect(await a.queues.get(id, q1.key)).toBeUndefined();
    expect(await a.queues.pull(id, q1.key, 10)).toBeUndefined();
    expect(await a.queues.delete(id, q1.key)).toBe(false);
    await a.publish(id, [message("x", 2)]); // a deleted queue gets nothing
    expect((await a.queues.list(id)).map((q) => q.key)).toEqual([q2.key]);
  });

  test("an app holds at most maxQueues live queues", async () => {
    const [a, b] = await service();
    const id = app();
    const first = (await a.queues.create(id, "x", 2)) as { key: string };
    await b.queues.create(id, "y", 2);
    expect(await a.queues.create(id, "z", 2)).toBe("limit");
    await a.queues.delete(id, first.key);
    expect(await b.queues.create(id, "z", 2)).toMatchObject({ channel: "z" });
  });

  test("a queue not pulled from for its idle TTL is removed; publishes do not keep it", async () => {
    const [a] = await service({ idleTtlSeconds: 2 });
    const id = app();
    const idle = (await a.queues.create(id, "t", 10)) as { key: string };
    const used = (await a.queues.create(id, "t", 10)) as { key: string };
    for (let i = 0; i < 6; i++) {
      await sleep(500);
      await a.publish(id, [message("t", i)]);
      await a.queues.pull(id, used.key, 1);
    }
    await sleep(500);
    expect(await a.queues.get(id, idle.key)).toBeUndefined();
    expect(await a.queues.pull(id, idle.key, 10)).toBeUndefined();
    expect((await a.queues.list(id)).map((q) => q.key)).toEqual([used.key]);
  });

  test("two instances publishing concurrently while one pulls: every message once", async () => {
    const [a, b] = await service();
    const id = app();
    const queues = [(await a.queues.create(id, "busy", 10)) as { key: string }, (await b.queues.create(id, "busy", 10)) as { key: string }];
    const total = 400;
    const publishing = Promise.all(
      [a, b].map(async (engine, side) => {
        for (let n = side; n < total; n += 2) await engine.publish(id, [message("busy", n)]);
      }),
    );
    const got = queues.map(() => [] as number[]);
    let done = false;
    void publishing.then(() => (done = true));
    while (!done) {
      for (const [i, q] of queues.entries()) got[i]!.push(...numbers((await (i ? b : a).queues.pull(id, q.key, 37))!.messages));
      await sleep(5);
    }
    await publishing;
    for (const [i, q] of queues.entries()) got[i]!.push(...numbers((await a.queues.pull(id, q.key, total))!.messages));
    for (const numbersOfQueue of got) {
      expect(numbersOfQueue).toHaveLength(total);
      expect(new Set(numbersOfQueue).size).toBe(total);
      // Each instance's own messages keep their order.
      for (const side of [0, 1]) {
        const own = numbersOfQueue.filter((n) => n % 2 === side);
        expect(own).toEqual([...own].sort((x, y) => x - y));
      }
    }
  });

  (factory.durable ? test : it.skip)("queues and their messages survive a restart of every instance", async () => {
    const [a, b] = await service();
    const id = app();
    const { key } = (await a.queues.create(id, "durable", 10)) as { key: string };
    await b.publish(id, [message("durable", 1, { priority: 2 }), message("durable", 2)]);
    await Promise.all([a.close(), b.close()]);
    const [c] = await service();
    await c.publish(id, [message("durable", 3)]);
    expect(numbers((await c.queues.pull(id, key, 50))!.messages)).toEqual([2, 3, 1]);
  });
});
