import { createHash } from "node:crypto";
import Pusher from "pusher";
import { describe, expect, it } from "vitest";
import type { App } from "../src/config.ts";
import { ErrorCode, HeraldError } from "../src/errors.ts";
import { pusherErrorResponse } from "../src/rest/pusher/errors.ts";
import { usePusherApi } from "../src/rest/pusher/index.ts";
import type { HeraldCore } from "../src/core/herald.ts";
import { signPusherRequest } from "../src/rest/pusher/signature.ts";
import { APP_OFF, APP_ONE, APP_TWO, type WsConnection, useHerald, subscribed } from "./helpers/herald.ts";
import { uniquePrefix, ENGINES } from "./helpers/redis.ts";
import { expectTwinsInSchema } from "./helpers/route-twins.ts";
import { rejectionOf } from "./helpers/wait.ts";

const prefix = uniquePrefix("pusher-api");


const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");

describe.each(ENGINES)("Pusher HTTP API with the official SDK ($name engine)", ({ redis, skip }) => {
  const server = useHerald({ redis, skip }, prefix);

  function sdk(app: Pick<App, "id" | "key" | "secret">): Pusher {
    return new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: "127.0.0.1", port: new URL(server.url).port, useTLS: false });
  }

  const connect = (app: App = APP_ONE): WsConnection => server.connect({ key: app.key });

  /**
   * A signed request built by hand, for what the SDK cannot send (bad timestamps, bodies it
   * refuses to build or would re-encode). `signedBody` is what body_md5 covers (default: body).
   */
  async function signedRequest(
    method: "GET" | "POST",
    path: string,
    options: { app?: App; body?: string; signedBody?: string; timestamp?: number; params?: Record<string, string> } = {},
  ): Promise<{ status: number; body: string }> {
    const { app = APP_ONE, body, signedBody = body, timestamp = Math.floor(Date.now() / 1000), params = {} } = options;
    const query = new URLSearchParams({ auth_key: app.key, auth_timestamp: String(timestamp), auth_version: "1.0", ...params });
    if (signedBody !== undefined) query.set("body_md5", md5(signedBody));
    query.set("auth_signature", signPusherRequest(app.secret, method, path, query));
    const response = await fetch(`${server.url}${path}?${query}`, {
      method,
      ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } }),
    });
    return { status: response.status, body: await response.text() };
  }

  /**
   * Subscribes to `channel` in each app; `nothingDelivered()` then publishes a marker in each and
   * checks it is the only thing that arrived, so a rejected request published nothing.
   */
  async function watch(channel: string, apps: App[] = [APP_ONE]) {
    const watchers = await Promise.all(apps.map(async (app) => ({ app, sub: await subscribed(connect(app), channel) })));
    return {
      async nothingDelivered() {
        for (const { app, sub } of watchers) {
          await sdk(app).trigger(channel, "marker", "after");
          await sub.messages(1);
          expect(sub.events.map((e) => e.event)).toEqual(["marker"]);
        }
      },
    };
  }

  describe.skipIf(skip)("publishing", () => {
    it("trigger delivers the event name and the data string byte for byte", async () => {
      const sub = await subscribed(connect(), "pusher-one");
      const data = JSON.stringify({ text: "héllo wörld ✓ 🎉", spaced: "a  b\tc" }, null, 2);
      const response = await sdk(APP_ONE).trigger("pusher-one", "greeting", data);
      expect(response.status).toBe(200);
      // A plain JSON answer of stated length, not a chunked stream.
      expect(response.headers.get("content-length")).toBe("2");
      expect(response.headers.get("transfer-encoding")).toBeNull();
      expect(await response.json()).toEqual({});
      const [event] = await sub.messages(1);
      expect(event).toMatchObject({ kind: "MESSAGE", channel: "pusher-one", event: "greeting", data });
    });

    it("trigger to several channels delivers the same event on each", async () => {
      const ws = connect();
      const subs = await Promise.all(["multi-a", "multi-b", "multi-c"].map((name) => subscribed(ws, name)));
      await sdk(APP_ONE).trigger(["multi-a", "multi-b", "multi-c"], "update", '{"n": 1}');
      for (const [i, sub] of subs.entries()) {
        const [event] = await sub.messages(1);
        expect(event).toMatchObject({ channel: `multi-${"abc"[i]}`, event: "update", data: '{"n": 1}' });
      }
    });

    it("skips the connection given as socket_id", async () => {
      const sender = connect();
      const socketId = String((await sender.ack).socketId);
      const senderSub = await subscribed(sender, "excluding");
      const otherSub = await subscribed(connect(), "excluding");
      await sdk(APP_ONE).trigger("excluding", "said", "hi", { socket_id: socketId });
      await otherSub.messages(1);
      // A marker published after: once it arrives, the excluded event would have too.
      await sdk(APP_ONE).trigger("excluding", "marker", "after");
      await senderSub.messages(1);
      expect(senderSub.events.map((e) => e.event)).toEqual(["marker"]);
      expect((await otherSub.messages(2)).map((e) => e.event)).toEqual(["said", "marker"]);
    });

    it("returns the info asked for per channel (user_count only for presence channels)", async () => {
      const one = connect();
      const two = connect();
      await Promise.all([subscribed(one, "counted-a"), subscribed(two, "counted-a"), subscribed(one, "counted-b")]);
      const counts = await sdk(APP_ONE).trigger(["counted-a", "counted-b"], "ping", "x", { info: "subscription_count" });
      expect(await counts.json()).toEqual({
        channels: { "counted-a": { subscription_count: 2 }, "counted-b": { subscription_count: 1 } },
      });
      const both = await sdk(APP_ONE).trigger("counted-b", "ping", "x", { info: "subscription_count,user_count" });
      expect(await both.json()).toEqual({ channels: { "counted-b": { subscription_count: 1 } } });
    });

    it("triggerBatch publishes every event in order, with info index-aligned", async () => {
      const ws = connect();
      const [subA, subB] = await Promise.all([subscribed(ws, "batch-a"), subscribed(ws, "batch-b")]);
      const response = await sdk(APP_ONE).triggerBatch([
        { channel: "batch-a", name: "first", data: "1", info: "subscription_count" },
        { channel: "batch-b", name: "second", data: '{"two":2}' },
        { channel: "batch-a", name: "third", data: "3" },
      ]);
      expect(await response.json()).toEqual({ batch: [{ subscription_count: 1 }, {}, {}] });
      expect((await subA.messages(2)).map((e) => [e.event, e.data])).toEqual([
        ["first", "1"],
        ["third", "3"],
      ]);
      expect((await subB.messages(1)).map((e) => [e.event, e.data])).toEqual([["second", '{"two":2}']]);

      const plain = await sdk(APP_ONE).triggerBatch([{ channel: "batch-b", name: "fourth", data: "4" }]);
      expect(await plain.json()).toEqual({});
    });
  });

  describe.skipIf(skip)("channel state", () => {
    it("GET /channels lists occupied channels by prefix", async () => {
      const ws = connect();
      await Promise.all(["lobby-1", "lobby-2", "lobby-2", "hall-1"].map((name) => subscribed(ws, name)));
      const response = await sdk(APP_ONE).get({ path: "/channels", params: { filter_by_prefix: "lobby-" } });
      expect(await response.json()).toEqual({ channels: { "lobby-1": {}, "lobby-2": {} } });
      // Another app sees none of them.
      const other = await sdk(APP_TWO).get({ path: "/channels", params: { filter_by_prefix: "lobby-" } });
      expect(await other.json()).toEqual({ channels: {} });
    });

    it("GET /channels takes info=user_count for presence- prefixes only", async () => {
      const presence = await sdk(APP_ONE).get({ path: "/channels", params: { filter_by_prefix: "presence-", info: "user_count" } });
      expect(await presence.json()).toEqual({ channels: {} });
      const rejected = await rejectionOf(sdk(APP_ONE).get({ path: "/channels", params: { filter_by_prefix: "lobby-", info: "user_count" } }));
      expect(rejected).toMatchObject({ status: 400, body: expect.stringContaining("presence-") });
      const unknown = await rejectionOf(sdk(APP_ONE).get({ path: "/channels", params: { info: "subscription_count" } }));
      expect(unknown).toMatchObject({ status: 400, body: expect.stringContaining("unknown attribute") });
    });

    it("GET /channels/:name answers occupied and the counts asked for", async () => {
      const ws = connect();
      await Promise.all([subscribed(ws, "state-room"), subscribed(connect(), "state-room")]);
      const counted = await sdk(APP_ONE).get({ path: "/channels/state-room", params: { info: "subscription_count" } });
      expect(await counted.json()).toEqual({ occupied: true, subscription_count: 2 });
      const plain = await sdk(APP_ONE).get({ path: "/channels/state-room" });
      expect(await plain.json()).toEqual({ occupied: true });
      const empty = await sdk(APP_ONE).get({ path: "/channels/nobody-here", params: { info: "subscription_count" } });
      expect(await empty.json()).toEqual({ occupied: false, subscription_count: 0 });
      const users = await rejectionOf(sdk(APP_ONE).get({ path: "/channels/state-room", params: { info: "user_count" } }));
      expect(users).toMatchObject({ status: 400, body: expect.stringContaining("presence channels") });
      const invalid = await rejectionOf(sdk(APP_ONE).get({ path: "/channels/bad!name" }));
      expect(invalid).toMatchObject({ status: 400, body: expect.stringContaining("Invalid channel name") });
    });

    it("answers 404 for a route Pusher does not have", async () => {
      const rejected = await rejectionOf(sdk(APP_ONE).get({ path: "/no-such-route" }));
      expect(rejected.status).toBe(404);
    });
  });

  describe.skipIf(skip)("rejections publish nothing", () => {
    it("401 for a wrong secret", async () => {
      const guard = await watch("guard-secret");
      const rejected = await rejectionOf(sdk({ ...APP_ONE, secret: "not-the-secret-0123456789" }).trigger("guard-secret", "evil", "x"));
      expect(rejected).toMatchObject({ status: 401, body: expect.stringContaining("Invalid signature") });
      await guard.nothingDelivered();
    });

    it("401 for an unknown key", async () => {
      const guard = await watch("guard-key");
      const rejected = await rejectionOf(sdk({ ...APP_ONE, key: "no-such-key-000" }).trigger("guard-key", "evil", "x"));
      expect(rejected).toMatchObject({ status: 401, body: "Unknown auth_key" });
      await guard.nothingDelivered();
    });

    it("401 for stale and future timestamps", async () => {
      const guard = await watch("guard-time");
      const body = JSON.stringify({ name: "evil", data: "x", channels: ["guard-time"] });
      const now = Math.floor(Date.now() / 1000);
      // A minute past the 600 s window either way, so a slow request cannot bring one back in.
      for (const timestamp of [now - 660, now + 660]) {
        const rejected = await signedRequest("POST", "/apps/one/events", { body, timestamp });
        expect(rejected).toMatchObject({ status: 401, body: expect.stringContaining("Timestamp expired") });
      }
      // The same request within the window goes through (so the timestamps were the problem).
      expect((await signedRequest("POST", "/apps/one/events", { body: JSON.stringify({ name: "fine", data: "x", channel: "other" }), timestamp: now - 590 })).status).toBe(200);
      await guard.nothingDelivered();
    });

    it("401 for a body that differs from body_md5", async () => {
      const guard = await watch("guard-body");
      const signedBody = JSON.stringify({ name: "harmless", data: "x", channels: ["elsewhere"] });
      const body = JSON.stringify({ name: "evil", data: "x", channels: ["guard-body"] });
      const rejected = await signedRequest("POST", "/apps/one/events", { body, signedBody });
      expect(rejected).toMatchObject({ status: 401, body: expect.stringContaining("body_md5") });
      await guard.nothingDelivered();
    });

    it("401 when the key's app is not the app in the path", async () => {
      const guard = await watch("guard-mismatch", [APP_ONE, APP_TWO]);
      const mismatched = sdk({ ...APP_ONE, id: APP_TWO.id });
      const rejected = await rejectionOf(mismatched.trigger("guard-mismatch", "evil", "x"));
      expect(rejected).toMatchObject({ status: 401, body: expect.stringContaining("app id mismatch") });
      const read = await rejectionOf(mismatched.get({ path: "/channels" }));
      expect(read).toMatchObject({ status: 401, body: expect.stringContaining("app id mismatch") });
      await guard.nothingDelivered();
    });

    it("403 for a disabled app", async () => {
      // No one can subscribe in a disabled app; its publish must still be refused, before the body is read.
      const rejected = await rejectionOf(sdk(APP_OFF).trigger("anything", "evil", "x"));
      expect(rejected).toMatchObject({ status: 403, body: expect.stringContaining("disabled") });
      const invalid = await signedRequest("POST", "/apps/off/events", { app: APP_OFF, body: "{not json" });
      expect(invalid.status).toBe(403);
      const read = await rejectionOf(sdk(APP_OFF).get({ path: "/channels" }));
      expect(read.status).toBe(403);
    });

    it("400 for more than 100 channels", async () => {
      const guard = await watch("guard-many");
      const channels = ["guard-many", ...Array.from({ length: 100 }, (_, i) => `many-${i}`)];
      // The SDK refuses to send this itself; a hand-signed request does.
      const rejected = await signedRequest("POST", "/apps/one/events", { body: JSON.stringify({ name: "evil", data: "x", channels }) });
      expect(rejected).toMatchObject({ status: 400, body: expect.stringContaining("at most 100 channels") });
      await guard.nothingDelivered();
    });

    it("400 for more than 10 batch events, and for one bad event in a batch", async () => {
      const guard = await watch("guard-batch");
      const events = Array.from({ length: 11 }, (_, i) => ({ channel: "guard-batch", name: `evil-${i}`, data: "x" }));
      const tooMany = await rejectionOf(sdk(APP_ONE).triggerBatch(events));
      expect(tooMany).toMatchObject({ status: 400, body: expect.stringContaining("at most 10 events") });
      const oneBad = await rejectionOf(
        sdk(APP_ONE).triggerBatch([
          { channel: "guard-batch", name: "evil", data: "x" },
          { channel: "bad channel", name: "evil", data: "x" },
        ]),
      );
      expect(oneBad).toMatchObject({ status: 400, body: expect.stringContaining("Event 1: Invalid channel name") });
      await guard.nothingDelivered();
    });

    it("413 for data over 10 KiB", async () => {
      const guard = await watch("guard-size");
      const rejected = await rejectionOf(sdk(APP_ONE).trigger("guard-size", "evil", "x".repeat(10 * 1024 + 1)));
      expect(rejected).toMatchObject({ status: 413, body: expect.stringContaining("over the limit of 10240 bytes") });
      await guard.nothingDelivered();
    });

    it("413 in Pusher's plain text for a request body over HERALD_MAX_REQUEST_BYTES", async () => {
      const guard = await watch("guard-body");
      const body = JSON.stringify({ name: "evil", data: "x".repeat(1024 * 1024), channels: ["guard-body"] });
      const rejected = await signedRequest("POST", "/apps/one/events", { body });
      expect(rejected).toEqual({ status: 413, body: "Request body is larger than 1048576 bytes" });
      await guard.nothingDelivered();
    });

    it("400 for invalid channel names", async () => {
      const guard = await watch("guard-name");
      for (const bad of ["with space", "", "x".repeat(201), "ünicode"]) {
        const rejected = await signedRequest("POST", "/apps/one/events", {
          body: JSON.stringify({ name: "evil", data: "x", channels: ["guard-name", bad] }),
        });
        expect(rejected, JSON.stringify(bad)).toMatchObject({ status: 400, body: expect.stringMatching(/channel name/i) });
      }
      await guard.nothingDelivered();
    });

    it("400 for invalid JSON and for bodies of the wrong shape", async () => {
      const guard = await watch("guard-shape");
      const cases: [string, string][] = [
        ["{not json", "Invalid JSON body"],
        ["", "Invalid JSON body"],
        ['["guard-shape"]', "Expected object"],
        [JSON.stringify({ name: "evil", data: { not: "a string" }, channels: ["guard-shape"] }), "data must be a string"],
        [JSON.stringify({ name: "evil", channels: ["guard-shape"] }), "data is required"],
        [JSON.stringify({ name: "evil", data: "x" }), "exactly one of channels and channel"],
        [JSON.stringify({ name: "evil", data: "x", channel: "guard-shape", channels: ["guard-shape"] }), "exactly one of channels and channel"],
        [JSON.stringify({ name: "evil", data: "x", channels: ["guard-shape"], info: "everything" }), "unknown attribute"],
        [JSON.stringify({ name: "evil", data: "x", channels: ["guard-shape"], socket_id: "nope" }), "Invalid socket id"],
        [JSON.stringify({ name: "", data: "x", channels: ["guard-shape"] }), "Event name"],
      ];
      for (const [body, message] of cases) {
        const rejected = await signedRequest("POST", "/apps/one/events", { body });
        expect(rejected, body).toMatchObject({ status: 400, body: expect.stringContaining(message) });
      }
      const batch = await signedRequest("POST", "/apps/one/batch_events", { body: JSON.stringify({ batch: [{ channel: "guard-shape", name: "evil", data: 1 }] }) });
      expect(batch).toMatchObject({ status: 400, body: expect.stringContaining("batch.0.data: data must be a string") });
      await guard.nothingDelivered();
    });
  });
});

