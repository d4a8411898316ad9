import { Cluster, Redis } from "ioredis";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createMemoryWebhooks } from "../src/engine/memory-webhooks.ts";
import { createRedisWebhooks } from "../src/engine/redis-webhooks.ts";
import type { WebhookStore } from "../src/engine/webhook-types.ts";
import { createAddressGuard } from "../src/webhooks/address-guard.ts";
import { createWebhookDelivery, NUMBER_PLACEHOLDER, type WebhookDelivery } from "../src/webhooks/delivery.ts";
import { APP_ONE, APP_TWO, sleep } from "./helpers/herald.ts";
import { startReceiver, type Receiver } from "./helpers/receiver.ts";
import { deleteClusterKeys, deleteKeys, redisClusterNodes, redisUrl, uniquePrefix } from "./helpers/redis.ts";

/**
 * Durable delivery (src/webhooks/delivery.ts) over each webhook store, against a real HTTP
 * receiver on 127.0.0.1 (allowed by HERALD_WEBHOOK_ALLOW_PRIVATE). Two deliveries on one store
 * stand for two Herald instances.
 */
const prefix = uniquePrefix("webhook-delivery");
const clients: (Redis | Cluster)[] = [];
const stores: { name: string; skip: boolean; create(): WebhookStore }[] = [
  { name: "memory", skip: false, create: () => createMemoryWebhooks() },
  {
    name: "redis",
    skip: !redisUrl,
    create() {
      const client = new Redis(redisUrl!, { enableAutoPipelining: true });
      clients.push(client);
      return createRedisWebhooks(client, prefix);
    },
  },
  {
    name: "redis cluster",
    skip: !redisClusterNodes,
    create() {
      const client = new Cluster(redisClusterNodes!, { enableAutoPipelining: true });
      clients.push(client);
      return createRedisWebhooks(client, prefix);
    },
  },
];

/** The target's deliveries once none is pending (the receiver may hear one before its outcome is stored). */
async function settled(store: WebhookStore, appId: string, t: string) {
  for (let i = 0; i < 100; i++) {
    const state = await store.deliveries(appId, t, 10);
    if (state.pending.length === 0) return state;
    await sleep(20);
  }
  throw new Error(`deliveries of ${t} still pending`);
}

const webhookConfig = (env: Record<string, string> = {}) =>
  loadConfig({
    HERALD_WEBHOOK_ALLOW_PRIVATE: "1",
    HERALD_WEBHOOK_RETRY_BASE_MS: "50",
    HERALD_WEBHOOK_POLL_MS: "50",
    HERALD_WEBHOOK_TIMEOUT_MS: "1000",
    ...env,
  }).webhooks;

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.quit()));
  if (redisUrl) await deleteKeys(redisUrl, prefix);
  if (redisClusterNodes) await deleteClusterKeys(redisClusterNodes, prefix);
});

