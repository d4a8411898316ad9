import Pusher from "pusher";
import type { Channel } from "pusher-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { APP_ONE, APP_TWO, connectWs, sleep, startPair, subscribeChannel, type TestServer } from "./helpers/herald.ts";
import { subscribe, usePusherJs } from "./helpers/pusher-js.ts";
import { startReceiver, type Receiver } from "./helpers/receiver.ts";
import { deleteKeys, ENGINES, uniquePrefix } from "./helpers/redis.ts";
import { until } from "./helpers/wait.ts";

/**
 * Subscription counts (HERALD_APPS `enableSubscriptionCount`, and the `subscription_count`
 * webhook): what pusher-js frontends (`pusher:subscription_count`), graphql-ws subscribers
 * (SUBSCRIPTION_COUNT) and a webhook receiver hear as connections on two instances come and go.
 */
const INTERVAL_MS = 50;
const LARGE_CHANNEL = 3;
const LARGE_INTERVAL_MS = 1_200;
const pusher = new Pusher({ appId: APP_ONE.id, key: APP_ONE.key, secret: APP_ONE.secret, cluster: "mt1" });

/** Every `pusher:subscription_count` a pusher-js channel emitted, as the app's code sees them. */
function counts(channel: Channel) {
  const seen: { count: number; at: number }[] = [];
  channel.bind("pusher:subscription_count", (data: { subscription_count: number }) => seen.push({ count: data.subscription_count, at: Date.now() }));
  return seen;
}

for (const engine of ENGINES) {
  describe.skipIf(engine.skip)(`subscription counts ('${engine.name}' engine)`, () => {
    const prefix = uniquePrefix(`subscription-count-${engine.name}`);
    let receiver: Receiver;
    let pair: Awaited<ReturnType<typeof startPair>>;
    let a: TestServer;
    let b: TestServer;
    const sockets: { dispose(): Promise<void> }[] = [];

    beforeAll(async () => {
      receiver = await startReceiver();
      const apps = [
        {
          ...APP_ONE,
          enableSubscriptionCount: true,
          webhooks: [{ url: `${receiver.url}/counts`, events: ["subscription_count"] }, { url: `${receiver.url}/default` }],
        },
        APP_TWO,
      ];
      pair = await startPair(engine.redis, prefix, {
        HERALD_APPS: JSON.stringify(apps),
        HERALD_WEBHOOK_ALLOW_PRIVATE: "1",
        HERALD_PUSHER_WEBHOOK_BATCH_MS: "20",
        HERALD_WEBHOOK_POLL_MS: "50",
        HERALD_SUBSCRIPTION_COUNT_INTERVAL_MS: String(INTERVAL_MS),
        HERALD_SUBSCRIPTION_COUNT_LARGE_CHANNEL: String(LARGE_CHANNEL),
        HERALD_SUBSCRIPTION_COUNT_LARGE_INTERVAL_MS: String(LARGE_INTERVAL_MS),
      });
      ({ a, b } = pair);
    });
    afterAll(async () => {
      await Promise.all(sockets.splice(0).map((s) => s.dispose()));
      await pair?.close();
      await receiver?.close();
      if (engine.redis) await deleteKeys(engine.redis, prefix);
    });

    /** The counts the webhook at `path` reported for `channel`, each POST checked with the SDK first. */
    const reported = (channel: string, path = "/counts") =>
      receiver.received
        .filter((r) => r.path === path)
        .flatMap((r) => {
          const hook = pusher.webhook({ headers: r.headers as Record<string, string>, rawBody: r.body });
          expect(hook.isValid()).toBe(true);
          return hook.getEvents() as unknown as { name: string; channel: string; subscription_count?: number }[];
        })
        .filter((e) => e.channel === channel);
    let counter = 0;
    const channelName = (what: string) => `${what}-${++counter}-${Math.random().toString(36).slice(2, 6)}`;
    const pusherJs = usePusherJs();

    it("tells every subscriber on every instance the count as it changes, and the webhook each new count once", async () => {
      const channel = channelName("audience");
      const first = pusherJs.client(a);
      const { channel: firstChannel } = await subscribe(first, channel);
      const firstSeen = counts(firstChannel);
      await until(() => firstSeen.at(-1)?.count === 1);

      const second = pusherJs.client(b);
      const secondSub = subscribe(second, channel);
      const secondSeen = counts(second.channel(channel) ?? second.subscribe(channel));
      await secondSub;
      await until(() => firstSeen.at(-1)?.count === 2 && secondSeen.at(-1)?.count === 2);
      expect(second.channel(channel).subscriptionCount).toBe(2);

      // A graphql-ws subscriber counts too, and hears SUBSCRIPTION_COUNT with the same numbers.
      const ws = connectWs(a);
      sockets.push(ws);
      const sub = subscribeChannel(ws, channel);
      await sub.subscribed;
      await until(() => firstSeen.at(-1)?.count === 3 && secondSeen.at(-1)?.count === 3);
      await until(() => sub.events.some((e) => e.kind === "SUBSCRIPTION_COUNT"));
      expect(sub.events.filter((e) => e.kind === "SUBSCRIPTION_COUNT").map((e) => e.data)).toEqual([{ subscriptionCount: 3 }]);
      expect(sub.events.find((e) => e.kind === "SUBSCRIPTION_COUNT")).toMatchObject({ event: "herald:subscription_count", channel, id: expect.any(String) });

      second.disconnect();
      await until(() => firstSeen.at(-1)?.count === 2 && sub.events.at(-1)?.kind === "SUBSCRIPTION_COUNT" && (sub.events.at(-1)?.data as { subscriptionCount: number }).subscriptionCount === 2);
      sub.unsubscribe();
      await until(() => firstSeen.at(-1)?.count === 1);
      first.disconnect();

      // The webhook: every change, in order, ending at 0; never the same count twice in a row.
      await until(() => reported(channel).at(-1)?.subscription_count === 0);
      const values = reported(channel).map((e) => e.subscription_count);
      expect(values).toEqual([1, 2, 3, 2, 1, 0]);
      expect(reported(channel).every((e) => e.name === "subscription_count")).toBe(true);
      // A webhook without `events` is not sent counts (as on Pusher, they are enabled on their own).
      expect(reported(channel, "/default").map((e) => e.name)).toContain("channel_occupied");
      expect(reported(channel, "/default").filter((e) => e.name === "subscription_count")).toEqual([]);
    });

    it("gathers a burst of joins, and reports a large channel at most once per the large interval, ending at the true count", async () => {
      // One instance: the interval is each instance's own (two may each report once per interval).
      const channel = channelName("stadium");
      const watcher = pusherJs.client(a);
      const { channel: watched } = await subscribe(watcher, channel);
      const seen = counts(watched);
      await until(() => seen.at(-1)?.count === 1);
      const crowd = Array.from({ length: 5 }, () => pusherJs.client(a));
      await Promise.all(crowd.map((client) => subscribe(client, channel)));
      await until(() => seen.at(-1)?.count === 6);
      crowd[0]!.disconnect();
      crowd[1]!.disconnect();
      await until(() => seen.at(-1)?.count === 4);
      // Fewer reports than changes (the five joins were gathered), and after each report of more
      // than LARGE_CHANNEL the next waited the large interval (less the timers' slack).
      expect(seen.length).toBeLessThan(1 + 5 + 2);
      const gaps = seen.slice(1).map((s, i) => ({ after: seen[i]!.count, ms: s.at - seen[i]!.at }));
      expect(gaps.some((g) => g.after > LARGE_CHANNEL)).toBe(true);
      for (const gap of gaps) if (gap.after > LARGE_CHANNEL) expect(gap.ms).toBeGreaterThanOrEqual(LARGE_INTERVAL_MS - 100);
      for (const client of [watcher, ...crowd]) client.disconnect();
    });

    it("sends no counts on presence channels, nor for an app that did not enable them", async () => {
      const presence = `presence-${channelName("room")}`;
      const other = channelName("elsewhere");
      const member = pusherJs.client(a, { member: { user_id: "ada" } });
      const { channel: room } = await subscribe(member, presence);
      const roomSeen = counts(room);
      const outsider = pusherJs.client(a, { app: APP_TWO });
      const { channel: elsewhere } = await subscribe(outsider, other);
      const elsewhereSeen = counts(elsewhere);
      // Proof that counts were flowing meanwhile: a counted channel hears its count.
      const control = pusherJs.client(b);
      const { channel: counted } = await subscribe(control, channelName("control"));
      const controlSeen = counts(counted);
      await until(() => controlSeen.length > 0);
      await sleep(INTERVAL_MS * 4);
      expect(roomSeen).toEqual([]);
      expect(elsewhereSeen).toEqual([]);
      expect(reported(presence)).toEqual([]);
      for (const client of [member, outsider, control]) client.disconnect();
    });
  });
}

