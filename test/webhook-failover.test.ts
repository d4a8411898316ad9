import { afterAll, describe, expect, it } from "vitest";
import { APP_ONE, TEST_APPS, sleep } from "./helpers/herald.ts";
import { spawnHerald, type HeraldProcess } from "./helpers/process.ts";
import { startReceiver } from "./helpers/receiver.ts";
import { deleteKeys, describeRedis, redisUrl, uniquePrefix } from "./helpers/redis.ts";

/**
 * An instance SIGKILLed with watch notifications pending: they are in Redis, so the other
 * instance delivers them once the dead one's lease ends — none lost, in order, and at most the
 * one that was in flight sent twice (at least once).
 */
const prefix = uniquePrefix("webhook-failover");
const started: HeraldProcess[] = [];

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  if (redisUrl) await deleteKeys(redisUrl, prefix);
});

describeRedis("webhook delivery when an instance dies", () => {
  it("the surviving instance delivers everything the killed one left, in order", { timeout: 90_000 }, async () => {
    const receiver = await startReceiver();
    receiver.delayMs = 300; // slow enough that the first instance is mid-delivery when it dies
    const env = {
      REDIS_URL: redisUrl!,
      HERALD_REDIS_PREFIX: prefix,
      HERALD_APPS: JSON.stringify(TEST_APPS),
      HERALD_WEBHOOK_ALLOW_PRIVATE: "1",
      HERALD_WEBHOOK_TIMEOUT_MS: "1000", // lease: 2 × timeout + 5 s
      HERALD_WEBHOOK_POLL_MS: "100",
    };
    const first = await spawnHerald(env);
    started.push(first);
    const call = (url: string, query: string, variables: unknown) =>
      fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${APP_ONE.secret}` },
        body: JSON.stringify({ query, variables }),
      }).then((r) => r.json() as Promise<{ data?: any; errors?: unknown }>);
    const watched = await call(first.url, "mutation($input: WatchInput!) { watch(channel: \"orders\", input: $input) { id } }", {
      input: { id: "failover", address: receiver.url },
    });
    expect(watched.errors).toBeUndefined();
    const total = 20;
    for (let i = 1; i <= total; i++) {
      const published = await call(first.url, "mutation($input: PublishInput!) { publish(input: $input) { id } }", { input: { channels: ["orders"], data: i } });
      expect(published.errors).toBeUndefined();
    }
    // Every publish returned: its notification is stored. Kill the instance mid-delivery.
    await receiver.waitFor(3);
    first.child.kill("SIGKILL");
    await first.exited;
    const heardBeforeDeath = receiver.received.length;
    expect(heardBeforeDeath).toBeLessThan(total + 1);

    const second = await spawnHerald(env);
    started.push(second);
    const all = await receiver.waitFor(total + 1, () => true, 60_000).catch(() => receiver.received);
    await sleep(500);
    const numbers = receiver.received.map((r) => Number(r.headers["x-goog-message-number"]));
    const distinct = [...new Set(numbers)];
    // None lost: the sync (1) and every message (2..21), first heard in order.
    expect(distinct).toEqual(Array.from({ length: total + 1 }, (_, i) => i + 1));
    // At least once: only the notification in flight when the instance died may come twice.
    expect(numbers.length - distinct.length).toBeLessThanOrEqual(1);
    expect(receiver.received.slice(1).map((r) => JSON.parse(r.body))).toEqual(
      numbers.slice(1).map((n) => n - 1),
    );
    expect(all.length).toBeGreaterThanOrEqual(total + 1);
    second.child.kill("SIGTERM");
    await second.exited;
    await receiver.close();
  });
});