for (const factory of stores) {
  describe.skipIf(factory.skip)(`webhook delivery ('${factory.name}' store)`, () => {
    let receiver: Receiver;
    let store: WebhookStore;
    const running: WebhookDelivery[] = [];
    const start = (env?: Record<string, string>, onStore = store) => {
      const delivery = createWebhookDelivery({ store: onStore, apps: [APP_ONE, APP_TWO], config: webhookConfig(env), onError: () => {} });
      delivery.start();
      running.push(delivery);
      return delivery;
    };
    const post = (n: number) => ({ url: `${receiver.url}/hook`, headers: { "content-type": "application/json", "x-number": NUMBER_PLACEHOLDER }, body: JSON.stringify({ n }) });
    const target = () => `t-${Math.random().toString(36).slice(2)}`;

    beforeEach(async () => {
      receiver = await startReceiver();
      store = factory.create();
    });
    afterEach(async () => {
      await Promise.all(running.splice(0).map((d) => d.close()));
      await receiver.close();
    });

    it("delivers a target's notifications in order, numbered 1, 2, 3, with their headers and body", async () => {
      const delivery = start();
      const t = target();
      expect(await delivery.enqueue(APP_ONE.id, t, [post(1), post(2)])).toEqual([1, 2]);
      expect(await delivery.enqueue(APP_ONE.id, t, [post(3)])).toEqual([3]);
      const got = await receiver.waitFor(3);
      expect(got.map((r) => JSON.parse(r.body).n)).toEqual([1, 2, 3]);
      expect(got.map((r) => r.headers["x-number"])).toEqual(["1", "2", "3"]);
      expect(got[0]!.headers["content-type"]).toBe("application/json");
      const { finished, pending } = await settled(store, APP_ONE.id, t);
      expect(pending).toEqual([]);
      expect(finished.map((d) => [d.number, d.state, d.status, d.attempts])).toEqual([
        [3, "DELIVERED", 200, 1],
        [2, "DELIVERED", 200, 1],
        [1, "DELIVERED", 200, 1],
      ]);
    });

    it("retries a 500 with backoff until a 200, and sends the next one only after it", async () => {
      let failures = 2;
      receiver.respond = (r) => (JSON.parse(r.body).n === 1 && failures-- > 0 ? 500 : 200);
      const delivery = start();
      const t = target();
      await delivery.enqueue(APP_ONE.id, t, [post(1), post(2)]);
      const got = await receiver.waitFor(4);
      expect(got.map((r) => JSON.parse(r.body).n)).toEqual([1, 1, 1, 2]);
      // Exponential backoff: the second retry waited longer than the first (jitter is 0.5–1×).
      expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(20);
      const { finished } = await settled(store, APP_ONE.id, t);
      expect(finished.map((d) => [d.number, d.state, d.attempts])).toEqual([
        [2, "DELIVERED", 1],
        [1, "DELIVERED", 3],
      ]);
      expect(delivery.counts).toMatchObject({ delivered: 2, retried: 2, failed: 0 });
    });

    it("gives a 400 up at once and moves on to the next notification", async () => {
      receiver.respond = (r) => (JSON.parse(r.body).n === 1 ? 400 : 200);
      const delivery = start();
      const t = target();
      await delivery.enqueue(APP_ONE.id, t, [post(1), post(2)]);
      const got = await receiver.waitFor(2);
      expect(got.map((r) => JSON.parse(r.body).n)).toEqual([1, 2]);
      await sleep(200);
      expect(receiver.received).toHaveLength(2);
      const { finished } = await settled(store, APP_ONE.id, t);
      expect(finished.map((d) => [d.number, d.state, d.status, d.lastError])).toEqual([
        [2, "DELIVERED", 200, undefined],
        [1, "FAILED", 400, "HTTP 400"],
      ]);
    });

    it("gives up when the retry window is over", async () => {
      receiver.respond = () => 503;
      const delivery = start({ HERALD_WEBHOOK_RETRY_WINDOW_SECONDS: "0" });
      const t = target();
      await delivery.enqueue(APP_ONE.id, t, [post(1)]);
      await receiver.waitFor(1);
      await sleep(300);
      expect(receiver.received).toHaveLength(1);
      const { finished } = await settled(store, APP_ONE.id, t);
      expect(finished[0]).toMatchObject({ number: 1, state: "FAILED", status: 503 });
      expect(finished[0]!.lastError).toContain("retry window over");
    });

    it("does not follow redirects, and times out a receiver that does not answer", async () => {
      receiver.respond = () => 302;
      const delivery = start({ HERALD_WEBHOOK_TIMEOUT_MS: "200", HERALD_WEBHOOK_RETRY_WINDOW_SECONDS: "1" });
      const t = target();
      await delivery.enqueue(APP_ONE.id, t, [post(1)]);
      await sleep(300);
      expect(receiver.received).toHaveLength(1);
      const { finished } = await settled(store, APP_ONE.id, t);
      expect(finished[0]!.lastError).toContain("redirects are not followed");
      // A receiver that never answers: the attempt ends at the timeout and is retried.
      const silent = (await import("node:net")).createServer(() => {});
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
      const port = (silent.address() as { port: number }).port;
      const t2 = target();
      await delivery.enqueue(APP_ONE.id, t2, [{ ...post(2), url: `http://127.0.0.1:${port}/` }]);
      await sleep(600);
      const state = await store.deliveries(APP_ONE.id, t2, 10);
      expect([...state.pending, ...state.finished][0]!.lastError).toContain("timed out after 200 ms");
      await delivery.close();
      silent.close();
    });

    it("a claim that is never completed (its instance died) is delivered again by another instance", async () => {
      const t = target();
      // Instance one stores and claims, then dies before sending.
      const one = createWebhookDelivery({ store, apps: [], config: webhookConfig(), onError: () => {} });
      await one.enqueue(APP_ONE.id, t, [post(1), post(2)]);
      const [claim] = await store.claimDue(APP_ONE.id, Date.now(), 10, 300);
      expect(claim!.delivery.number).toBe(1);
      // While the lease lasts nobody else gets the target; then instance two delivers both, in order.
      expect(await store.claimDue(APP_ONE.id, Date.now(), 10, 300)).toEqual([]);
      start();
      const got = await receiver.waitFor(2);
      expect(got.map((r) => JSON.parse(r.body).n)).toEqual([1, 2]);
      // The dead claimer's late outcome is ignored.
      await store.complete(claim!, { kind: "failed", error: "late" }, { now: Date.now(), keepResults: 10 });
      const { finished } = await settled(store, APP_ONE.id, t);
      expect(finished.map((d) => d.state)).toEqual(["DELIVERED", "DELIVERED"]);
    });

    it("hands each due target to one of two instances: nothing is sent twice", async () => {
      start();
      const second = factory.name === "memory" ? store : factory.create();
      start({}, second);
      const targets = Array.from({ length: 10 }, target);
      await Promise.all(targets.map((t) => running[0]!.enqueue(APP_ONE.id, t, [post(1), post(2), post(3)])));
      await receiver.waitFor(30);
      await sleep(200);
      expect(receiver.received).toHaveLength(30);
    });

    it("claims a due target for one claimer only, however many race for it", async () => {
      const t = target();
      const delivery = createWebhookDelivery({ store, apps: [], config: webhookConfig(), onError: () => {} });
      await delivery.enqueue(APP_ONE.id, t, [post(1), post(2)]);
      const handles = factory.name === "memory" ? [store, store, store] : [factory.create(), factory.create(), factory.create()];
      const claims = (await Promise.all(handles.map((h) => h.claimDue(APP_ONE.id, Date.now(), 10, 5_000)))).flat();
      expect(claims.map((c) => c.delivery.number)).toEqual([1]);
      // Its outcome releases the next one, to the next claimer.
      await store.complete(claims[0]!, { kind: "delivered", status: 200 }, { now: Date.now(), keepResults: 10 });
      const [next] = await handles[1]!.claimDue(APP_ONE.id, Date.now(), 10, 5_000);
      expect(next!.delivery.number).toBe(2);
      await store.complete(next!, { kind: "retry", status: 503, error: "HTTP 503", retryAt: Date.now() + 60_000 }, { now: Date.now(), keepResults: 10 });
      expect(await store.claimDue(APP_ONE.id, Date.now(), 10, 5_000)).toEqual([]); // not due before retryAt
      expect((await store.deliveries(APP_ONE.id, t, 10)).pending).toEqual([{ number: 2, state: "RETRYING", status: 503, attempts: 1, lastError: "HTTP 503" }]);
      await store.drop(APP_ONE.id, t);
    });

    it("stores watches: unique live ids per app, a limit, expiry taken once", async () => {
      const now = Date.now();
      const watch = (id: string, channel: string, expiration: number) => ({
        id,
        channel,
        resourceId: `r-${channel}`,
        resourceUri: "/graphql",
        target: `watch:${id}:${Math.random()}`,
        address: "http://127.0.0.1/",
        expiration,
      });
      const ch = target();
      expect(await store.addWatch(APP_ONE.id, watch("a", ch, now + 60_000), 2, now)).toBe("added");
      expect(await store.addWatch(APP_ONE.id, watch("a", ch, now + 60_000), 2, now)).toBe("exists");
      expect(await store.addWatch(APP_TWO.id, watch("a", ch, now + 60_000), 2, now)).toBe("added");
      expect(await store.addWatch(APP_ONE.id, watch("b", ch, now + 500), 2, now)).toBe("added");
      expect(await store.addWatch(APP_ONE.id, watch("c", ch, now + 60_000), 2, now)).toBe("limit");
      expect((await store.watchesOf(APP_ONE.id, ch, now)).map((w) => w.id).sort()).toEqual(["a", "b"]);
      // Past b's expiration: not live, and taken by one sweep only.
      const later = now + 1_000;
      expect((await store.watchesOf(APP_ONE.id, ch, later)).map((w) => w.id)).toEqual(["a"]);
      expect(await store.getWatch(APP_ONE.id, "b", later)).toBeUndefined();
      const [first, second] = await Promise.all([store.takeExpiredWatches(APP_ONE.id, later, 10), store.takeExpiredWatches(APP_ONE.id, later, 10)]);
      expect([...first, ...second].map((w) => w.id)).toEqual(["b"]);
      expect(await store.removeWatch(APP_ONE.id, "a")).toBe(true);
      expect(await store.removeWatch(APP_ONE.id, "a")).toBe(false);
      expect(await store.watchesOf(APP_ONE.id, ch, now)).toEqual([]);
      expect(await store.removeWatch(APP_TWO.id, "a")).toBe(true);
    });

    it("flips a lifecycle flag for one caller only", async () => {
      const name = target();
      const results = await Promise.all([store.setFlag(APP_ONE.id, name), store.setFlag(APP_ONE.id, name), store.setFlag(APP_TWO.id, name)]);
      expect(results.filter(Boolean)).toHaveLength(2); // one per app
      expect(await Promise.all([store.clearFlag(APP_ONE.id, name), store.clearFlag(APP_ONE.id, name)])).toEqual([true, false]);
      await store.clearFlag(APP_TWO.id, name);
    });

    it("exchanges a value atomically: of callers writing one value, one sees the old one", async () => {
      const name = target();
      expect(await store.exchangeValue(APP_ONE.id, name, "3")).toBeNull();
      const results = await Promise.all([store.exchangeValue(APP_ONE.id, name, "4"), store.exchangeValue(APP_ONE.id, name, "4")]);
      expect(results.sort()).toEqual(["3", "4"]);
      expect(await store.exchangeValue(APP_TWO.id, name, "9")).toBeNull(); // apps apart
      expect(await store.exchangeValue(APP_ONE.id, name, null)).toBe("4");
      expect(await store.exchangeValue(APP_ONE.id, name, null)).toBeNull();
      await store.exchangeValue(APP_TWO.id, name, null);
    });

    it("keeps apps apart and forgets a dropped target", async () => {
      const t = target();
      const delivery = createWebhookDelivery({ store, apps: [], config: webhookConfig(), onError: () => {} });
      await delivery.enqueue(APP_ONE.id, t, [post(1)]);
      expect((await store.deliveries(APP_TWO.id, t, 10)).pending).toEqual([]);
      expect(await store.claimDue(APP_TWO.id, Date.now(), 10, 1000)).toEqual([]);
      await store.drop(APP_ONE.id, t);
      expect(await store.deliveries(APP_ONE.id, t, 10)).toEqual({ pending: [], finished: [] });
      expect(await store.claimDue(APP_ONE.id, Date.now(), 10, 1000)).toEqual([]);
    });
  });
}

