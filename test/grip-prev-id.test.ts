import { Publisher } from "@fanoutio/grip";
import { describe, expect, it } from "vitest";
import { OnGripChannelDocument, PublishDocument, type OnGripChannelSubscription } from "./generated/graphql.ts";
import { APP_ONE, connectWs, gql, sleep, subscribeWith, usePair, type TestServer } from "./helpers/herald.ts";
import { ENGINES, uniquePrefix } from "./helpers/redis.ts";

const prefix = uniquePrefix("grip-prev-id");
/** Long enough that a loaded machine never reaches it by accident in the ordered cases. */
const WAIT_MS = 4_000;

/**
 * GRIP `prev-id` ordering on two instances of one service (on Redis; in memory one server
 * stands for both): items published on either instance reach subscribers on the other in
 * `prev-id` order, whatever order they arrived in.
 */
describe.each(ENGINES)("GRIP prev-id ordering ($name engine, two instances)", ({ redis, skip }) => {
  const { a, b } = usePair({ redis, skip }, prefix, { HERALD_GRIP_PREV_ID_WAIT_MS: String(WAIT_MS) });
  const publisher = (server: TestServer) => new Publisher({ control_uri: `${server.url}/service/${APP_ONE.id}`, key: APP_ONE.secret });
  const item = (server: TestServer, channel: string, id: string, prevId?: string) =>
    prevId === undefined ? publisher(server).publishHttpStream(channel, id, id) : publisher(server).publishHttpStream(channel, id, id, prevId);

  async function subscriber(server: TestServer, channel: string) {
    const ws = connectWs(server);
    const sub = subscribeWith<OnGripChannelSubscription>(ws, OnGripChannelDocument, channel);
    await sub.subscribed;
    return { sub, ids: () => sub.events.map((e) => e.id), dispose: () => ws.dispose() };
  }

  describe.skipIf(skip)("ordering", () => {
    it("publishes items that arrive in order at once", async () => {
      const watcher = await subscriber(b, "in-order");
      const started = Date.now();
      await item(a, "in-order", "o1");
      await item(b, "in-order", "o2", "o1");
      await item(a, "in-order", "o3", "o2");
      await watcher.sub.messages(3);
      expect(watcher.ids()).toEqual(["o1", "o2", "o3"]);
      expect(Date.now() - started).toBeLessThan(WAIT_MS - 1_000); // none was held for its bound
      await watcher.dispose();
    });

    it("holds items that arrive out of order until their predecessor, then releases them in order", async () => {
      const watcher = await subscriber(b, "out-of-order");
      const answered: string[] = [];
      const third = item(a, "out-of-order", "x3", "x2").then(() => answered.push("x3"));
      const second = item(b, "out-of-order", "x2", "x1").then(() => answered.push("x2"));
      await sleep(300);
      // Held: nothing delivered, nothing answered yet.
      expect(watcher.ids()).toEqual([]);
      expect(answered).toEqual([]);
      await item(a, "out-of-order", "x1");
      await Promise.all([second, third]);
      await watcher.sub.messages(3);
      expect(watcher.ids()).toEqual(["x1", "x2", "x3"]);
      expect(answered).toEqual(["x2", "x3"]);
      await watcher.dispose();
    });

    it("publishes an item whose predecessor never comes once HERALD_GRIP_PREV_ID_WAIT_MS has passed", async () => {
      const watcher = await subscriber(a, "missing");
      const started = Date.now();
      await item(b, "missing", "m2", "m1-never-published");
      const waited = Date.now() - started;
      await watcher.sub.messages(1);
      expect(watcher.ids()).toEqual(["m2"]);
      expect(waited).toBeGreaterThanOrEqual(WAIT_MS - 50);
      // Its successor follows at once: m2 was published.
      await item(a, "missing", "m3", "m2");
      await watcher.sub.messages(2);
      expect(watcher.ids()).toEqual(["m2", "m3"]);
      await watcher.dispose();
    }, 20_000);

    it("orders the items of one request by prev-id, and delivers a held duplicate id once", async () => {
      const watcher = await subscriber(b, "one-request");
      const response = await fetch(`${a.url}/publish/`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${APP_ONE.secret}` },
        body: JSON.stringify({
          items: [
            { channel: "one-request", id: "r2", "prev-id": "r1", formats: { "http-stream": { content: "r2" } } },
            { channel: "one-request", id: "r1", formats: { "http-stream": { content: "r1" } } },
          ],
        }),
      });
      expect(response.status).toBe(200);
      // The same held item twice, on both instances: one delivery.
      const twice = [item(a, "one-request", "r4", "r3"), item(b, "one-request", "r4", "r3")];
      await sleep(200);
      await item(b, "one-request", "r3", "r2");
      await Promise.all(twice);
      await gql(a, PublishDocument, { input: { channels: ["one-request"], id: "marker" } });
      await watcher.sub.messages(5);
      expect(watcher.ids()).toEqual(["r1", "r2", "r3", "r4", "marker"]);
      await watcher.dispose();
    });
  });
});
