import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { APP_ONE, APP_TWO, sleep, useHerald, usePair, type TestServer } from "./helpers/herald.ts";
import { startReceiver, type Receiver } from "./helpers/receiver.ts";
import { ENGINES, uniquePrefix } from "./helpers/redis.ts";
import { expectTwinsInSchema } from "./helpers/route-twins.ts";
import { useGoogleWatchApi } from "../src/rest/google/index.ts";
import type { HeraldCore } from "../src/core/herald.ts";

/** Google-style watch channels: the REST routes, their GraphQL twins, and what a receiver hears. */
const FAST = { HERALD_WEBHOOK_ALLOW_PRIVATE: "1", HERALD_WEBHOOK_RETRY_BASE_MS: "50", HERALD_WEBHOOK_POLL_MS: "50" };

async function graphql(server: TestServer, query: string, variables: Record<string, unknown> = {}, secret = APP_ONE.secret) {
  const response = await fetch(server.graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: Record<string, any> | null; errors?: { message: string; extensions?: { code?: string } }[] };
}

async function watch(server: TestServer, channel: string, body: unknown, secret: string | null = APP_ONE.secret) {
  const response = await fetch(`${server.url}/channels/${encodeURIComponent(channel)}/watch`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function stop(server: TestServer, body: unknown, secret = APP_ONE.secret) {
  const response = await fetch(`${server.url}/channels/stop`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const publish = (server: TestServer, channel: string, data: unknown, event = "message") =>
  graphql(server, "mutation($input: PublishInput!) { publish(input: $input) { id } }", { input: { channels: [channel], event, data } });

const watchState = (server: TestServer, id: string, secret = APP_ONE.secret) =>
  graphql(server, "query($id: String!) { watchChannel(id: $id) { id channel deliveries { number state status attempts lastError } } }", { id }, secret);

/** The watch's state once no notification is pending (a receiver hears one before its outcome is stored). */
async function settledState(server: TestServer, id: string) {
  for (let i = 0; i < 100; i++) {
    const state = await watchState(server, id);
    const deliveries = state.data?.watchChannel?.deliveries as { state: string }[] | undefined;
    if (deliveries && deliveries.every((d) => d.state === "DELIVERED" || d.state === "FAILED")) return state;
    await sleep(30);
  }
  throw new Error(`watch ${id} still has pending notifications`);
}

let counter = 0;
const fresh = (what: string) => `${what}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

for (const engine of ENGINES) {
  describe.skipIf(engine.skip)(`Google watch channels ('${engine.name}' engine)`, () => {
    const server = useHerald(engine, uniquePrefix(`google-watch-${engine.name}`), FAST);
    let receiver: Receiver;
    beforeEach(async () => {
      receiver = await startReceiver();
    });
    afterEach(() => receiver.close());

    it("sends a sync first, then one exists per message, in order, with every header googleapiclient reads", async () => {
      const channel = fresh("news");
      const expiration = Date.now() + 3_600_000;
      const created = await watch(server, channel, { id: fresh("w"), type: "web_hook", address: `${receiver.url}/notify`, token: "target=abc", expiration: String(expiration) });
      expect(created.status).toBe(200);
      expect(created.body).toMatchObject({ kind: "api#channel", token: "target=abc", expiration: String(expiration) });
      expect(created.body.resourceId).toMatch(/^[A-Za-z0-9_-]{10,}$/);
      expect(created.body.resourceUri).toContain("/graphql?query=");
      await receiver.waitFor(1);
      await publish(server, channel, { n: 1 }, "created");
      await publish(server, channel, "two");
      await publish(server, channel, [3]);
      const got = await receiver.waitFor(4);
      expect(got.map((r) => r.headers["x-goog-resource-state"])).toEqual(["sync", "exists", "exists", "exists"]);
      expect(got.map((r) => r.headers["x-goog-message-number"])).toEqual(["1", "2", "3", "4"]);
      expect(got.map((r) => r.body)).toEqual(["", '{"n":1}', '"two"', "[3]"]);
      for (const r of got) {
        expect(r.path).toBe("/notify");
        expect(r.headers["x-goog-channel-id"]).toBe(created.body.id);
        expect(r.headers["x-goog-channel-token"]).toBe("target=abc");
        expect(r.headers["x-goog-channel-expiration"]).toBe(new Date(expiration).toUTCString());
        expect(r.headers["x-goog-resource-id"]).toBe(created.body.resourceId);
        expect(r.headers["x-goog-resource-uri"]).toBe(created.body.resourceUri);
      }
      expect(got[1]!.headers["content-type"]).toBe("application/json");
      expect(got[1]!.headers["x-herald-event"]).toBe("created");
      expect(got[1]!.headers["x-herald-message-id"]).toMatch(/[0-9a-f-]{36}/);
      // The channel-state URI answers with the channel's state.
      const state = await fetch(created.body.resourceUri, { headers: { authorization: `Bearer ${APP_ONE.secret}` } });
      expect(((await state.json()) as any).data.channel.name).toBe(channel);
    });

    it("sends a string published with a mimeType as is, with that content type; other data as JSON", async () => {
      const channel = fresh("feed");
      await watch(server, channel, { id: fresh("w"), type: "web_hook", address: `${receiver.url}/notify` });
      await receiver.waitFor(1);
      const publishAs = (data: unknown, mimeType: string) =>
        graphql(server, "mutation($input: PublishInput!) { publish(input: $input) { id } }", { input: { channels: [channel], data, mimeType } });
      await publishAs("<p>plain <b>HTML</b></p>", "text/html; charset=utf-8");
      await publishAs('{"already":"json text"}', "application/json");
      await publishAs({ structured: true }, "text/plain"); // not a string: its JSON text
      const got = (await receiver.waitFor(4)).slice(1);
      expect(got.map((r) => [r.headers["content-type"], r.body])).toEqual([
        ["text/html; charset=utf-8", "<p>plain <b>HTML</b></p>"],
        ["application/json", '{"already":"json text"}'],
        ["application/json", '{"structured":true}'],
      ]);
    });

    it("retries a receiver's 500s until it answers 200, then sends the next messages in order", async () => {
      const channel = fresh("orders");
      let failures = 2;
      receiver.respond = (r) => (r.body === '"first"' && failures-- > 0 ? 500 : 200);
      const id = fresh("w");
      await watch(server, channel, { id, type: "web_hook", address: receiver.url });
      await receiver.waitFor(1);
      await publish(server, channel, "first");
      await publish(server, channel, "second");
      await publish(server, channel, "third");
      const got = await receiver.waitFor(6);
      expect(got.map((r) => r.body)).toEqual(["", '"first"', '"first"', '"first"', '"second"', '"third"']);
      expect(got.map((r) => r.headers["x-goog-message-number"])).toEqual(["1", "2", "2", "2", "3", "4"]);
      const { data } = await settledState(server, id);
      expect(data!.watchChannel.deliveries).toEqual([
        { number: 4, state: "DELIVERED", status: 200, attempts: 1, lastError: null },
        { number: 3, state: "DELIVERED", status: 200, attempts: 1, lastError: null },
        { number: 2, state: "DELIVERED", status: 200, attempts: 3, lastError: null },
        { number: 1, state: "DELIVERED", status: 200, attempts: 1, lastError: null },
      ]);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(Number(/herald_webhook_deliveries_total\{outcome="retried"\} (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(2);
      expect(Number(/herald_webhook_deliveries_total\{outcome="delivered"\} (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(4);
    });

    it("gives up a notification the receiver answers with 400 and moves on", async () => {
      const channel = fresh("orders");
      receiver.respond = (r) => (r.body === '"bad"' ? 400 : 200);
      const id = fresh("w");
      await watch(server, channel, { id, type: "web_hook", address: receiver.url });
      await publish(server, channel, "bad");
      await publish(server, channel, "good");
      const got = await receiver.waitFor(3);
      expect(got.map((r) => r.body)).toEqual(["", '"bad"', '"good"']);
      await sleep(150);
      expect(receiver.received).toHaveLength(3);
      const { data } = await settledState(server, id);
      expect(data!.watchChannel.deliveries[1]).toEqual({ number: 2, state: "FAILED", status: 400, attempts: 1, lastError: "HTTP 400" });
    });

    it("stop ends delivery: a message published after it reaches the other watch only", async () => {
      const channel = fresh("feed");
      const [a, b] = [fresh("a"), fresh("b")];
      const one = await watch(server, channel, { id: a, type: "web_hook", address: `${receiver.url}/a` });
      await watch(server, channel, { id: b, type: "web_hook", address: `${receiver.url}/b` });
      await receiver.waitFor(2);
      expect(await stop(server, { id: a, resourceId: one.body.resourceId })).toEqual({ status: 204, body: undefined });
      await publish(server, channel, "after stop");
      await receiver.waitFor(1, (r) => r.path === "/b" && r.body === '"after stop"');
      await sleep(150);
      expect(receiver.received.filter((r) => r.path === "/a").map((r) => r.headers["x-goog-resource-state"])).toEqual(["sync"]);
      expect((await watchState(server, a)).data!.watchChannel).toBeNull();
      // Stopped means gone: stopping again is 404, and the id may be used again.
      expect((await stop(server, { id: a, resourceId: one.body.resourceId })).status).toBe(404);
      expect((await watch(server, channel, { id: a, type: "web_hook", address: `${receiver.url}/a` })).status).toBe(200);
    });

    it("a watch stops by itself at its expiration", async () => {
      const channel = fresh("short");
      const id = fresh("w");
      const created = await watch(server, channel, { id, type: "web_hook", address: receiver.url, expiration: Date.now() + 1_000 });
      expect(created.status).toBe(200);
      await receiver.waitFor(1);
      await sleep(1_300);
      await publish(server, channel, "too late");
      await sleep(300);
      expect(receiver.received.map((r) => r.headers["x-goog-resource-state"])).toEqual(["sync"]);
      expect((await watchState(server, id)).data!.watchChannel).toBeNull();
    });

    it("caps expiration at HERALD_WATCH_MAX_TTL_SECONDS and says so; params.ttl and the default apply without one", async () => {
      const far = await watch(server, fresh("c"), { id: fresh("w"), type: "web_hook", address: receiver.url, expiration: Date.now() + 365 * 86_400_000 });
      expect(Number(far.body.expiration)).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);
      expect(Number(far.body.expiration)).toBeGreaterThan(Date.now() + 7 * 86_400_000 - 60_000);
      const ttl = await watch(server, fresh("c"), { id: fresh("w"), type: "web_hook", address: receiver.url, params: { ttl: "60" } });
      expect(Math.abs(Number(ttl.body.expiration) - (Date.now() + 60_000))).toBeLessThan(5_000);
      const plain = await watch(server, fresh("c"), { id: fresh("w"), type: "web_hook", address: receiver.url });
      expect(Math.abs(Number(plain.body.expiration) - (Date.now() + 86_400_000))).toBeLessThan(5_000);
    });

    it.each([
      ["a wrong type", { type: "web_socket" }, "web_hook"],
      ["a missing address", { address: undefined }, "address"],
      ["an address that is no URL", { address: "not a url" }, "not a URL"],
      ["a non-http address", { address: "ftp://example.com/" }, "http"],
      ["an expiration in the past", { expiration: 1_000 }, "in the past"],
      ["an expiration that is no number", { expiration: "tomorrow" }, "expiration"],
      ["a bad params.ttl", { params: { ttl: "-5" } }, "ttl"],
      ["an invalid id", { id: "has spaces" }, "id"],
    ])("answers %s with 400 in Google's error shape and creates nothing", async (_what, change, words) => {
      const channel = fresh("c");
      const id = fresh("w");
      const body = { id, type: "web_hook", address: receiver.url, ...change };
      const answer = await watch(server, channel, body);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 400, errors: [{ domain: "global", reason: "invalid" }] });
      expect(answer.body.error.message).toContain(words);
      await sleep(100);
      expect(receiver.received).toHaveLength(0);
      expect((await watchState(server, id)).data!.watchChannel).toBeNull();
    });

    it("answers an invalid channel name, bad JSON and missing credentials in Google's shape", async () => {
      const id = fresh("w");
      const badName = await watch(server, "bad name!", { id, type: "web_hook", address: receiver.url });
      expect(badName.status).toBe(400);
      expect(badName.body.error.errors[0].reason).toBe("invalid");
      expect((await watch(server, fresh("c"), "{not json")).body.error.code).toBe(400);
      const anonymous = await watch(server, fresh("c"), { id, type: "web_hook", address: receiver.url }, null);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error.errors[0].reason).toBe("authError");
      const wrong = await watch(server, fresh("c"), { id, type: "web_hook", address: receiver.url }, "not-the-secret-at-all");
      expect(wrong.status).toBe(401);
      await sleep(100);
      expect(receiver.received).toHaveLength(0);
      expect((await watchState(server, id)).data!.watchChannel).toBeNull();
    });

    it("refuses an id that a live watch of the app has (409), but another app may use it; stop is per app", async () => {
      const id = fresh("w");
      const first = await watch(server, fresh("c"), { id, type: "web_hook", address: `${receiver.url}/1` });
      const again = await watch(server, fresh("c"), { id, type: "web_hook", address: `${receiver.url}/2` });
      expect(again.status).toBe(409);
      expect(again.body.error.errors[0].reason).toBe("channelIdNotUnique");
      expect((await watch(server, fresh("c"), { id, type: "web_hook", address: `${receiver.url}/3` }, APP_TWO.secret)).status).toBe(200);
      const other = await stop(server, { id, resourceId: first.body.resourceId }, APP_TWO.secret);
      expect(other.status).toBe(404); // app two's watch has another resourceId
      expect(other.body.error).toMatchObject({ code: 404, errors: [{ reason: "notFound" }] });
      expect((await stop(server, { id: "never-made", resourceId: "x" })).status).toBe(404);
      await receiver.waitFor(2);
      await sleep(100);
      expect(receiver.received.map((r) => r.path).sort()).toEqual(["/1", "/3"]);
    });

    it("has GraphQL twins: watch, watchChannel with its deliveries, stopWatch", async () => {
      const channel = fresh("gql");
      const id = fresh("w");
      const created = await graphql(
        server,
        "mutation($channel: String!, $input: WatchInput!) { watch(channel: $channel, input: $input) { id channel resourceId token expiration } }",
        { channel, input: { id, address: receiver.url, token: "t", ttl: 600 } },
      );
      expect(created.data!.watch).toMatchObject({ id, channel, token: "t" });
      await publish(server, channel, "hello");
      await receiver.waitFor(2);
      const state = await settledState(server, id);
      expect(state.data!.watchChannel.deliveries.map((d: { number: number; state: string }) => [d.number, d.state])).toEqual([
        [2, "DELIVERED"],
        [1, "DELIVERED"],
      ]);
      expect((await watchState(server, id, APP_TWO.secret)).data!.watchChannel).toBeNull();
      const taken = await graphql(server, "mutation($input: WatchInput!) { watch(channel: \"x\", input: $input) { id } }", { input: { id, address: receiver.url } });
      expect(taken.errors![0]!.extensions!.code).toBe("CONFLICT");
      const stopped = await graphql(server, "mutation($id: String!, $r: String!) { stopWatch(id: $id, resourceId: $r) }", { id, r: created.data!.watch.resourceId });
      expect(stopped.data!.stopWatch).toBe(true);
      const missing = await graphql(server, "mutation($id: String!) { stopWatch(id: $id, resourceId: \"nope\") }", { id });
      expect(missing.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    });

    it("lists the app's live watch channels by channel name (watchChannels), up to first", async () => {
      const [early, late] = [`aaa-${fresh("list")}`, `zzz-${fresh("list")}`];
      const ids = [fresh("w"), fresh("w")];
      await watch(server, late, { id: ids[1], type: "web_hook", address: receiver.url });
      await watch(server, early, { id: ids[0], type: "web_hook", address: receiver.url });
      const list = await graphql(server, "{ watchChannels(first: 100) { id channel address deliveries { number } } }");
      const mine = (list.data!.watchChannels as { id: string; channel: string }[]).filter((w) => ids.includes(w.id));
      expect(mine.map((w) => w.channel)).toEqual([early, late]);
      expect((await graphql(server, "{ watchChannels(first: 1) { id } }")).data!.watchChannels).toHaveLength(1);
      expect((await graphql(server, "{ watchChannels { id } }", {}, APP_TWO.secret)).data!.watchChannels.filter((w: { id: string }) => ids.includes(w.id))).toEqual([]);
      expect((await graphql(server, "{ watchChannels(first: 0) { id } }")).errors![0]!.extensions!.code).toBe("BAD_REQUEST");
      for (const [i, channel] of [early, late].entries()) {
        const state = await watchState(server, ids[i]!);
        expect(state.data!.watchChannel.channel).toBe(channel);
      }
    });
  });
}

describe("Google watch channels without HERALD_WEBHOOK_ALLOW_PRIVATE", () => {
  const server = useHerald(ENGINES[0], uniquePrefix("google-watch-guard"));

  it.each(["http://169.254.169.254/", "http://10.0.0.1/", "http://127.0.0.1:9/hook", "http://[fd00:ec2::254]/"])(
    "refuses %s with 400 and creates nothing",
    async (address) => {
      const id = fresh("w");
      const answer = await watch(server, "news", { id, type: "web_hook", address });
      expect(answer.status).toBe(400);
      expect(answer.body.error.message).toContain("Refused address");
      expect(answer.body.error.errors[0].reason).toBe("invalid");
      expect((await watchState(server, id)).data!.watchChannel).toBeNull();
    },
  );
});

describe("the Google watch route table", () => {
  const routes = useGoogleWatchApi({ core: {} as HeraldCore });

  it("names the GraphQL twin of every route, and they exist in the printed schema", () => {
    expect(routes.map((r) => `${r.method} ${r.path} → ${r.twins.join(" | ")}`)).toEqual([
      "POST /channels/:channel/watch → Mutation.watch",
      "POST /channels/stop → Mutation.stopWatch",
    ]);
    expectTwinsInSchema(routes);
  });
});

describe.skipIf(ENGINES[1].skip)("Google watch channels on two instances", () => {
  const { a, b } = usePair(ENGINES[1], uniquePrefix("google-watch-pair"), FAST);

  it("notifies of messages published on any instance", async () => {
    const receiver = await startReceiver();
    const channel = fresh("shared");
    expect((await watch(a, channel, { id: fresh("w"), type: "web_hook", address: receiver.url })).status).toBe(200);
    await receiver.waitFor(1);
    await publish(b, channel, "from b");
    await publish(a, channel, "from a");
    const got = await receiver.waitFor(3);
    expect(got.map((r) => r.body)).toEqual(["", '"from b"', '"from a"']);
    await receiver.close();
  });
});
