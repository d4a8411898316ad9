import Pusher from "pusher";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../src/engine/memory.ts";
import { PublishDocument, TriggerBatchDocument, ChannelDocument } from "./generated/graphql.ts";
import { APP_OFF, APP_ONE, APP_TWO, connectWs, gql, startHerald, subscribeChannel, type Auth, type TestServer, refusal } from "./helpers/herald.ts";
import { rejectionOf } from "./helpers/wait.ts";

/** Every rejection gets a clear error with a code, and publishes nothing. */
describe("auth failures and bad input", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startHerald({ env: { HERALD_MAX_PAYLOAD_BYTES: "1024", HERALD_MAX_HEADER_VALUE_LENGTH: "100" } });
  });
  afterAll(() => server.close());

  /** Publishes `input` with `auth`, expects `code`, and proves a watcher of `channel` got nothing. */
  async function expectRejected(input: Parameters<typeof gql<unknown, { input: unknown }>>[2]["input"], code: string, auth: Auth = { bearer: APP_ONE.secret }, status?: number) {
    const ws = connectWs(server);
    const watcher = subscribeChannel(ws, "watched");
    await watcher.subscribed;
    const result = await gql(server, PublishDocument, { input: input as never }, auth);
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]?.extensions?.code).toBe(code);
    expect(result.errors?.[0]?.message.length).toBeGreaterThan(10);
    if (status) expect(result.status).toBe(status);
    // A marker published after the rejected call: when it arrives, anything before it would have.
    await gql(server, PublishDocument, { input: { channels: ["watched"], event: "marker" } });
    await watcher.messages(1);
    expect(watcher.events.map((e) => e.event)).toEqual(["marker"]);
    await ws.dispose();
    return result.errors![0]!;
  }

  it.each([
    ["no credentials", null, "UNAUTHENTICATED", 401],
    ["a wrong secret", { bearer: "not-the-secret-at-all" }, "UNAUTHENTICATED", 401],
    ["a wrong Basic secret", { basic: [APP_ONE.key, "wrong"] }, "UNAUTHENTICATED", 401],
    ["an unknown Basic key", { basic: ["nobody", APP_ONE.secret] }, "UNAUTHENTICATED", 401],
    ["the app key instead of the secret", { key: APP_ONE.key }, "UNAUTHENTICATED", 401],
    ["a disabled app's secret", { bearer: APP_OFF.secret }, "FORBIDDEN", 403],
  ] as const)("refuses a publish with %s", async (_label, auth, code, status) => {
    await expectRejected({ channels: ["watched"], event: "nope" }, code, auth as Auth, status);
  });

  it("does not deliver one app's publish to another app's subscribers", async () => {
    const ws = connectWs(server);
    const watcher = subscribeChannel(ws, "watched");
    await watcher.subscribed;
    await gql(server, PublishDocument, { input: { channels: ["watched"], event: "other-app" } }, { bearer: APP_TWO.secret });
    await gql(server, PublishDocument, { input: { channels: ["watched"], event: "marker" } });
    await watcher.messages(1);
    expect(watcher.events.map((e) => e.event)).toEqual(["marker"]);
    await ws.dispose();
  });

  it.each([
    ["an invalid channel name", { channels: ["watched", "has space"] }, "INVALID_CHANNEL_NAME"],
    ["an over-long channel name", { channels: ["watched", "x".repeat(201)] }, "INVALID_CHANNEL_NAME"],
    ["an over-long publisherId", { channels: ["watched"], publisherId: "p".repeat(201) }, "BAD_REQUEST"],
    ["no channels", { channels: [] }, "BAD_REQUEST"],
    ["more than 100 channels", { channels: ["watched", ...Array.from({ length: 100 }, (_, i) => `c${i}`)] }, "TOO_MANY_CHANNELS"],
    ["an empty event name", { channels: ["watched"], event: "" }, "INVALID_EVENT_NAME"],
    ["an over-long event name", { channels: ["watched"], event: "e".repeat(201) }, "INVALID_EVENT_NAME"],
    ["a reserved event name", { channels: ["watched"], event: "herald:subscription_succeeded" }, "INVALID_EVENT_NAME"],
    ["a payload over the limit", { channels: ["watched"], data: "x".repeat(1025) }, "PAYLOAD_TOO_LARGE"],
    ["non-string headers", { channels: ["watched"], headers: { n: 1 } }, "INVALID_HEADERS"],
    ["a malformed excludeSocketId", { channels: ["watched"], excludeSocketId: "abc" }, "INVALID_SOCKET_ID"],
    ["a message id with spaces", { channels: ["watched"], id: "has space" }, "INVALID_MESSAGE_ID"],
  ])("refuses %s", async (_label, input, code) => {
    await expectRejected(input, code, undefined, code === "PAYLOAD_TOO_LARGE" ? 413 : 400);
  });

  it("accepts a string payload of exactly the limit, counted in its own bytes", async () => {
    const result = await gql(server, PublishDocument, { input: { channels: ["watched"], data: "é".repeat(512) } });
    expect(result.errors).toBeUndefined();
    // 513 characters are 1026 bytes: over, although a character count would let them pass.
    await expectRejected({ channels: ["watched"], data: "é".repeat(513) }, "PAYLOAD_TOO_LARGE", undefined, 413);
  });

  it("names the limit of an oversized payload", async () => {
    const error = await expectRejected({ channels: ["watched"], data: "x".repeat(2000) }, "PAYLOAD_TOO_LARGE");
    expect(error.extensions?.limit).toBe(1024);
    expect(error.message).toMatch(/1024 bytes/);
  });

  it("refuses a header value over HERALD_MAX_HEADER_VALUE_LENGTH, naming the setting, and accepts one at it", async () => {
    const error = await expectRejected({ channels: ["watched"], headers: { ok: "x", h: "x".repeat(101) } }, "INVALID_HEADERS", undefined, 400);
    expect(error.message).toMatch(/HERALD_MAX_HEADER_VALUE_LENGTH/);
    expect(error.extensions).toMatchObject({ limit: 100, setting: "HERALD_MAX_HEADER_VALUE_LENGTH" });
    const ws = connectWs(server);
    const watcher = subscribeChannel(ws, "watched", { selector: "h LIKE '%x'" });
    await watcher.subscribed;
    const atLimit = await gql(server, PublishDocument, { input: { channels: ["watched"], headers: { h: "x".repeat(100) } } });
    expect(atLimit.errors).toBeUndefined();
    expect((await watcher.messages(1))[0]?.headers).toEqual({ h: "x".repeat(100) });
    await ws.dispose();
  });

  it("publishes nothing from a batch with one bad event, or more than 10 events", async () => {
    const ws = connectWs(server);
    const watcher = subscribeChannel(ws, "watched");
    await watcher.subscribed;
    const bad = await gql(server, TriggerBatchDocument, {
      events: [{ channels: ["watched"], event: "first" }, { channels: ["bad name"], event: "second" }],
    });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: "INVALID_CHANNEL_NAME", index: 1 });
    const big = await gql(server, TriggerBatchDocument, {
      events: Array.from({ length: 11 }, () => ({ channels: ["watched"], event: "many" })),
    });
    expect(big.errors?.[0]?.extensions).toMatchObject({ code: "BATCH_TOO_LARGE", limit: 10 });
    await gql(server, PublishDocument, { input: { channels: ["watched"], event: "marker" } });
    await watcher.messages(1);
    expect(watcher.events.map((e) => e.event)).toEqual(["marker"]);
    await ws.dispose();
  });

  it("refuses GraphQL request bodies over HERALD_MAX_REQUEST_BYTES (413) or without a length (411)", async () => {
    const small = await startHerald({ env: { HERALD_MAX_REQUEST_BYTES: "2048" } });
    const query = "mutation { publish(input: { channels: [\"x\"] }) { id } }";
    const post = (body: BodyInit, headers: Record<string, string> = {}) =>
      fetch(small.graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${APP_ONE.secret}`, ...headers },
        body,
        duplex: "half",
      } as RequestInit);
    expect((await post(JSON.stringify({ query }))).status).toBe(200);
    const tooLarge = await post(JSON.stringify({ query, variables: { pad: "x".repeat(4096) } }));
    expect(tooLarge.status).toBe(413);
    const chunked = await post(new Blob([JSON.stringify({ query })]).stream());
    expect(chunked.status).toBe(411);
    await small.close();
  });

  it("refuses state queries without the secret", async () => {
    const result = await gql(server, ChannelDocument, { name: "watched" }, { key: APP_ONE.key });
    expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("masks unexpected errors and reports GraphQL validation errors as they are", async () => {
    const response = await fetch(server.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${APP_ONE.secret}` },
      body: JSON.stringify({ query: "{ nope }" }),
    });
    const body = (await response.json()) as { errors: { message: string }[] };
    expect(body.errors[0]!.message).toMatch(/Cannot query field "nope"/);
  });
});

