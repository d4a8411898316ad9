import { HttpResponseFormat, HttpStreamFormat, Publisher, WebSocketMessageFormat } from "@fanoutio/grip";
import Fastly from "fastly";
import { describe, expect, it } from "vitest";
import { signSubscriberToken } from "../src/core/auth-tokens.ts";
import { useGripApi } from "../src/rest/grip/index.ts";
import type { HeraldCore } from "../src/core/herald.ts";
import { OnGripChannelDocument, PublishDocument, type OnGripChannelSubscription } from "./generated/graphql.ts";
import { APP_OFF, APP_ONE, APP_TWO, gql, subscribeWith, useHerald, type SuiteServer, type WsConnection } from "./helpers/herald.ts";
import { ENGINES, uniquePrefix } from "./helpers/redis.ts";
import { expectTwinsInSchema } from "./helpers/route-twins.ts";
import { openSse } from "./helpers/sse.ts";
import type { App } from "../src/config.ts";

const prefix = uniquePrefix("grip-api");

/** An app with a Fanout alias and its own publish token, besides the test apps. */
const FANOUT_APP = {
  id: "fanout",
  key: "fanout-key-0004",
  secret: "fanout-secret-0123456789abcdef",
  name: "Fanout",
  enabled: true,
  fanoutServiceId: "SU1Z0isxPaozGVKXdv0eY",
  fanoutToken: "fanout-api-token-0123456789",
};

type GripEvent = OnGripChannelSubscription["channel"];

/** Bytes 0..255, each once: what a binary format must carry unchanged. */
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

function gripSuite(server: SuiteServer) {
  const connect = (app: App = APP_ONE): WsConnection => server.connect({ key: app.key });
  const subscribe = async (channel: string, app: App = APP_ONE, selector?: string) => {
    const sub = subscribeWith<OnGripChannelSubscription>(connect(app), OnGripChannelDocument, channel, selector ? { selector } : {});
    await sub.subscribed;
    return sub;
  };
  const publisher = (app: App = APP_ONE) => new Publisher({ control_uri: `${server.url}/service/${app.id}`, key: app.secret });

  /** POSTs a GRIP body by hand (what the SDKs do not send). */
  async function post(body: unknown, headers: Record<string, string> = { authorization: `Bearer ${APP_ONE.secret}` }, path = `/service/${APP_ONE.id}/publish/`) {
    const response = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: response.status, type: response.headers.get("content-type"), text: await response.text() };
  }

  /**
   * Subscribes to `channel`; `nothingDelivered()` then publishes a marker and checks it is the
   * only thing that arrived, so a rejected request published nothing.
   */
  async function watch(channel: string, app: App = APP_ONE) {
    const sub = await subscribe(channel, app);
    return {
      async nothingDelivered() {
        await gql(server, PublishDocument, { input: { channels: [channel], event: "marker" } }, { bearer: app.secret });
        await sub.messages(1);
        expect(sub.events.map((e) => e.event)).toEqual(["marker"]);
      },
    };
  }

  return { connect, subscribe, publisher, post, watch };
}

