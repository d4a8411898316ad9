import { afterAll, expect, it } from "vitest";
import { APP_ONE, TEST_APPS, startPair } from "./helpers/herald.ts";
import { spawnHerald, type HeraldProcess } from "./helpers/process.ts";
import { deleteKeys, describeRedis, redisUrl, uniquePrefix } from "./helpers/redis.ts";

/**
 * Pull queues are durable on the Redis engine: a Herald process that dies (SIGKILL: no
 * shutdown) loses nothing a publish answered success for, and two instances publishing into the
 * same queues at once lose and duplicate nothing.
 */
const prefix = uniquePrefix("queue-durability");
const basic = `Basic ${Buffer.from(`${APP_ONE.key}:${APP_ONE.secret}`).toString("base64")}`;

async function zato(base: string, method: string, path: string, init: { body?: string; key?: string } = {}) {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: basic, ...(init.key ? { "x-zato-pubsub-key": init.key } : {}) },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  expect(response.status, `${method} ${path}`).toBe(200);
  return (await response.json()) as { sub_key?: string; results?: { payload: string }[] };
}

describeRedis("pull queue durability (Redis engine)", () => {
  const started: HeraldProcess[] = [];
  afterAll(async () => {
    for (const herald of started) if (herald.child.exitCode === null) herald.child.kill("SIGKILL");
    await Promise.all(started.map((h) => h.exited));
    await deleteKeys(redisUrl!, prefix);
  });
  const env = { REDIS_URL: redisUrl!, HERALD_REDIS_PREFIX: prefix, HERALD_APPS: JSON.stringify(TEST_APPS) };

  it("publishes made while nobody pulls survive the Herald process being killed and restarted", async () => {
    const first = await spawnHerald(env);
    started.push(first);
    const { sub_key: key } = await zato(first.url, "POST", "/zato/pubsub/subscribe/topic//orders/paid");
    for (let n = 0; n < 30; n++) await zato(first.url, "POST", `/zato/pubsub/topic//orders/paid${n % 3 === 0 ? "?priority=8" : ""}`, { body: `order ${n}` });
    first.child.kill("SIGKILL");
    await first.exited;

    const second = await spawnHerald(env);
    started.push(second);
    const { results } = await zato(second.url, "POST", "/zato/pubsub/msg//orders/paid?max=100", { key: key! });
    const expected = [...Array(30).keys()].filter((n) => n % 3 === 0).concat([...Array(30).keys()].filter((n) => n % 3 !== 0));
    expect(results!.map((r) => r.payload)).toEqual(expected.map((n) => `order ${n}`));
    second.child.kill("SIGTERM");
    await second.exited;
  }, 60_000);

  it("two instances publishing concurrently into the same queues, pulled from both: no loss, no duplicate", async () => {
    const pair = await startPair(redisUrl, prefix);
    try {
      const servers = [pair.a.url, pair.b.url];
      const keys = [
        (await zato(servers[0]!, "POST", "/zato/pubsub/subscribe/topic/invoices")).sub_key!,
        (await zato(servers[1]!, "POST", "/zato/pubsub/subscribe/topic/invoices")).sub_key!,
      ];
      const perInstance = 150;
      let publishing = true;
      const published = Promise.all(
        servers.map(async (base, side) => {
          // Several requests in flight per instance: their appends share script calls.
          await Promise.all(
            [0, 1, 2].map(async (lane) => {
              for (let n = lane; n < perInstance; n += 3) await zato(base, "POST", "/zato/pubsub/topic/invoices", { body: `${side}:${n}` });
            }),
          );
        }),
      ).finally(() => (publishing = false));
      const got: string[][] = [[], []];
      let round = 0;
      /** Pulls once from each queue, alternating instances; how many messages came. */
      const pullOnce = async () => {
        let count = 0;
        for (const [i, key] of keys.entries()) {
          const { results } = await zato(servers[round++ % 2]!, "POST", "/zato/pubsub/msg/invoices?max=25", { key });
          got[i]!.push(...results!.map((r) => r.payload));
          count += results!.length;
        }
        return count;
      };
      while (publishing) await pullOnce();
      await published;
      while ((await pullOnce()) > 0);
      for (const payloads of got) {
        expect(payloads).toHaveLength(2 * perInstance);
        expect(new Set(payloads).size).toBe(2 * perInstance);
      }
    } finally {
      await pair.close();
    }
  }, 60_000);
});