describe("an unexpected failure behind the core", () => {
  let server: TestServer;
  beforeAll(async () => {
    const engine = createMemoryEngine();
    server = await startHerald({
      engine: {
        ...engine,
        publish: async () => Promise.reject(new Error("redis password is hunter2")),
        // Herald's own control channel still works, so the server starts.
        subscribe: async (appId, channel, listener) =>
          channel.startsWith("$") ? engine.subscribe(appId, channel, listener) : Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6379")),
      },
    });
  });
  afterAll(() => server.close());

  it("is masked as INTERNAL_SERVER_ERROR on GraphQL, with nothing of the original message", async () => {
    const result = await gql(server, PublishDocument, { input: { channels: ["any"], data: 1 } });
    expect(result.data).toBeNull();
    expect(result.errors?.[0]?.extensions?.code).toBe("INTERNAL_SERVER_ERROR");
    expect(result.errors?.[0]?.message).toBe("Unexpected error.");
    expect(JSON.stringify(result)).not.toMatch(/hunter2/);
  });

  it("refuses a subscription as ENGINE_UNAVAILABLE", async () => {
    const ws = connectWs(server);
    const sub = subscribeChannel(ws, "any");
    expect((await refusal(sub))?.code).toBe("ENGINE_UNAVAILABLE");
    await ws.dispose();
  });

  it("is a plain 500 on the Pusher routes", async () => {
    const rejected = await rejectionOf(new Pusher({ appId: APP_ONE.id, key: APP_ONE.key, secret: APP_ONE.secret, host: new URL(server.url).host, useTLS: false }).trigger("any", "e", "x"));
    expect(rejected).toMatchObject({ status: 500, body: "Internal server error" });
  });

  it("is Backendless' 500 with code 5999 on the Backendless routes, with nothing of the original message", async () => {
    const response = await fetch(`${server.url}/${APP_ONE.id}/${APP_ONE.secret}/messaging/any`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: "x" }),
    });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ code: 5999 });
    expect(text).not.toMatch(/hunter2/);
  });
});