describe.each(ENGINES)("GRIP / Fastly Fanout publish ($name engine)", ({ redis, skip }) => {
  const server = useHerald({ redis, skip }, prefix, { HERALD_APPS: JSON.stringify([APP_ONE, APP_TWO, APP_OFF, FANOUT_APP]) });
  const { subscribe, publisher, post, watch } = gripSuite(server);

  describe.skipIf(skip)("with @fanoutio/grip's Publisher", () => {
    it("publishFormats with each format reaches graphql-ws subscribers with typed formats and derived data", async () => {
      const sub = await subscribe("grip-formats");
      const grip = publisher();
      await grip.publishFormats("grip-formats", new WebSocketMessageFormat('{"n":1}'));
      await grip.publishFormats("grip-formats", new HttpStreamFormat("streamed\n"));
      await grip.publishFormats("grip-formats", new HttpResponseFormat({ code: "201", reason: "Created", headers: { "Content-Type": "text/plain" }, body: "held" }));
      await grip.publishFormats("grip-formats", [new HttpStreamFormat("s"), new WebSocketMessageFormat("w"), new HttpResponseFormat({ body: "r" })]);
      const [ws, stream, response, all] = await sub.messages(4);
      expect(ws).toMatchObject({ kind: "MESSAGE", event: "message", data: { n: 1 }, headers: {} });
      expect(ws!.formats).toEqual({ wsMessage: { content: '{"n":1}', contentBase64: Buffer.from('{"n":1}').toString("base64"), action: "SEND", code: null }, httpStream: null, httpResponse: null });
      expect(stream!.data).toBe("streamed\n");
      expect(stream!.formats?.httpStream).toEqual({ content: "streamed\n", contentBase64: Buffer.from("streamed\n").toString("base64"), action: "SEND" });
      expect(response!.data).toBe("held");
      expect(response!.formats?.httpResponse).toEqual({ code: 201, reason: "Created", headers: { "Content-Type": "text/plain" }, body: "held", bodyBase64: Buffer.from("held").toString("base64") });
      // data: the ws-message content first, then the stream's, then the response body.
      expect(all!.data).toBe("w");
      expect(Object.values(all!.formats!).every((format) => format !== null)).toBe(true);
    });

    it("publishHttpStream and publishHttpResponse, with ids and a close action", async () => {
      const sub = await subscribe("grip-helpers");
      const grip = publisher();
      await grip.publishHttpStream("grip-helpers", "chunk\n", "helper-1");
      await grip.publishHttpResponse("grip-helpers", "answer", "helper-2", "helper-1");
      await grip.publishHttpStream("grip-helpers", new HttpStreamFormat(null, true));
      const [stream, response, close] = await sub.messages(3);
      expect(stream).toMatchObject({ id: "helper-1", data: "chunk\n", prevId: null });
      expect(response).toMatchObject({ id: "helper-2", data: "answer", prevId: "helper-1" });
      expect(response!.formats?.httpResponse).toMatchObject({ code: 200, reason: null, body: "answer" });
      expect(close!.formats?.httpStream).toMatchObject({ action: "CLOSE", content: "" });
    });

    it("authenticates with a JWT ({ control_uri, control_iss, key }) and with Basic user:pass in the URI", async () => {
      const sub = await subscribe("grip-auth");
      const jwt = new Publisher({ control_uri: `${server.url}/service/${APP_ONE.id}`, control_iss: APP_ONE.id, key: APP_ONE.secret });
      await jwt.publishHttpStream("grip-auth", "by jwt");
      const byKey = new Publisher({ control_uri: `${server.url}/service/${APP_ONE.id}`, control_iss: APP_ONE.key, key: APP_ONE.secret });
      await byKey.publishHttpStream("grip-auth", "by jwt with the key as iss");
      const url = new URL(server.url);
      const basic = new Publisher(`http://${APP_ONE.key}:${APP_ONE.secret}@${url.host}/service/${APP_ONE.id}`);
      await basic.publishHttpStream("grip-auth", "by basic");
      // Pushpin's control API: the control URI is the server root, the app the credentials'.
      const pushpin = new Publisher({ control_uri: server.url, key: APP_ONE.secret });
      await pushpin.publishHttpStream("grip-auth", "by pushpin path");
      expect((await sub.messages(4)).map((e) => e.data)).toEqual(["by jwt", "by jwt with the key as iss", "by basic", "by pushpin path"]);
    });

    it("takes an app's fanoutServiceId and fanoutToken (Fastly's service id and API token)", async () => {
      const sub = await subscribe("grip-alias", FANOUT_APP);
      await new Publisher({ control_uri: `${server.url}/service/${FANOUT_APP.fanoutServiceId}`, key: FANOUT_APP.fanoutToken }).publishHttpStream("grip-alias", "token");
      await new Publisher({ control_uri: `${server.url}/service/${FANOUT_APP.fanoutServiceId}`, control_iss: FANOUT_APP.fanoutServiceId, key: FANOUT_APP.fanoutToken }).publishHttpStream(
        "grip-alias",
        "jwt",
      );
      await new Publisher({ control_uri: `${server.url}/service/${FANOUT_APP.id}`, key: FANOUT_APP.secret }).publishHttpStream("grip-alias", "secret");
      expect((await sub.messages(3)).map((e) => e.data)).toEqual(["token", "jwt", "secret"]);
    });

    it("round-trips binary content byte for byte (content-bin and body-bin of all 256 byte values)", async () => {
      const sub = await subscribe("grip-binary");
      await publisher().publishFormats("grip-binary", [new WebSocketMessageFormat(ALL_BYTES), new HttpStreamFormat(ALL_BYTES), new HttpResponseFormat({ body: ALL_BYTES })]);
      const [event] = await sub.messages(1);
      const base64 = Buffer.from(ALL_BYTES).toString("base64");
      expect(event!.formats?.wsMessage).toMatchObject({ contentBase64: base64, content: null });
      expect(event!.formats?.httpStream).toMatchObject({ contentBase64: base64, content: null });
      expect(event!.formats?.httpResponse).toMatchObject({ bodyBase64: base64, body: null });
      // Not UTF-8 text: no data to derive.
      expect(event!.data).toBeNull();
    });

    it("reaches an SSE subscriber too", async () => {
      const params = new URLSearchParams({ query: OnGripChannelDocument.toString(), variables: JSON.stringify({ name: "grip-sse" }), key: APP_ONE.key });
      const sse = await openSse(`${server.graphqlUrl}?${params}`);
      await sse.next(1);
      await publisher().publishFormats("grip-sse", [new HttpStreamFormat("to sse"), new HttpResponseFormat({ code: "404", body: "{}" })]);
      const [, payload] = (await sse.next(2)) as { data: { channel: GripEvent } }[];
      expect(payload!.data.channel).toMatchObject({ data: "to sse", formats: { httpStream: { content: "to sse", action: "SEND" }, httpResponse: { code: 404, body: "{}" } } });
      sse.close();
    });

    it("answers 200 text/plain Published, and {} to a client that asks for JSON", async () => {
      const item = { items: [{ channel: "grip-answer", formats: { "http-stream": { content: "x" } } }] };
      expect(await post(item)).toEqual({ status: 200, type: "text/plain; charset=utf-8", text: "Published\n" });
      expect(await post(item, { authorization: `Bearer ${APP_ONE.secret}`, accept: "application/json" })).toEqual({ status: 200, type: "application/json", text: "{}" });
      // The slashless form of the route works too.
      expect((await post(item, undefined, `/service/${APP_ONE.id}/publish`)).status).toBe(200);
    });
  });

  describe.skipIf(skip)("the GraphQL twin", () => {
    it("publish takes formats and prevId too, and derives data the same way", async () => {
      const sub = await subscribe("graphql-formats");
      const mutation = "mutation ($input: PublishInput!) { publish(input: $input) { id } }";
      const first = await gql(server, mutation, { input: { channels: ["graphql-formats"], id: "gq-1", formats: { wsMessage: { contentBase64: Buffer.from("[1]").toString("base64") } } } });
      expect(first.errors).toBeUndefined();
      await gql(server, mutation, {
        input: { channels: ["graphql-formats"], id: "gq-2", prevId: "gq-1", formats: { httpResponse: { code: 202, body: "ok", headers: { "X-A": "b" } }, httpStream: { action: "CLOSE" } } },
      });
      const [one, two] = await sub.messages(2);
      expect(one).toMatchObject({ id: "gq-1", data: [1], formats: { wsMessage: { content: "[1]", action: "SEND" } } });
      expect(two).toMatchObject({ prevId: "gq-1", data: "ok", formats: { httpResponse: { code: 202, headers: { "X-A": "b" } }, httpStream: { action: "CLOSE", content: "" } } });
      const bad = await gql(server, mutation, { input: { channels: ["graphql-formats"], formats: { httpStream: { contentBase64: "%%" } } } });
      expect(bad.errors?.[0]).toMatchObject({ message: "Invalid format: http-stream content-bin must be base64", extensions: { code: "BAD_REQUEST" } });
    });
  });

  describe.skipIf(skip)("with the fastly client's PublishApi", () => {
    it("publishes with Fastly-Key auth to the service id", async () => {
      const sub = await subscribe("fastly-api", FANOUT_APP);
      const client = new Fastly.ApiClient();
      // The client's operations carry Fastly's host; point them at Herald.
      client.buildUrl = (path: string, pathParams: object, allowReserved: object) => Fastly.ApiClient.prototype.buildUrl.call(client, path, pathParams, allowReserved, server.url);
      client.authenticate(FANOUT_APP.fanoutToken);
      const api = new Fastly.PublishApi(client);
      const answer = await api.publish({
        service_id: FANOUT_APP.fanoutServiceId,
        publish_request: Fastly.PublishRequest.constructFromObject({
          items: [
            { channel: "fastly-api", id: "fastly-1", formats: { "http-stream": { content: "from fastly\n" } } },
            { channel: "fastly-api", "prev-id": "fastly-1", formats: { "ws-message": { content: "[1,2]" }, "http-response": { code: 202, body: "ok" } } },
          ],
        }),
      });
      expect(answer).toBe("Published\n");
      const [first, second] = await sub.messages(2);
      expect(first).toMatchObject({ id: "fastly-1", data: "from fastly\n" });
      expect(second).toMatchObject({ prevId: "fastly-1", data: [1, 2], formats: { httpResponse: { code: 202, body: "ok" } } });
    });
  });

  describe.skipIf(skip)("items", () => {
    it("publishes several items of one request in order, with hyphenated and underscored keys", async () => {
      const sub = await subscribe("grip-many");
      const other = await subscribe("grip-many-other");
      const response = await post({
        items: [
          { channel: "grip-many", id: "many-1", formats: { "http-stream": { content: "one" } } },
          { channel: "grip-many-other", formats: { ws_message: { content_bin: Buffer.from("two").toString("base64") } } },
          { channel: "grip-many", id: "many-3", prev_id: "many-1", formats: { http_response: { body_bin: Buffer.from("three").toString("base64") } } },
        ],
      });
      expect(response.status).toBe(200);
      expect((await sub.messages(2)).map((e) => [e.id, e.prevId, e.data])).toEqual([
        ["many-1", null, "one"],
        ["many-3", "many-1", "three"],
      ]);
      expect((await other.messages(1))[0]!.data).toBe("two");
    });

    it("turns meta into headers, which selectors filter on", async () => {
      const tokyo = await subscribe("grip-meta", APP_ONE, "city = 'Tokyo'");
      await post({
        items: [
          { channel: "grip-meta", meta: { city: "Paris" }, formats: { "http-stream": { content: "paris" } } },
          { channel: "grip-meta", meta: { city: "Tokyo" }, formats: { "http-stream": { content: "tokyo" } } },
        ],
      });
      const [event] = await tokyo.messages(1);
      expect(event).toMatchObject({ data: "tokyo", headers: { city: "Tokyo" } });
    });

    it("does not deliver an id twice within the idempotency window", async () => {
      const sub = await subscribe("grip-dup");
      const item = { channel: "grip-dup", id: "dup-once", formats: { "http-stream": { content: "once" } } };
      expect((await post({ items: [item] })).status).toBe(200);
      expect((await post({ items: [item] })).status).toBe(200);
      await gql(server, PublishDocument, { input: { channels: ["grip-dup"], event: "marker" } });
      await sub.messages(2);
      expect(sub.events.map((e) => e.event === "marker" ? "marker" : e.data)).toEqual(["once", "marker"]);
    });
  });

  describe.skipIf(skip)("rejections publish nothing", () => {
    const good = (channel: string) => ({ channel, formats: { "http-stream": { content: "must not arrive" } } });

    it.each([
      ["malformed JSON", "{not json", /Invalid JSON body/],
      ["no items", { items: [] }, /items is empty/],
      ["items not a list", { items: {} }, /body must be/],
      ["an item without formats", { items: [{ channel: "c" }] }, /formats is required/],
      ["empty formats", { items: [{ channel: "c", formats: {} }] }, /at least one format/],
      ["an unknown format", { items: [{ channel: "c", formats: { "sse-event": { content: "x" } } }] }, /unknown format "sse-event"/],
      ["an unknown item field", { items: [{ channel: "c", formats: { "http-stream": { content: "x" } }, channels: ["c"] }] }, /unknown field "channels"/],
      ["both content and content-bin", { items: [{ channel: "c", formats: { "ws-message": { content: "x", "content-bin": "eA==" } } }] }, /both content and content-bin/],
      ["content-bin that is not base64", { items: [{ channel: "c", formats: { "http-stream": { "content-bin": "not base64!" } } }] }, /content-bin must be base64/],
      ["a stream without content", { items: [{ channel: "c", formats: { "http-stream": {} } }] }, /needs content or content-bin/],
      ["an unknown action", { items: [{ channel: "c", formats: { "http-stream": { content: "x", action: "refresh" } } }] }, /action must be one of send, close, hint/],
      ["a bad status code", { items: [{ channel: "c", formats: { "http-response": { code: 99 } } }] }, /code must be an integer from 100 to 599/],
      ["a framing header", { items: [{ channel: "c", formats: { "http-response": { headers: { "Content-Length": "3" } } } }] }, /Content-Length is set by the server/],
      ["a bad close code", { items: [{ channel: "c", formats: { "ws-message": { action: "close", code: 1006 } } }] }, /close code/],
      ["an invalid channel name", { items: [{ channel: "no spaces", formats: { "http-stream": { content: "x" } } }] }, /Item 0: Invalid channel name/],
      ["meta that is not a string map", { items: [{ channel: "c", meta: { n: 1 }, formats: { "http-stream": { content: "x" } } }] }, /Header n must be a string/],
    ])("400 for %s", async (_name, body, reason) => {
      const watcher = await watch("c");
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(response.type).toBe("text/plain; charset=utf-8");
      expect(response.text).toMatch(reason);
      await watcher.nothingDelivered();
    });

    it("400 for one bad item among good ones: all are validated before any is published", async () => {
      const watcher = await watch("grip-all-or-none");
      const response = await post({ items: [good("grip-all-or-none"), good("grip-all-or-none"), { channel: "grip-all-or-none", formats: { "ws-message": {} } }] });
      expect(response).toMatchObject({ status: 400, text: "Item 2: Invalid format: ws-message needs content or content-bin\n" });
      await watcher.nothingDelivered();
    });

    it("401 for missing or wrong credentials, a bad or expired JWT, and another app's key in Basic", async () => {
      const watcher = await watch("grip-auth-fail");
      const body = { items: [good("grip-auth-fail")] };
      const hour = Math.floor(Date.now() / 1000) + 3600;
      const cases: Record<string, string>[] = [
        {},
        { authorization: "Bearer wrong-secret-0123456789" },
        { "fastly-key": "wrong-token-0123456789" },
        { authorization: `Basic ${Buffer.from(`${APP_ONE.key}:${APP_TWO.secret}`).toString("base64")}` },
        { authorization: `Basic ${Buffer.from(`nobody:${APP_ONE.secret}`).toString("base64")}` },
        { authorization: `Bearer ${signSubscriberToken(APP_TWO.secret, { iss: APP_ONE.id, exp: hour } as never)}` },
        { authorization: `Bearer ${signSubscriberToken(APP_ONE.secret, { iss: APP_ONE.id, exp: Math.floor(Date.now() / 1000) - 10 } as never)}` },
        { authorization: `Bearer ${signSubscriberToken(APP_ONE.secret, { iss: APP_ONE.id } as never)}` },
        { authorization: `Bearer ${signSubscriberToken(APP_ONE.secret, { iss: "unknown-app", exp: hour } as never)}` },
        { authorization: "Digest abc" },
      ];
      for (const headers of cases) {
        const response = await post(body, headers);
        expect(response.status, JSON.stringify(headers)).toBe(401);
        expect(response.text).toMatch(/\n$/);
      }
      await watcher.nothingDelivered();
    });

    it("403 for a disabled app, and for a service id that is not the caller's", async () => {
      const watcher = await watch("grip-forbidden");
      const body = { items: [good("grip-forbidden")] };
      expect(await post(body, { authorization: `Bearer ${APP_OFF.secret}` }, `/service/${APP_OFF.id}/publish/`)).toMatchObject({ status: 403, text: "App off is disabled\n" });
      expect(await post(body, { authorization: `Bearer ${APP_OFF.secret}` }, "/publish/")).toMatchObject({ status: 403 });
      expect(await post(body, { authorization: `Bearer ${APP_TWO.secret}` }, `/service/${APP_ONE.id}/publish/`)).toMatchObject({ status: 403 });
      expect(await post(body, { authorization: `Bearer ${APP_ONE.secret}` }, "/service/no-such-service/publish/")).toMatchObject({ status: 403 });
      await watcher.nothingDelivered();
    });

    it("413 above HERALD_MAX_REQUEST_BYTES", async () => {
      const watcher = await watch("grip-big");
      const response = await post({ items: [{ channel: "grip-big", formats: { "http-stream": { content: "x".repeat(1024 * 1024) } } }] });
      expect(response.status).toBe(413);
      await watcher.nothingDelivered();
    });
  });
});

describe("GRIP route table", () => {
  it("names GraphQL twins that exist", () => {
    expectTwinsInSchema(useGripApi({ core: {} as HeraldCore, config: { grip: { maxItemsPerPublish: 100 } as never } }));
  });
});