describe("pusherErrorResponse", () => {
  it("answers Herald errors with Pusher's status and a plain-text message", () => {
    expect(pusherErrorResponse(new HeraldError(ErrorCode.InvalidChannelName, "Invalid channel name"))).toEqual({ status: 400, body: "Invalid channel name" });
    expect(pusherErrorResponse(new HeraldError(ErrorCode.PayloadTooLarge, "too big"))).toEqual({ status: 413, body: "too big" });
    expect(pusherErrorResponse(new HeraldError(ErrorCode.EngineUnavailable, "engine down"))).toEqual({ status: 503, body: "engine down" });
  });

  it("masks internal and unknown errors as 500", () => {
    const masked = { status: 500, body: "Internal server error" };
    expect(pusherErrorResponse(new Error("secret detail"))).toEqual(masked);
    expect(pusherErrorResponse(new HeraldError(ErrorCode.Internal, "secret detail"))).toEqual(masked);
    expect(pusherErrorResponse(new HeraldError("NOT_A_CODE" as ErrorCode, "secret detail"))).toEqual(masked);
  });
});

describe("the Pusher route table", () => {
  // Building the table calls nothing on the core; the handlers are never run here.
  const routes = usePusherApi({
    core: {} as HeraldCore,
    config: { pusher: { maxPayloadBytes: 10_240, maxClockSkewSeconds: 600 } },
  });

  it("has every route of the Pusher HTTP API that Herald serves", () => {
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /apps/:appId/events",
      "POST /apps/:appId/batch_events",
      "GET /apps/:appId/channels",
      "GET /apps/:appId/channels/:channelName",
      "GET /apps/:appId/channels/:channelName/users",
      "POST /apps/:appId/users/:userId/terminate_connections",
      "POST /apps/:appId/users/:userId/events",
    ]);
  });

  it("names for each route a GraphQL twin that exists in the printed schema", () => {
    for (const { method, path, twins } of routes) expect(twins, `${method} ${path}`).toHaveLength(1);
    expectTwinsInSchema(routes);
  });
});