describe("subscriber authentication over graphql-ws", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startHerald();
  });
  afterAll(() => server.close());

  it.each([
    ["no key", {}],
    ["an unknown key", { key: "who-is-this" }],
    ["a disabled app's key", { key: APP_OFF.key }],
  ])("closes the connection with 4403 Forbidden for %s", async (_label, params) => {
    const ws = connectWs(server, params);
    const closed = await ws.closed;
    expect(closed.code).toBe(4403);
    await ws.dispose();
  });

  it("closes a connection past HERALD_MAX_CONNECTIONS_PER_APP with 4029, leaving the others open", async () => {
    const limited = await startHerald({ env: { HERALD_MAX_CONNECTIONS_PER_APP: "1" } });
    try {
      const first = connectWs(limited);
      await first.ack;
      const second = connectWs(limited);
      expect(await second.closed).toEqual({ code: 4029, reason: "Too many connections" });
      await subscribeChannel(first, "still-here").subscribed;
      await Promise.all([first.dispose(), second.dispose()]);
    } finally {
      await limited.close();
    }
  });

  it("refuses private and presence channels without an authorization, and nothing else on the connection is affected", async () => {
    const ws = connectWs(server);
    const privateSub = subscribeChannel(ws, "private-secrets");
    expect((await refusal(privateSub))?.code).toBe("FORBIDDEN");
    const publicSub = subscribeChannel(ws, "public");
    await publicSub.subscribed;
    await gql(server, PublishDocument, { input: { channels: ["public"] } });
    await publicSub.messages(1);
    await ws.dispose();
  });

  it("refuses an invalid channel name at subscribe time", async () => {
    const ws = connectWs(server);
    const sub = subscribeChannel(ws, "bad name");
    expect((await refusal(sub))?.code).toBe("INVALID_CHANNEL_NAME");
    await ws.dispose();
  });

  it("limits subscriptions per connection", async ({ onTestFinished }) => {
    const limited = await startHerald({ env: { HERALD_MAX_SUBSCRIPTIONS_PER_CONNECTION: "2" } });
    onTestFinished(() => limited.close());
    const ws = connectWs(limited);
    await subscribeChannel(ws, "a").subscribed;
    await subscribeChannel(ws, "b").subscribed;
    const third = subscribeChannel(ws, "c");
    expect((await refusal(third))?.code).toBe("TOO_MANY_SUBSCRIPTIONS");
    await ws.dispose();
  });
});
