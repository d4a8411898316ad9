import PusherServer from "pusher";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { PublishDocument } from "./generated/graphql.ts";
import { loadConfig } from "../src/config.ts";
import { signSubscriberToken } from "../src/core/auth-tokens.ts";
import { APP_OFF, APP_ONE, APP_TWO, connectWs, gql, startHerald, subscribed, useHerald, usePair } from "./helpers/herald.ts";
import { collect, connected, rawPusher, subscribe, usePusherJs } from "./helpers/pusher-js.ts";
import { deleteKeys, ENGINES, uniquePrefix } from "./helpers/redis.ts";

/**
 * The Pusher Channels WebSocket protocol at /app/:key, with the real pusher-js client (its Node
 * build) as the frontend and the official `pusher` SDK as the backend, on both engines.
 */
const prefix = uniquePrefix("pusher-ws");

describe.each(ENGINES)("Pusher WebSocket protocol with pusher-js ($name engine)", ({ redis, skip }) => {
  const server = useHerald({ redis, skip }, prefix);
  const pusher = usePusherJs();

  describe.skipIf(skip)("connecting", () => {
    it("establishes a connection with a Pusher-shaped socket_id and the activity timeout", async () => {
      const raw = await rawPusher(server);
      await raw.until(() => raw.frames.length > 0);
      const [established] = raw.frames;
      expect(established!.event).toBe("pusher:connection_established");
      expect(typeof established!.data).toBe("string"); // Pusher sends data as a JSON string
      expect(JSON.parse(established!.data)).toEqual({ socket_id: expect.stringMatching(/^\d+\.\d+$/), activity_timeout: 120 });
      raw.socket.close();

      const client = pusher.client(server);
      expect(await connected(client)).toMatch(/^\d+\.\d+$/);
    });

    it("still answers 400 to a WebSocket upgrade on a path no transport serves", async () => {
      const socket = new WebSocket(`ws://127.0.0.1:${new URL(server.url).port}/nowhere`);
      const status = await new Promise<number>((resolve) => socket.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
      expect(status).toBe(400);
    });
  });

  describe.skipIf(skip)("channels and events", () => {
    it("delivers the Pusher HTTP API's data byte for byte and GraphQL publishes as JSON text", async () => {
      const raw = await rawPusher(server);
      raw.send({ event: "pusher:subscribe", data: { channel: "raw-news" } });
      await raw.until(() => raw.of("pusher_internal:subscription_succeeded").length === 1);
      expect(raw.of("pusher_internal:subscription_succeeded")[0]).toMatchObject({ channel: "raw-news", data: {} });

      const exact = '{"b": 2,  "a":[1, 2]}'; // spacing and key order kept
      await pusher.backend(server).trigger("raw-news", "sdk-event", exact);
      await gql(server, PublishDocument, { input: { channels: ["raw-news"], event: "gql-object", data: { n: 1, s: "é" } } });
      await gql(server, PublishDocument, { input: { channels: ["raw-news"], event: "gql-string", data: "plain text" } });
      await raw.until(() => raw.frames.length >= 5);
      expect(raw.frames.slice(2)).toEqual([
        { event: "sdk-event", channel: "raw-news", data: exact },
        { event: "gql-object", channel: "raw-news", data: '{"n":1,"s":"é"}' },
        { event: "gql-string", channel: "raw-news", data: "plain text" },
      ]);
      raw.socket.close();
    });

    it("pusher-js receives events from the pusher SDK and from GraphQL on a public channel", async () => {
      const client = pusher.client(server);
      const { channel } = await subscribe(client, "news");
      const seen = collect(channel);
      await pusher.backend(server).trigger("news", "headline", { title: "Herald speaks Pusher" });
      await gql(server, PublishDocument, { input: { channels: ["news"], event: "headline", data: { title: "and GraphQL" } } });
      expect(await seen.count(2)).toEqual([
        { event: "headline", data: { title: "Herald speaks Pusher" } },
        { event: "headline", data: { title: "and GraphQL" } },
      ]);
      client.unsubscribe("news");
    });

    it("private channels need the backend's signature; a bad one gets pusher:subscription_error", async () => {
      const client = pusher.client(server);
      const { channel } = await subscribe(client, "private-orders");
      const seen = collect(channel);
      await pusher.backend(server).trigger("private-orders", "created", { id: 7 });
      expect(await seen.count(1)).toEqual([{ event: "created", data: { id: 7 } }]);

      const forged = pusher.client(server, { badAuth: true });
      const refused = await subscribe(forged, "private-orders").catch((error: { data: unknown }) => error.data);
      expect(refused).toMatchObject({ type: "AuthError", status: 403, error: expect.stringContaining("Pusher auth string does not match") });
      // Refused means not subscribed: the channel still counts only the first client.
      const info = await pusher.backend(server).get({ path: "/channels/private-orders", params: { info: "subscription_count" } });
      expect(await info.json()).toEqual({ occupied: true, subscription_count: 1 });
    });

    it("excludes the socket_id given to the HTTP API and to GraphQL's excludeSocketId", async () => {
      const [sender, other] = [pusher.client(server), pusher.client(server)];
      const [mine, theirs] = await Promise.all([subscribe(sender, "rooms"), subscribe(other, "rooms")]);
      const [mySeen, theirSeen] = [collect(mine.channel), collect(theirs.channel)];
      const socketId = await connected(sender);
      await pusher.backend(server).trigger("rooms", "moved", { via: "http" }, { socket_id: socketId });
      const published = await gql(server, PublishDocument, { input: { channels: ["rooms"], event: "moved", data: { via: "graphql" }, excludeSocketId: socketId } });
      expect(published.errors).toBeUndefined();
      await pusher.backend(server).trigger("rooms", "moved", { via: "everyone" });
      expect(await theirSeen.count(3)).toHaveLength(3);
      expect(await mySeen.count(1)).toEqual([{ event: "moved", data: { via: "everyone" } }]);
    });
  });

  describe.skipIf(skip)("cache and encrypted channels", () => {
    it("replays a cache channel's last event on subscribe, and sends pusher:cache_miss when it has none", async () => {
      const backend = pusher.backend(server);
      await backend.trigger("cache-prices", "price", { eur: 1 });
      await backend.trigger("cache-prices", "price", { eur: 2 });
      const client = pusher.client(server);
      const prices = pusher.client(server).subscribe("cache-prices"); // a second client, live only after its replay
      const late = collect(prices);
      const seen = collect(client.subscribe("cache-prices")); // bound before the replay arrives
      expect(await seen.count(1)).toEqual([{ event: "price", data: { eur: 2 } }]);
      // Both replays arrived before the next publish (else the late one's replay is that one).
      expect(await late.count(1)).toEqual([{ event: "price", data: { eur: 2 } }]);
      await backend.trigger("cache-prices", "price", { eur: 3 });
      expect(await seen.count(2)).toEqual([
        { event: "price", data: { eur: 2 } },
        { event: "price", data: { eur: 3 } },
      ]);
      expect(await late.count(2)).toEqual(seen.events);

      const missed: unknown[] = [];
      const empty = client.subscribe("cache-empty");
      empty.bind("pusher:cache_miss", () => missed.push("miss"));
      await waitUntil(() => missed.length === 1);
    });

    it("passes private-encrypted payloads through untouched: pusher-js decrypts what the SDK encrypted", async () => {
      const masterKey = Buffer.alloc(32, 7).toString("base64");
      const backend = new PusherServer({
        appId: APP_ONE.id, key: APP_ONE.key, secret: APP_ONE.secret, host: "127.0.0.1", port: new URL(server.url).port, useTLS: false,
        encryptionMasterKeyBase64: masterKey,
      });
      const client = pusher.client(server, { signer: backend });
      const { channel } = await subscribe(client, "private-encrypted-vault");
      const seen = collect(channel);
      const raw = await rawPusher(server);
      await raw.until(() => raw.of("pusher:connection_established").length === 1);
      const socketId = JSON.parse(raw.frames[0]!.data).socket_id as string;
      raw.send({ event: "pusher:subscribe", data: { channel: "private-encrypted-vault", auth: backend.authorizeChannel(socketId, "private-encrypted-vault").auth } });
      await raw.until(() => raw.of("pusher_internal:subscription_succeeded").length === 1);

      await backend.trigger("private-encrypted-vault", "secret", { code: "1234" });
      expect(await seen.count(1)).toEqual([{ event: "secret", data: { code: "1234" } }]);
      await raw.until(() => raw.of("secret").length === 1);
      const onTheWire = raw.of("secret")[0]!.data;
      expect(Object.keys(onTheWire).sort()).toEqual(["ciphertext", "nonce"]);
      expect(JSON.stringify(onTheWire)).not.toContain("1234");
      raw.socket.close();
    });
  });

  describe.skipIf(skip)("a GraphQL subscriber and a pusher-js subscriber on one channel", () => {
    it("see the same messages in the same order", async () => {
      const graphql = server.connect();
      const gqlSub = await subscribed(graphql, "shared-feed");
      const client = pusher.client(server);
      const seen = collect((await subscribe(client, "shared-feed")).channel);
      const backend = pusher.backend(server);
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) await backend.trigger("shared-feed", "tick", { i });
        else await gql(server, PublishDocument, { input: { channels: ["shared-feed"], event: "tick", data: { i } } });
      }
      const pusherSeen = await seen.count(10);
      const graphqlSeen = await gqlSub.messages(10);
      const asGraphql = graphqlSeen.map((e) => ({ event: e.event, data: typeof e.data === "string" ? JSON.parse(e.data) : e.data }));
      expect(pusherSeen).toEqual(asGraphql);
      expect(pusherSeen.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  });

  describe.skipIf(skip)("ping", () => {
    it("answers pusher:ping with pusher:pong", async () => {
      const raw = await rawPusher(server);
      raw.send({ event: "pusher:ping", data: {} });
      await raw.until(() => raw.of("pusher:pong").length === 1);
      raw.socket.close();
    });
  });

  describe.skipIf(skip)("protocol abuse gets pusher:error with a code, and the server stays healthy", () => {
    it("refuses a missing, malformed or unsupported protocol version, an unknown key and a disabled app", async () => {
      const cases: [string, number][] = [
        [`/app/${APP_ONE.key}`, 4008],
        [`/app/${APP_ONE.key}?protocol=seven`, 4006],
        [`/app/${APP_ONE.key}?protocol=4`, 4007],
        [`/app/${APP_ONE.key}?protocol=8`, 4007],
        ["/app/no-such-key?protocol=7", 4001],
        [`/app/${APP_OFF.key}?protocol=7`, 4003],
        ["/app/?protocol=7", 4005],
      ];
      for (const [path, code] of cases) {
        const raw = await rawPusher(server, path);
        const closed = await raw.closed;
        expect(raw.of("pusher:error"), path).toEqual([{ event: "pusher:error", data: { code, message: expect.any(String) } }]);
        expect(closed.code, path).toBe(code);
      }
      for (const version of ["5", "6", "7"]) {
        const raw = await rawPusher(server, `/app/${APP_ONE.key}?protocol=${version}`);
        await raw.until(() => raw.of("pusher:connection_established").length === 1);
        raw.socket.close();
      }
    });

    it("answers frames that are not JSON, unknown events and malformed subscribes with 4300, and keeps the connection", async () => {
      const raw = await rawPusher(server);
      const bad = ["not json", "[1,2]", '{"no":"event"}', { event: "pusher:teleport", data: {} }, { event: "pusher:subscribe", data: {} }, { event: "pusher:subscribe", data: "{oops" }];
      for (const frame of bad) raw.send(frame);
      await raw.until(() => raw.of("pusher:error").length === bad.length);
      for (const error of raw.of("pusher:error")) expect(error.data).toEqual({ code: 4300, message: expect.any(String) });
      expect(raw.of("pusher:error")[3]!.data.message).toContain("Unknown event pusher:teleport");
      // Still connected and usable.
      raw.send({ event: "pusher:subscribe", data: { channel: "after-abuse" } });
      await raw.until(() => raw.of("pusher_internal:subscription_succeeded").length === 1);
      raw.socket.close();
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    });

    it("answers an invalid channel name with pusher:subscription_error", async () => {
      const raw = await rawPusher(server);
      raw.send({ event: "pusher:subscribe", data: { channel: "bad channel!" } });
      await raw.until(() => raw.of("pusher:subscription_error").length === 1);
      expect(raw.of("pusher:subscription_error")[0]).toMatchObject({
        channel: "bad channel!",
        data: { type: "SubscriptionError", status: 400, error: expect.stringContaining("channel name") },
      });
      raw.socket.close();
    });
  });
});

describe.each(ENGINES)("Pusher presence channels across two instances ($name engine)", ({ redis, skip }) => {
  const { a, b } = usePair({ redis, skip }, `${prefix}pair:`);
  const pusher = usePusherJs();

  it.skipIf(skip)("lists members on subscribe and announces member_added and member_removed", async () => {
    const ada = pusher.client(a, { member: { user_id: "ada", user_info: { name: "Ada" } } });
    const joined = await subscribe(ada, "presence-lobby");
    const adaView = joined.channel as unknown as { members: { count: number; me: { id: string }; each(fn: (m: { id: string; info: unknown }) => void): void } };
    expect(adaView.members.count).toBe(1);
    expect(adaView.members.me.id).toBe("ada");

    const added: unknown[] = [];
    const removed: unknown[] = [];
    joined.channel.bind("pusher:member_added", (member: unknown) => added.push(member));
    joined.channel.bind("pusher:member_removed", (member: unknown) => removed.push(member));

    const bob = pusher.client(b, { member: { user_id: "bob", user_info: { name: "Bob" } } });
    const bobJoined = await subscribe(bob, "presence-lobby");
    expect(bobJoined.data).toMatchObject({ count: 2, me: { id: "bob" } });
    const members: Record<string, unknown> = {};
    (bobJoined.channel as unknown as typeof adaView).members.each((m) => (members[m.id] = m.info));
    expect(members).toEqual({ ada: { name: "Ada" }, bob: { name: "Bob" } });

    await waitUntil(() => added.length === 1);
    expect(added).toEqual([{ id: "bob", info: { name: "Bob" } }]);
    bob.unsubscribe("presence-lobby");
    await waitUntil(() => removed.length === 1);
    expect(removed).toEqual([{ id: "bob", info: { name: "Bob" } }]);
    expect(adaView.members.count).toBe(1);
  });
});

describe("Pusher WebSocket limits and liveness", () => {
  const pusher = usePusherJs();

  it("refuses connections over the app's limit with 4100", async () => {
    const server = await startHerald({ env: { HERALD_MAX_CONNECTIONS_PER_APP: "1" } });
    try {
      const first = await rawPusher(server);
      await first.until(() => first.of("pusher:connection_established").length === 1);
      const second = await rawPusher(server);
      expect((await second.closed).code).toBe(4100);
      expect(second.of("pusher:error")[0]!.data).toMatchObject({ code: 4100 });
      first.socket.close();
    } finally {
      await server.close();
    }
  });

  it("refuses subscriptions past HERALD_MAX_SUBSCRIPTIONS_PER_CONNECTION and closes on frames past HERALD_MAX_WEBSOCKET_MESSAGE_BYTES", async () => {
    const server = await startHerald({ env: { HERALD_MAX_SUBSCRIPTIONS_PER_CONNECTION: "2", HERALD_MAX_WEBSOCKET_MESSAGE_BYTES: "2048" } });
    try {
      const raw = await rawPusher(server);
      for (const channel of ["one", "two", "three"]) {
        raw.send({ event: "pusher:subscribe", data: { channel } });
        await raw.until(() => raw.of("pusher_internal:subscription_succeeded").length + raw.of("pusher:subscription_error").length === ["one", "two", "three"].indexOf(channel) + 1);
      }
      expect(raw.of("pusher:subscription_error")).toEqual([
        expect.objectContaining({ channel: "three", data: { type: "LimitReached", status: 429, error: expect.stringContaining("at most 2 subscriptions") } }),
      ]);
      raw.send({ event: "client-big", channel: "one", data: "x".repeat(4096) });
      expect((await raw.closed).code).toBe(1009);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("closes a socket that stops reading with 4100 (slow consumer) without holding back the others", async () => {
    const server = await startHerald();
    try {
      const slow = await rawPusher(server);
      slow.send({ event: "pusher:subscribe", data: { channel: "firehose" } });
      await slow.until(() => slow.of("pusher_internal:subscription_succeeded").length === 1);
      const keeping = collect((await subscribe(pusher.client(server), "firehose")).channel);
      slow.socket.pause(); // reads nothing more: the kernel buffers fill, then Herald's
      const big = "x".repeat(60_000);
      let published = 0;
      const start = Date.now();
      while (published < 400 && Date.now() - start < 10_000) {
        await gql(server, PublishDocument, { input: { channels: ["firehose"], data: big } });
        published++;
        if (published % 50 === 0) await keeping.count(published, 10_000); // the reader keeps up meanwhile
      }
      slow.socket.resume();
      expect((await slow.closed).code).toBe(4100);
      await keeping.count(published, 10_000);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toContain("herald_pusher_slow_consumer_disconnects_total 1");
    } finally {
      await server.close();
    }
  });

  it("pings a silent connection after the activity timeout and closes it with 4201 when no pong comes", async () => {
    const server = await startHerald({ env: { HERALD_PUSHER_ACTIVITY_TIMEOUT_SECONDS: "1", HERALD_PUSHER_PONG_TIMEOUT_MS: "500" } });
    try {
      const silent = await rawPusher(server);
      const answering = await rawPusher(server);
      answering.socket.on("message", (data) => {
        if (JSON.parse(String(data)).event === "pusher:ping") answering.send({ event: "pusher:pong", data: {} });
      });
      await silent.until(() => silent.of("pusher:ping").length === 1, 10_000);
      expect((await silent.closed).code).toBe(4201);
      await answering.until(() => answering.of("pusher:ping").length >= 2, 10_000);
      expect(answering.socket.readyState).toBe(answering.socket.OPEN);
      // pusher-js keeps its connection alive with the server's activity_timeout.
      const client = pusher.client(server);
      await connected(client);
      await new Promise((r) => setTimeout(r, 2_500));
      expect(client.connection.state).toBe("connected");
      answering.socket.close();
      client.disconnect();
    } finally {
      await server.close();
    }
  });
});

async function waitUntil(check: () => boolean, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
}

/** APP_ONE with client events enabled; APP_TWO as configured by default (off). */
const CLIENT_EVENT_APPS = JSON.stringify([{ ...APP_ONE, enableClientMessages: true }, APP_TWO, APP_OFF]);

describe.each(ENGINES)("Pusher client events ($name engine)", ({ redis, skip }) => {
  const { a, b } = usePair({ redis, skip }, `${prefix}client:`, { HERALD_APPS: CLIENT_EVENT_APPS, HERALD_PUSHER_CLIENT_EVENTS_PER_SECOND: "5" });
  const pusher = usePusherJs();

  it.skipIf(skip)("reach the other subscribers on every instance and GraphQL, never the sender", async () => {
    const sender = pusher.client(a, { member: { user_id: "ada" } });
    const other = pusher.client(b, { member: { user_id: "bob" } });
    const [mine, theirs] = await Promise.all([subscribe(sender, "presence-chat"), subscribe(other, "presence-chat")]);
    const [mySeen, theirSeen] = [collect(mine.channel), collect(theirs.channel)];
    const theirMeta: unknown[] = [];
    theirs.channel.bind("client-typing", (_data: unknown, metadata: unknown) => theirMeta.push(metadata));
    const graphql = subscribed(connectWs({ wsUrl: b.wsUrl }, { key: APP_ONE.key, token: presenceToken("carl") }), "presence-chat");
    const gqlSub = await graphql;

    expect(mine.channel.trigger("client-typing", { who: "ada" })).toBe(true);
    expect(await theirSeen.count(1)).toEqual([{ event: "client-typing", data: { who: "ada" } }]);
    expect(theirMeta).toEqual([{ user_id: "ada" }]); // Pusher names the sender on presence channels
    const [gqlEvent] = await gqlSub.messages(1);
    expect(gqlEvent).toMatchObject({ kind: "MESSAGE", event: "client-typing", data: { who: "ada" } });
    // Something later arrives at the sender, so the client event would have been there before it.
    await pusher.backend(a).trigger("presence-chat", "server-note", "x");
    await mySeen.count(1);
    expect(mySeen.events).toEqual([{ event: "server-note", data: "x" }]);
  });

  it.skipIf(skip)("are refused on public channels, unsubscribed channels, over the rate and for apps that do not enable them", async () => {
    const raw = await rawPusher(a);
    raw.send({ event: "pusher:subscribe", data: { channel: "public-chat" } });
    await raw.until(() => raw.of("pusher_internal:subscription_succeeded").length === 1);
    raw.send({ event: "client-hi", channel: "public-chat", data: {} });
    await raw.until(() => raw.of("pusher:error").length === 1);
    raw.send({ event: "client-hi", channel: "private-never-joined", data: {} });
    await raw.until(() => raw.of("pusher:error").length === 2);
    expect(raw.of("pusher:error").map((e) => e.data)).toEqual([
      { code: 4302, message: expect.stringContaining("only allowed on private and presence channels") },
      { code: 4302, message: expect.stringContaining("not subscribed to private-never-joined") },
    ]);

    // Over the rate (5 per second here): the extra ones get 4301 and are not delivered.
    const sender = pusher.client(a);
    const receiver = pusher.client(b);
    const [mine, theirs] = await Promise.all([subscribe(sender, "private-burst"), subscribe(receiver, "private-burst")]);
    const theirSeen = collect(theirs.channel);
    const errors: unknown[] = [];
    sender.connection.bind("error", (error: unknown) => errors.push(error));
    for (let i = 0; i < 8; i++) mine.channel.trigger("client-burst", { i });
    await waitUntil(() => errors.length >= 3);
    expect(errors[0]).toMatchObject({ type: "PusherError", data: { code: 4301 } });
    await theirSeen.count(5);
    await new Promise((r) => setTimeout(r, 200));
    expect(theirSeen.events.length).toBeLessThan(8);

    // An oversized client event (over HERALD_PUSHER_MAX_PAYLOAD_BYTES) is refused, nothing sent.
    await new Promise((r) => setTimeout(r, 1_100));
    mine.channel.trigger("client-big", { blob: "x".repeat(11 * 1024) });
    await waitUntil(() => errors.length >= 4, 5_000);
    expect(errors.at(-1)).toMatchObject({ data: { code: 4302, message: expect.stringContaining("bytes") } });

    // APP_TWO does not enable client events.
    const two = await rawPusher(a, `/app/${APP_TWO.key}?protocol=7`);
    await two.until(() => two.of("pusher:connection_established").length === 1);
    const socketId = JSON.parse(two.frames[0]!.data).socket_id as string;
    const auth = pusher.backend(a, APP_TWO).authorizeChannel(socketId, "private-two").auth;
    two.send({ event: "pusher:subscribe", data: { channel: "private-two", auth } });
    await two.until(() => two.of("pusher_internal:subscription_succeeded").length === 1);
    two.send({ event: "client-hi", channel: "private-two", data: {} });
    await two.until(() => two.of("pusher:error").length === 1);
    expect(two.of("pusher:error")[0]!.data).toEqual({ code: 4302, message: expect.stringContaining("not enabled") });
    raw.socket.close();
    two.socket.close();
  });
});

describe.each(ENGINES)("Pusher user sign-in ($name engine)", ({ redis, skip }) => {
  const { a, b } = usePair({ redis, skip }, `${prefix}users:`);
  const pusher = usePusherJs();

  it.skipIf(skip)("signs in, gets sendToUser events on any instance, and terminateUserConnections closes with 4009", async () => {
    const client = pusher.client(a, { user: { id: "grace", user_info: { name: "Grace" } } });
    const received: unknown[] = [];
    client.user.bind("invoice-paid", (data: unknown) => received.push(data));
    client.signin();
    await client.user.signinDonePromise;
    // The user's channel is subscribed by pusher-js itself once signed in; wait for it to count.
    const userChannel = () => (client.user as unknown as { serverToUserChannel?: { name: string; subscribed: boolean } }).serverToUserChannel;
    await waitUntil(() => userChannel()?.subscribed === true);
    expect(userChannel()!.name).toBe("#server-to-user-grace");
    await pusher.backend(b).sendToUser("grace", "invoice-paid", { amount: 42 });
    await waitUntil(() => received.length === 1);
    expect(received).toEqual([{ amount: 42 }]);

    const states: string[] = [];
    client.connection.bind("state_change", ({ current }: { current: string }) => states.push(current));
    const closedCode = new Promise<number>((resolve) => client.connection.bind("error", (error: { data?: { code?: number } }) => resolve(error.data?.code ?? -1)));
    await pusher.backend(b).terminateUserConnections("grace");
    expect(await closedCode).toBe(4009);
    await waitUntil(() => client.connection.state !== "connected");
    // 4000-4099: pusher-js does not reconnect.
    await new Promise((r) => setTimeout(r, 500));
    expect(client.connection.state).not.toBe("connected");
  });

  it.skipIf(skip)("refuses a sign-in with a bad signature with 4009, and a user channel without sign-in", async () => {
    const raw = await rawPusher(a);
    await raw.until(() => raw.of("pusher:connection_established").length === 1);
    raw.send({ event: "pusher:subscribe", data: { channel: "#server-to-user-heidi", auth: "" } });
    await raw.until(() => raw.of("pusher:subscription_error").length === 1);
    expect(raw.of("pusher:subscription_error")[0]!.data).toMatchObject({ type: "AuthError" });
    raw.send({ event: "pusher:signin", data: { auth: `${APP_ONE.key}:${"0".repeat(64)}`, user_data: JSON.stringify({ id: "heidi" }) } });
    expect((await raw.closed).code).toBe(4009);
    expect(raw.of("pusher:error")[0]!.data).toMatchObject({ code: 4009, message: expect.stringContaining("Sign-in failed") });
  });
});

function presenceToken(sub: string) {
  return signSubscriberToken(APP_ONE.secret, { sub, channels: ["presence-*"], expiresInSeconds: 600 });
}

describe.each(ENGINES)("pusher-js across a server restart ($name engine)", ({ redis, skip }) => {
  const pusher = usePusherJs();

  it.skipIf(skip)("is told 4200 on shutdown, reconnects to the restarted server and resubscribes", async () => {
    const restartPrefix = `${prefix}restart:`;
    let server = await startHerald({ redisUrl: redis, prefix: restartPrefix });
    const port = new URL(server.url).port;
    try {
      const client = pusher.client(server);
      const seen = collect((await subscribe(client, "restart-news")).channel);
      const firstSocket = await connected(client);
      const errors: unknown[] = [];
      client.connection.bind("error", (error: unknown) => errors.push(error));
      await server.close();
      server = await startHerald({ redisUrl: redis, prefix: restartPrefix, port: Number(port) });
      expect(new URL(server.url).port).toBe(port);
      // Its first attempt (at once, for 4200) may meet the closed port; pusher-js then tries again
      // on its own schedule (about 15 s), which this waits out.
      await waitUntil(() => client.connection.state === "connected" && client.connection.socket_id !== firstSocket, 40_000);
      expect(errors).toContainEqual(expect.objectContaining({ data: expect.objectContaining({ code: 4200 }) }));
      // pusher-js subscribes again by itself; once the channel counts it, a trigger reaches it.
      const backend = pusher.backend(server);
      await waitUntil(() => (client.channel("restart-news") as unknown as { subscribed: boolean }).subscribed, 5_000);
      await backend.trigger("restart-news", "after", { ok: true });
      expect(await seen.count(1)).toEqual([{ event: "after", data: { ok: true } }]);
    } finally {
      await server.close();
      if (redis) await deleteKeys(redis, restartPrefix);
    }
  }, 60_000);
});

describe("Pusher WebSocket settings", () => {
  it("validates the per-app flag and the HERALD_PUSHER_* settings, naming what is wrong", () => {
    const apps = (extra: object) => JSON.stringify([{ ...APP_ONE, ...extra }]);
    expect(() => loadConfig({ HERALD_APPS: apps({ enableClientMessages: "yes" }) })).toThrow(/HERALD_APPS: \[0\.enableClientMessages\]/);
    expect(() => loadConfig({ HERALD_PUSHER_ACTIVITY_TIMEOUT_SECONDS: "0" })).toThrow(/HERALD_PUSHER_ACTIVITY_TIMEOUT_SECONDS/);
    expect(() => loadConfig({ HERALD_PUSHER_CLIENT_EVENTS_PER_SECOND: "ten" })).toThrow(/HERALD_PUSHER_CLIENT_EVENTS_PER_SECOND/);
    const config = loadConfig({ HERALD_APPS: apps({ enableClientMessages: true }) });
    expect(config.apps[0]!.enableClientMessages).toBe(true);
    expect(config.pusherWs).toEqual({ activityTimeoutSeconds: 120, pongTimeoutMs: 30_000, clientEventsPerSecond: 10 });
    expect(loadConfig({ HERALD_APPS: apps({}) }).apps[0]!.enableClientMessages).toBe(false);
  });
});