describe("subscription count settings", () => {
  const apps = (extra: Record<string, unknown>) => JSON.stringify([{ ...APP_ONE, ...extra }]);

  it("is off unless the app enables it, and refuses a value that is not a boolean", () => {
    expect(loadConfig({ HERALD_APPS: apps({}) }).apps[0]!.enableSubscriptionCount).toBe(false);
    expect(loadConfig({ HERALD_APPS: apps({ enableSubscriptionCount: true }) }).apps[0]!.enableSubscriptionCount).toBe(true);
    expect(() => loadConfig({ HERALD_APPS: apps({ enableSubscriptionCount: "yes" }) })).toThrow(/HERALD_APPS: \[0\.enableSubscriptionCount\]/);
  });

  it("gives a webhook without events every event but subscription_count", () => {
    const config = loadConfig({ HERALD_APPS: apps({ webhooks: [{ url: "https://example.com/hook" }] }) });
    expect(config.apps[0]!.webhooks![0]!.events).toEqual(["channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss"]);
  });

  it("names the interval settings, with Pusher's split by default", () => {
    expect(loadConfig({}).subscriptionCount).toEqual({ intervalMs: 100, largeChannel: 100, largeIntervalMs: 5_000 });
    expect(() => loadConfig({ HERALD_SUBSCRIPTION_COUNT_LARGE_INTERVAL_MS: "-1" })).toThrow(/HERALD_SUBSCRIPTION_COUNT_LARGE_INTERVAL_MS/);
  });
});
