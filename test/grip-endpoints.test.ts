import { HttpResponseFormat, HttpStreamFormat, Publisher, WebSocketMessageFormat } from "@fanoutio/grip";
import WebSocket from "ws";
import { describe, expect, it } from "vitest";
import { signSubscriberToken } from "../src/core/auth-tokens.ts";
import { ChannelDocument, PublishDocument } from "./generated/graphql.ts";
import { APP_OFF, APP_ONE, gql, sleep, startHerald, useHerald, type TestServer } from "./helpers/herald.ts";
import { ENGINES, uniquePrefix } from "./helpers/redis.ts";
import { eventually } from "./helpers/wait.ts";

const prefix = uniquePrefix("grip-endpoints");
const ALL_BYTES = Buffer.from(Uint8Array.from({ length: 256 }, (_, i) => i));

/** An HTTP stream read as it arrives. */
async function openStream(url: string) {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const chunks: Buffer[] = [];
  let ended = false;
  const done = (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
    } catch {
      // aborted
    }
    ended = true;
  })();
  return {
    response,
    bytes: () => Buffer.concat(chunks),
    text: () => Buffer.concat(chunks).toString("utf8"),
    get ended() {
      return ended;
    },
    done,
    close: () => controller.abort(),
  };
}

/** A WebSocket to a GRIP endpoint, collecting frames; resolves once open (or refused). */
function openWs(url: string) {
  const socket = new WebSocket(url);
  const frames: { data: Buffer; binary: boolean }[] = [];
  socket.on("message", (data: Buffer, binary: boolean) => frames.push({ data, binary }));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on("close", (code, reason) => resolve({ code, reason: String(reason) })));
  const opened = new Promise<number>((resolve) => {
    socket.on("open", () => resolve(101));
    socket.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    socket.on("error", () => {});
  });
  return { socket, frames, closed, opened };
}

