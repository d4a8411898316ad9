import Pusher from "pusher";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signSubscriberToken } from "../src/core/auth-tokens.ts";
import { loadConfig } from "../src/config.ts";
import { APP_ONE, APP_TWO, connectWs, sleep, startPair, subscribeChannel, type TestServer } from "./helpers/herald.ts";
import { collect, subscribe, usePusherJs } from "./helpers/pusher-js.ts";
import { startReceiver, type Receiver } from "./helpers/receiver.ts";
import { deleteKeys, ENGINES, uniquePrefix } from "./helpers/redis.ts";
import { until } from "./helpers/wait.ts";

/**
 * Pusher lifecycle webhooks (HERALD_APPS `webhooks`): what a receiver using the official `pusher`
 * SDK hears when channels fill and empty and members come and go, on one instance or two.
 */
const DELAY_MS = 800;
const pusher = new Pusher({ appId: APP_ONE.id, key: APP_ONE.key, secret: APP_ONE.secret, cluster: "mt1" });

interface Hook {
  time_ms: number;
  events: { name: string; channel: string; user_id?: string }[];
}

for (const engine of ENGINES) {
  describe.skipIf(engine.skip)(`Pusher webhooks ('${engine.name}' engine)`, () => {
    const prefix = uniquePrefix(`pusher-webhooks-${engine.name}`);
    let receiver: Receiver;
    let pair: Awaited<ReturnType<typeof startPair>>;
    let a: TestServer;
    let b: TestServer;
    const sockets: { dispose(): Promise<void> }[] = [];

    beforeAll(async () => {
      receiver = await startReceiver();
      const apps = [
        { ...APP_ONE, enableClientMessages: true, webhooks: [{ url: `${receiver.url}/all` }, { url: `${receiver.url}/members`, events: ["member_added", "member_removed"] }] },
        APP_TWO,
      ];
      pair = await startPair(engine.redis, prefix, {
        HERALD_APPS: JSON.stringify(apps),
        HERALD_WEBHOOK_ALLOW_PRIVATE: "1",
        HERALD_PUSHER_WEBHOOK_DELAY_MS: String(DELAY_MS),
        HERALD_PUSHER_WEBHOOK_BATCH_MS: "50",
        HERALD_WEBHOOK_POLL_MS: "50",
      });
      ({ a, b } = pair);
    });
    afterAll(async () => {
      await Promise.all(sockets.splice(0).map((s) => s.dispose()));
      await pair?.close();
      await receiver?.close();
      if (engine.redis) await deleteKeys(engine.redis, prefix);
    });
    beforeEach(() => {
      receiver.received.length = 0;
    });

    const connect = (server: TestServer, params?: Record<string, unknown>) => {
      const ws = connectWs(server, params);
      sockets.push(ws);
      return ws;
    };
    /** Every event the `/all` webhook was sent, each POST checked with the SDK first. */
    const events = (path = "/all") =>
      receiver.received
        .filter((r) => r.path === path)
        .flatMap((r) => {
          const hook = pusher.webhook({ headers: r.headers as Record<string, string>, rawBody: r.body });
          expect(hook.isValid()).toBe(true);
          return (hook.getData() as Hook).events;
        });
    const named = (channel: string, path = "/all") => events(path).filter((e) => e.channel === channel);
    let counter = 0;
    const channelName = (what: string) => `${what}-${++counter}-${Math.random().toString(36).slice(2, 6)}`;
    const pusherJs = usePusherJs();

    it("sends client_event for a pusher-js client event, once, from the instance it arrived at, with socket_id and user_id", async () => {
      const channel = `presence-${channelName("typing")}`;
      const sender = pusherJs.client(a, { member: { user_id: "ada" } });
      const other = pusherJs.client(b, { member: { user_id: "bob" } });
      const [mine, theirs] = await Promise.all([subscribe(sender, channel), subscribe(other, channel)]);
      const seen = collect(theirs.channel);
      expect(mine.channel.trigger("client-typing", { who: "ada" })).toBe(true);
      await seen.count(1);
      await until(() => named(channel).some((e) => e.name === "client_event"));
      await sleep(300); // a second report (from the other instance) would have come by now
      const reported = named(channel).filter((e) => e.name === "client_event");
      expect(reported).toEqual([
        { name: "client_event", channel, event: "client-typing", data: JSON.stringify({ who: "ada" }), socket_id: sender.connection.socket_id, user_id: "ada" },
      ]);
      // The members-only webhook does not get it.
      expect(named(channel, "/members").some((e) => e.name === "client_event")).toBe(false);
      sender.disconnect();
      other.disconnect();
    });

    it("sends cache_miss when a pusher-js client subscribes to a cache channel with nothing to replay, and not when it has", async () => {
      const empty = `cache-${channelName("quotes")}`;
      const filled = `cache-${channelName("quotes")}`;
      await pusherJs.backend(a).trigger(filled, "quote", { eur: 1 });
      const client = pusherJs.client(b);
      const missed = new Promise<void>((resolve) => client.subscribe(empty).bind("pusher:cache_miss", () => resolve()));
      await Promise.all([missed, subscribe(client, filled)]);
      await until(() => named(empty).some((e) => e.name === "cache_miss"));
      await sleep(300); // a second report, or one for the filled channel, would have come by now
      expect(named(empty).filter((e) => e.name === "cache_miss")).toEqual([{ name: "cache_miss", channel: empty }]);
      expect(named(filled).filter((e) => e.name === "cache_miss")).toEqual([]);
      expect(named(empty, "/members")).toEqual([]); // not among that webhook's events
      client.disconnect();
    });

    it("sends channel_occupied, then channel_vacated after the delay, signed so pusher.webhook().isValid() accepts them", async () => {
      const channel = channelName("room");
      const ws = connect(a);
      const sub = subscribeChannel(ws, channel);
      await sub.subscribed;
      await until(() => named(channel).length === 1);
      const [post] = receiver.received.filter((r) => r.path === "/all");
      expect(post!.headers["content-type"]).toBe("application/json");
      expect(post!.headers["x-pusher-key"]).toBe(APP_ONE.key);
      const hook = pusher.webhook({ headers: post!.headers as Record<string, string>, rawBody: post!.body });
      expect(Math.abs(hook.getTime().getTime() - Date.now())).toBeLessThan(10_000);
      expect(named(channel)).toEqual([{ name: "channel_occupied", channel }]);
      // A tampered body or another secret does not validate.
      const forged = new Pusher({ appId: "x", key: APP_ONE.key, secret: "another-secret-0000000000", cluster: "mt1" });
      expect(forged.webhook({ headers: post!.headers as Record<string, string>, rawBody: post!.body }).isValid()).toBe(false);
      expect(pusher.webhook({ headers: post!.headers as Record<string, string>, rawBody: post!.body.replace(channel, "other") }).isValid()).toBe(false);

      const left = Date.now();
      sub.unsubscribe();
      await until(() => named(channel).length === 2);
      expect(Date.now() - left).toBeGreaterThanOrEqual(DELAY_MS - 50);
      expect(named(channel)).toEqual([
        { name: "channel_occupied", channel },
        { name: "channel_vacated", channel },
      ]);
      // The member-only webhook heard none of it.
      expect(named(channel, "/members")).toEqual([]);
    });

    it("a reconnect within the delay fires nothing", async () => {
      const channel = channelName("flaky");
      const first = subscribeChannel(connect(a), channel);
      await first.subscribed;
      await until(() => named(channel).length === 1);
      first.unsubscribe();
      await sleep(DELAY_MS / 4);
      const again = subscribeChannel(connect(b), channel);
      await again.subscribed;
      await sleep(DELAY_MS * 2);
      expect(named(channel)).toEqual([{ name: "channel_occupied", channel }]);
      again.unsubscribe();
      await until(() => named(channel).length === 2);
      expect(named(channel)[1]).toEqual({ name: "channel_vacated", channel });
    });

    it("two instances (or many subscribers) produce one channel_occupied, not two", async () => {
      const channel = channelName("busy");
      const subs = [a, b, a, b].map((server) => subscribeChannel(connect(server), channel));
      await Promise.all(subs.map((s) => s.subscribed));
      await until(() => named(channel).length >= 1);
      await sleep(300);
      expect(named(channel)).toEqual([{ name: "channel_occupied", channel }]);
      for (const s of subs.slice(0, 3)) s.unsubscribe();
      await sleep(DELAY_MS + 300);
      expect(named(channel)).toHaveLength(1); // one subscriber is still there
      subs[3]!.unsubscribe();
      await until(() => named(channel).length === 2);
      await sleep(200);
      expect(named(channel).map((e) => e.name)).toEqual(["channel_occupied", "channel_vacated"]);
    });

    it("sends member_added and member_removed (with user_id) to the webhooks that ask for them, batched", async () => {
      const channel = channelName("presence-team");
      const token = (sub: string) => signSubscriberToken(APP_ONE.secret, { sub, channels: ["presence-*"], expiresInSeconds: 600 });
      const ada = subscribeChannel(connect(a, { key: APP_ONE.key, token: token("ada") }), channel);
      const bob = subscribeChannel(connect(b, { key: APP_ONE.key, token: token("bob") }), channel);
      await Promise.all([ada.subscribed, bob.subscribed]);
      await until(() => named(channel, "/members").length === 2);
      expect(named(channel, "/members").map((e) => [e.name, e.user_id]).sort()).toEqual([
        ["member_added", "ada"],
        ["member_added", "bob"],
      ]);
      // The other webhook heard the members and the channel; events close together came in one POST.
      await until(() => named(channel).length === 3);
      expect(named(channel).map((e) => e.name).sort()).toEqual(["channel_occupied", "member_added", "member_added"]);
      expect(receiver.received.filter((r) => r.path === "/all" && r.body.includes(channel)).length).toBeLessThan(3);
      bob.unsubscribe();
      await until(() => named(channel, "/members").length === 3);
      expect(named(channel, "/members")[2]).toEqual({ name: "member_removed", channel, user_id: "bob" });
    });

    it("a member who reconnects within the delay is neither removed nor added again", async () => {
      const channel = channelName("presence-desk");
      const token = signSubscriberToken(APP_ONE.secret, { sub: "cy", channels: ["presence-*"], expiresInSeconds: 600 });
      const first = subscribeChannel(connect(a, { key: APP_ONE.key, token }), channel);
      await first.subscribed;
      await until(() => named(channel, "/members").length === 1);
      first.unsubscribe();
      await sleep(DELAY_MS / 4);
      const again = subscribeChannel(connect(b, { key: APP_ONE.key, token }), channel);
      await again.subscribed;
      await sleep(DELAY_MS * 2);
      expect(named(channel, "/members")).toEqual([{ name: "member_added", channel, user_id: "cy" }]);
      again.unsubscribe();
      await until(() => named(channel, "/members").length === 2);
      expect(named(channel, "/members")[1]).toEqual({ name: "member_removed", channel, user_id: "cy" });
    });

    it("sends nothing for an app without webhooks", async () => {
      const channel = channelName("quiet");
      const sub = subscribeChannel(connect(a, { key: APP_TWO.key }), channel);
      await sub.subscribed;
      sub.unsubscribe();
      await sleep(DELAY_MS + 300);
      expect(receiver.received.filter((r) => r.body.includes(channel))).toEqual([]);
    });
  });
}

describe("HERALD_APPS webhooks", () => {
  const apps = (webhooks: unknown) => JSON.stringify([{ ...APP_ONE, webhooks }]);

  it.each([
    ["a url that is no URL", [{ url: "nope" }]],
    ["a non-http url", [{ url: "ftp://example.com/" }]],
    ["an unknown event", [{ url: "https://example.com/", events: ["channel_exploded"] }]],
    ["no events", [{ url: "https://example.com/", events: [] }]],
  ])("refuses %s at start, naming HERALD_APPS", (_what, webhooks) => {
    expect(() => loadConfig({ HERALD_APPS: apps(webhooks) })).toThrow(/HERALD_APPS.*webhooks/);
  });

  it("defaults events to all of them", () => {
    const [app] = loadConfig({ HERALD_APPS: apps([{ url: "https://example.com/hook" }]) }).apps;
    expect(app!.webhooks![0]!.events).toContain("channel_vacated");
  });
});