describe("SSRF guard", () => {
  const guard = createAddressGuard({ allowPrivate: false });

  it.each([
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://127.0.0.1:8080/",
    "http://localhost/",
    "http://192.168.1.1/",
    "http://172.16.0.5/",
    "http://100.64.0.1/",
    "http://[::1]/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://0.0.0.0/",
  ])("refuses %s at creation", async (url) => {
    await expect(guard.checkUrl(url)).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("Refused address") });
  });

  it.each(["ftp://example.com/", "file:///etc/passwd", "not a url", "http://user:pw@93.184.215.14/"])("refuses %s (not an http(s) URL a webhook may use)", async (url) => {
    await expect(guard.checkUrl(url)).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("accepts a public address", async () => {
    expect((await guard.checkUrl("https://93.184.215.14/hook")).hostname).toBe("93.184.215.14");
  });

  it("allows only the listed ranges with a CIDR allow-list", async () => {
    const listed = createAddressGuard({ allowPrivate: ["10.1.0.0/16"] });
    await expect(listed.checkUrl("http://10.1.2.3/")).resolves.toBeDefined();
    await expect(listed.checkUrl("http://10.2.0.1/")).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("refuses at connect time too: a stored notification to a private address is given up, never sent", async () => {
    const receiver = await startReceiver();
    const store = createMemoryWebhooks();
    const delivery = createWebhookDelivery({ store, apps: [APP_ONE], config: webhookConfig({ HERALD_WEBHOOK_ALLOW_PRIVATE: "0" }), onError: () => {} });
    delivery.start();
    // Stored as if the address had been public when it was checked (a name that now resolves to 127.0.0.1).
    const host = receiver.url.replace("127.0.0.1", "localhost");
    await delivery.enqueue(APP_ONE.id, "t", [{ url: `${host}/`, headers: {}, body: "{}" }, { url: `${receiver.url}/`, headers: {}, body: "{}" }]);
    await sleep(300);
    await delivery.close();
    expect(receiver.received).toHaveLength(0);
    const { finished } = await settled(store, APP_ONE.id, "t");
    expect(finished.map((d) => d.state)).toEqual(["FAILED", "FAILED"]);
    expect(finished[1]!.lastError).toContain("loopback");
    await receiver.close();
  });

  it("HERALD_WEBHOOK_ALLOW_PRIVATE must be a flag or CIDR ranges", () => {
    expect(() => loadConfig({ HERALD_WEBHOOK_ALLOW_PRIVATE: "yes please" })).toThrow(/HERALD_WEBHOOK_ALLOW_PRIVATE/);
    expect(loadConfig({ HERALD_WEBHOOK_ALLOW_PRIVATE: "10.0.0.0/8, fd00::/8" }).webhooks.allowPrivate).toEqual(["10.0.0.0/8", "fd00::/8"]);
  });
});