/** Waits until `check` holds (the deliveries in these tests take milliseconds; the bound is generous). */
async function until(check: () => boolean, what: string, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function subscriptions(server: TestServer, channel: string, count: number) {
  await eventually(async () => (await gql(server, ChannelDocument, { name: channel })).data?.channel.subscriptionCount, count);
}

describe.each(ENGINES)("GRIP subscriber endpoints ($name engine)", ({ redis, skip }) => {
  const server = useHerald({ redis, skip }, prefix, { HERALD_GRIP_KEEPALIVE_SECONDS: "0" });
  const grip = () => new Publisher({ control_uri: `${server.url}/service/${APP_ONE.id}`, key: APP_ONE.secret });
  const at = (endpoint: string, channel: string, query: Record<string, string> = {}) =>
    `${server.url}/grip/${endpoint}/${encodeURIComponent(channel)}?${new URLSearchParams({ key: APP_ONE.key, ...query })}`;
  const plain = (channel: string, data: unknown, event = "message") => gql(server, PublishDocument, { input: { channels: [channel], event, data } });

  describe.skipIf(skip)("/grip/stream", () => {
    it("writes each http-stream content raw, plain publishes as their data, and ends on close", async () => {
      const stream = await openStream(at("stream", "s-basic"));
      expect(stream.response.status).toBe(200);
      await grip().publishHttpStream("s-basic", "one\n");
      await grip().publishHttpResponse("s-basic", "not for streams\n");
      await plain("s-basic", { n: 2 });
      await plain("s-basic", "three");
      await grip().publishFormats("s-basic", [new HttpStreamFormat("four"), new WebSocketMessageFormat("ws only")]);
      await grip().publishHttpStream("s-basic", new HttpStreamFormat(null, true));
      await stream.done;
      expect(stream.text()).toBe('one\n{"n":2}threefour');
    });

    it("carries content-bin byte for byte", async () => {
      const stream = await openStream(at("stream", "s-binary"));
      await grip().publishHttpStream("s-binary", new HttpStreamFormat(ALL_BYTES));
      await until(() => stream.bytes().length >= 256, "256 bytes");
      expect(stream.bytes().equals(ALL_BYTES)).toBe(true);
      stream.close();
    });

    it("resumes with ?since= from a poll answer's X-Herald-Since", async () => {
      const poll = fetch(at("poll", "s-resume", { timeout: "10" }));
      await subscriptions(server, "s-resume", 1);
      await plain("s-resume", "first");
      const since = (await poll).headers.get("x-herald-since")!;
      expect(since).toMatch(/^\d+:.+$/);
      await plain("s-resume", "second");
      await plain("s-resume", "third");
      const stream = await openStream(at("stream", "s-resume", { since }));
      await until(() => stream.text() === "secondthird", "the replayed history");
      await plain("s-resume", "live");
      await until(() => stream.text() === "secondthirdlive", "the live message after it");
      stream.close();
    });
  });

  describe.skipIf(skip)("/grip/poll", () => {
    it("answers with the next http-response: code, reason, headers and body", async () => {
      const poll = fetch(at("poll", "p-basic"));
      await subscriptions(server, "p-basic", 1);
      await grip().publishHttpStream("p-basic", "streams are not answers");
      await grip().publishHttpResponse("p-basic", new HttpResponseFormat({ code: "201", reason: "Made It", headers: { "Content-Type": "text/x-made", "X-Extra": "yes" }, body: ALL_BYTES }));
      const response = await poll;
      expect([response.status, response.statusText]).toEqual([201, "Made It"]);
      expect(response.headers.get("content-type")).toBe("text/x-made");
      expect(response.headers.get("x-extra")).toBe("yes");
      expect(Buffer.from(await response.arrayBuffer()).equals(ALL_BYTES)).toBe(true);
      // Answered: the subscription is gone.
      await subscriptions(server, "p-basic", 0);
    });

    it("answers a plain publish with 200 application/json", async () => {
      const poll = fetch(at("poll", "p-plain"));
      await subscriptions(server, "p-plain", 1);
      await plain("p-plain", "a string");
      const response = await poll;
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(await response.json()).toBe("a string");
    });

    it("answers 204 after ?timeout= seconds without an item", async () => {
      const started = Date.now();
      const response = await fetch(at("poll", "p-quiet", { timeout: "1" }));
      expect(response.status).toBe(204);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    });
  });

  describe.skipIf(skip)("/grip/ws", () => {
    it("sends ws-message content as text, content-bin as binary, plain data as text, and closes with the code", async () => {
      const ws = openWs(at("ws", "w-basic").replace("http", "ws"));
      expect(await ws.opened).toBe(101);
      await grip().publishFormats("w-basic", new WebSocketMessageFormat("hello"));
      await grip().publishFormats("w-basic", new WebSocketMessageFormat(ALL_BYTES));
      await grip().publishHttpStream("w-basic", "not for sockets");
      await plain("w-basic", { n: 1 });
      await grip().publishFormats("w-basic", new WebSocketMessageFormat(null, true, 4001));
      expect(await ws.closed).toMatchObject({ code: 4001 });
      expect(ws.frames.map((f) => [f.binary, f.binary ? f.data.length : String(f.data)])).toEqual([
        [false, "hello"],
        [true, 256],
        [false, '{"n":1}'],
      ]);
      expect(ws.frames[1]!.data.equals(ALL_BYTES)).toBe(true);
    });
  });

  describe.skipIf(skip)("subscriber auth and bad input", () => {
    it("refuses a missing or unknown key (401) and a disabled app (403), on every endpoint", async () => {
      for (const endpoint of ["stream", "poll"]) {
        expect((await fetch(`${server.url}/grip/${endpoint}/auth-c`)).status).toBe(401);
        expect((await fetch(at(endpoint, "auth-c", { key: "nope-nope-nope" }))).status).toBe(401);
        const off = await fetch(at(endpoint, "auth-c", { key: APP_OFF.key }));
        expect([off.status, await off.text()]).toEqual([403, "App off is disabled\n"]);
      }
      expect(await openWs(`${server.url.replace("http", "ws")}/grip/ws/auth-c`).opened).toBe(401);
      expect(await openWs(at("ws", "auth-c", { key: APP_OFF.key }).replace("http", "ws")).opened).toBe(403);
    });

    it("needs a subscriber token for private channels, as SSE does", async () => {
      expect((await fetch(at("stream", "private-orders"))).status).toBe(403);
      expect(await openWs(at("ws", "private-orders").replace("http", "ws")).opened).toBe(403);
      const token = signSubscriberToken(APP_ONE.secret, { sub: "u1", channels: ["private-orders"], expiresInSeconds: 60 });
      const stream = await openStream(at("stream", "private-orders", { token }));
      expect(stream.response.status).toBe(200);
      await grip().publishHttpStream("private-orders", "secret");
      await until(() => stream.text() === "secret", "the private message");
      stream.close();
    });

    it("refuses an invalid channel, timeout or since with 400, subscribing to nothing", async () => {
      const refusals = [
        at("stream", "no spaces"),
        at("poll", "p-bad", { timeout: "0" }),
        at("poll", "p-bad", { timeout: "100000" }),
        at("poll", "p-bad", { timeout: "soon" }),
        at("stream", "p-bad", { since: "yesterday" }),
      ];
      for (const url of refusals) {
        const response = await fetch(url);
        expect(response.status, url).toBe(400);
        expect(await response.text()).toMatch(/\n$/);
      }
      await subscriptions(server, "p-bad", 0);
    });
  });
});

describe("GRIP stream keep-alive", () => {
  const server = useHerald({ redis: undefined, skip: false }, prefix, { HERALD_GRIP_KEEPALIVE_SECONDS: "1" });

  it("writes a newline every HERALD_GRIP_KEEPALIVE_SECONDS while nothing is published", async () => {
    const stream = await openStream(`${server.url}/grip/stream/quiet?key=${APP_ONE.key}`);
    await until(() => stream.text().length >= 1, "a keep-alive", 5_000);
    expect(stream.text()).toMatch(/^\n+$/);
    stream.close();
  });
});

describe("GRIP endpoints at shutdown", () => {
  it("end streams, answer polls 204 and close WebSockets with 1001, and the server closes", async () => {
    const server = await startHerald({ env: { HERALD_GRIP_KEEPALIVE_SECONDS: "0" } });
    const query = `key=${APP_ONE.key}`;
    const stream = await openStream(`${server.url}/grip/stream/bye?${query}`);
    const poll = fetch(`${server.url}/grip/poll/bye?${query}`);
    const ws = openWs(`${server.url.replace("http", "ws")}/grip/ws/bye?${query}`);
    expect(await ws.opened).toBe(101);
    await subscriptions(server, "bye", 3);
    await server.close();
    await stream.done;
    expect(stream.ended).toBe(true);
    expect((await poll).status).toBe(204);
    expect((await ws.closed).code).toBe(1001);
  });
});
