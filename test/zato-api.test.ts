import { execFile } from "node:child_process";
import { promisify } from "node:util";
import Pusher from "pusher";
import { describe, expect, it } from "vitest";
import { APP_ONE, APP_TWO, gql, sleep, subscribed, useHerald } from "./helpers/herald.ts";
import { ENGINES, uniquePrefix } from "./helpers/redis.ts";
import { expectTwinsInSchema } from "./helpers/route-twins.ts";
import { PublishDocument } from "./generated/graphql.ts";
import { useZatoApi } from "../src/rest/zato/index.ts";

const run = promisify(execFile);
const USER = `${APP_ONE.key}:${APP_ONE.secret}`;

interface ZatoReply {
  status: number;
  body: { status: string; msg?: string; msg_id?: string; sub_key?: string; queue_depth?: number; results_count?: number; results?: ZatoResult[] };
}
interface ZatoResult {
  payload: string;
  metadata: Record<string, unknown>;
}

/** Runs curl as a Zato user would (`curl -u user:secret …`) and reads the status and JSON body. */
async function curl(...args: string[]): Promise<ZatoReply> {
  const { stdout } = await run("curl", ["-s", "-w", "\n%{http_code}", ...args]);
  const newline = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(newline + 1)), body: JSON.parse(stdout.slice(0, newline)) };
}

describe.each(ENGINES)("Zato pub/sub REST: $name", (engine) => {
  const server = useHerald(engine, uniquePrefix("zato-api"), { HERALD_MAX_QUEUE_DEPTH: "5" });
  const test = engine.skip ? it.skip : it;
  let topicCounter = 0;
  /** A topic of its own per test, Zato-style. */
  const newTopic = () => `/customer/created-${++topicCounter}`;

  /** The fetch counterpart of curl, for the many-request tests. */
  async function zato(method: string, path: string, init: { body?: string | Blob; headers?: Record<string, string>; user?: string | null } = {}): Promise<ZatoReply> {
    const user = init.user === undefined ? USER : init.user;
    const response = await fetch(server.url + path, {
      method,
      headers: { ...(user === null ? {} : { authorization: `Basic ${Buffer.from(user).toString("base64")}` }), ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    return { status: response.status, body: (await response.json()) as ZatoReply["body"] };
  }
  const subscribe = async (topic: string) => (await zato("POST", `/zato/pubsub/subscribe/topic/${topic}`)).body.sub_key!;
  const publish = (topic: string, body: string, query = "", headers: Record<string, string> = {}) =>
    zato("POST", `/zato/pubsub/topic/${topic}${query}`, { body, headers: { "content-type": "application/x-www-form-urlencoded", ...headers } });
  const pull = (topic: string, key: string, query = "") => zato("POST", `/zato/pubsub/msg/${topic}${query}`, { headers: { "x-zato-pubsub-key": key } });
  const payloads = async (topic: string, key: string) => {
    const reply = await pull(topic, key);
    expect(reply.status).toBe(200);
    return reply.body.results!.map((r) => r.payload);
  };

  test("the seed's curl session: subscribe, publish, get messages, get again, unsubscribe", async () => {
    const base = server.url;
    const sub = await curl("-XPOST", "-u", USER, `${base}/zato/pubsub/subscribe/topic//customer/created`);
    expect(sub).toMatchObject({ status: 200, body: { status: "ZATO_OK", queue_depth: 0 } });
    const key = sub.body.sub_key!;
    expect(key).toMatch(/^[\w.-]+$/);

    const before = Date.now();
    const published = await curl("-XPOST", "-u", USER, "-d", "Hello pub/sub!", `${base}/zato/pubsub/topic//customer/created`);
    expect(published).toMatchObject({ status: 200, body: { status: "ZATO_OK" } });
    expect(published.body.msg_id).toEqual(expect.any(String));

    const got = await curl("-XPOST", "-u", USER, "-H", `X-Zato-PubSub-Key: ${key}`, `${base}/zato/pubsub/msg//customer/created`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ status: "ZATO_OK", results_count: 1 });
    const [message] = got.body.results!;
    expect(message!.payload).toBe("Hello pub/sub!");
    expect(message!.metadata).toEqual({
      msg_id: published.body.msg_id,
      topic: "/customer/created",
      creation_time_utc: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/),
      expiration: null,
      expire_at_utc: null,
      producer: APP_ONE.key,
      priority: 5,
      mime_type: "text/json",
    });
    expect(Math.abs(Date.parse(`${message!.metadata.creation_time_utc}Z`) - before)).toBeLessThan(10_000);

    const again = await curl("-XPOST", "-u", USER, "-H", `X-Zato-PubSub-Key: ${key}`, `${base}/zato/pubsub/msg//customer/created`);
    expect(again).toEqual({ status: 200, body: { status: "ZATO_OK", results_count: 0, results: [] } });

    const gone = await curl("-XDELETE", "-u", USER, "-H", `X-Zato-PubSub-Key: ${key}`, `${base}/zato/pubsub/subscribe/topic//customer/created`);
    expect(gone).toEqual({ status: 200, body: { status: "ZATO_OK" } });
    const after = await curl("-XPOST", "-u", USER, "-H", `X-Zato-PubSub-Key: ${key}`, `${base}/zato/pubsub/msg//customer/created`);
    expect(after.status).toBe(404);
    expect(after.body.status).toBe("ZATO_ERROR");
  });

  test("raw payloads are kept byte for byte, with their content type; a trailing slash is ignored", async () => {
    const topic = newTopic();
    const key = await subscribe(`${topic}/`);
    const json = '{"id": 1,  "name":"Zoë"}\n';
    await publish(topic, json, "", { "content-type": "application/json" });
    await zato("POST", `/zato/pubsub/topic/${topic}/?mime_type=text/csv`, { body: "a,b\n1,2" });
    const { body } = await pull(`${topic}/`, key);
    expect(body.results!.map((r) => [r.payload, r.metadata.mime_type])).toEqual([
      [json, "application/json"],
      ["a,b\n1,2", "text/csv"],
    ]);
  });

  test("messages published before the subscribe are not in the queue; two queues each get every message", async () => {
    const topic = newTopic();
    await publish(topic, "early");
    const [first, second] = [await subscribe(topic), await subscribe(topic)];
    for (const n of [1, 2, 3]) await publish(topic, `m${n}`);
    expect(await payloads(topic, first)).toEqual(["m1", "m2", "m3"]);
    expect(await payloads(topic, second)).toEqual(["m1", "m2", "m3"]);
  });

  test("priority (query or header) orders a pull, then publish order; max bounds it", async () => {
    const topic = newTopic();
    const key = await subscribe(topic);
    await publish(topic, "p5-a");
    await publish(topic, "p9", "?priority=9");
    await publish(topic, "p1", "", { "X-Zato-PubSub-Priority": "1" });
    await publish(topic, "p5-b", "?priority=5");
    await publish(topic, "p7", "", { "X-Zato-PubSub-Priority": "7" });
    const firstTwo = await pull(topic, key, "?max=2");
    expect(firstTwo.body.results!.map((r) => [r.payload, r.metadata.priority])).toEqual([
      ["p9", 9],
      ["p7", 7],
    ]);
    expect(await payloads(topic, key)).toEqual(["p5-a", "p5-b", "p1"]);
  });

  test("a message with expiration=1 pulled after 1.5 s is not returned", async () => {
    const topic = newTopic();
    const key = await subscribe(topic);
    await publish(topic, "short", "?expiration=1");
    await publish(topic, "long", "", { "X-Zato-PubSub-Expiration": "3600" });
    await sleep(1_500);
    const { body } = await pull(topic, key);
    expect(body.results!.map((r) => r.payload)).toEqual(["long"]);
    const { metadata } = body.results![0]!;
    expect(metadata.expiration).toBe(3600);
    expect(Date.parse(`${metadata.expire_at_utc}Z`) - Date.parse(`${metadata.creation_time_utc}Z`)).toBe(3_600_000);
  });

  test("a full queue (HERALD_MAX_QUEUE_DEPTH=5) keeps the newest of the same priority", async () => {
    const topic = newTopic();
    const key = await subscribe(topic);
    await publish(topic, "urgent", "?priority=9");
    for (let n = 0; n < 7; n++) expect((await publish(topic, `n${n}`)).status).toBe(200);
    expect(await payloads(topic, key)).toEqual(["urgent", "n3", "n4", "n5", "n6"]);
  });

  test("every rejection answers Zato's error shape and publishes or removes nothing", async () => {
    const topic = newTopic();
    const other = newTopic();
    const key = await subscribe(topic);
    const otherKey = await subscribe(other);
    await publish(topic, "kept");
    const refusals: [ZatoReply, number][] = [
      [await zato("POST", `/zato/pubsub/topic/${topic}`, { body: "nope", user: null }), 401],
      [await zato("POST", `/zato/pubsub/topic/${topic}`, { body: "nope", user: `${APP_ONE.key}:wrong-secret` }), 401],
      [await zato("POST", `/zato/pubsub/topic/${topic}`, { body: "nope", user: `${APP_ONE.key}:${APP_TWO.secret}` }), 401],
      [await publish(topic, "nope", "?priority=0"), 400],
      [await publish(topic, "nope", "?priority=10"), 400],
      [await publish(topic, "nope", "", { "X-Zato-PubSub-Priority": "high" }), 400],
      [await publish(topic, "nope", "?expiration=0"), 400],
      [await publish(topic, "nope", "?expiration=soon"), 400],
      [await publish(topic, ""), 400],
      [await zato("POST", `/zato/pubsub/topic/${topic}`, { body: new Blob([new Uint8Array([0x66, 0xff, 0xfe])]) }), 400],
      [await publish(topic, "x".repeat(65 * 1024)), 413],
      [await zato("POST", "/zato/pubsub/topic/bad%20topic", { body: "nope" }), 400],
      [await pull(topic, "hq.unknown"), 404],
      [await pull(topic, otherKey), 404],
      [await zato("POST", `/zato/pubsub/msg/${topic}`, { headers: { "x-zato-pubsub-key": key }, user: `${APP_TWO.key}:${APP_TWO.secret}` }), 404],
      [await zato("POST", `/zato/pubsub/msg/${topic}`), 400],
      [await pull(topic, key, "?max=0"), 400],
      [await zato("POST", `/zato/pubsub/msg/${topic}`, { headers: { "x-zato-pubsub-key": key }, user: null }), 401],
      [await zato("DELETE", `/zato/pubsub/subscribe/topic/${other}`, { headers: { "x-zato-pubsub-key": key } }), 404],
      [await zato("DELETE", `/zato/pubsub/subscribe/topic/${topic}`, { headers: { "x-zato-pubsub-key": key }, user: `${APP_TWO.key}:${APP_TWO.secret}` }), 404],
      [await zato("POST", `/zato/pubsub/subscribe/topic/${topic}`, { user: null }), 401],
    ];
    for (const [[reply, status], index] of refusals.map((r, i) => [r, i] as const)) {
      expect(reply.status, `refusal ${index}`).toBe(status);
      expect(reply.body, `refusal ${index}`).toEqual({ status: "ZATO_ERROR", msg: expect.any(String) });
    }
    expect(refusals[3]![0].body.msg).toMatch(/priority/);
    expect(refusals[6]![0].body.msg).toMatch(/expiresIn|expiration/);
    expect(refusals[9]![0].body.msg).toMatch(/UTF-8/);
    // Nothing was published, nothing removed.
    expect(await payloads(topic, key)).toEqual(["kept"]);
    expect(await payloads(other, otherKey)).toEqual([]);
  });

  test("a Zato publish reaches GraphQL subscribers with its id; GraphQL and Pusher publishes reach Zato queues", async () => {
    const topic = `customer.created-${++topicCounter}`; // a name the Pusher SDK accepts too
    const key = await subscribe(topic);
    const ws = server.connect();
    const sub = await subscribed(ws, topic);
    const zatoPublish = await publish(topic, "from zato");
    const [event] = await sub.messages(1);
    expect(event).toMatchObject({ id: zatoPublish.body.msg_id, data: "from zato", publisherId: APP_ONE.key });
    await gql(server, PublishDocument, { input: { channels: [topic], data: { from: "graphql" } } });
    const pusher = new Pusher({ appId: APP_ONE.id, key: APP_ONE.key, secret: APP_ONE.secret, host: "127.0.0.1", port: new URL(server.url).port, useTLS: false });
    await pusher.trigger(topic, "my-event", { from: "pusher" });
    const { body } = await pull(topic, key);
    expect(body.results!.map((r) => [r.payload, r.metadata.producer])).toEqual([
      ["from zato", APP_ONE.key],
      ['{"from":"graphql"}', null],
      ['{"from":"pusher"}', null],
    ]);
  });

  it("names GraphQL twins that exist", () => {
    expectTwinsInSchema(useZatoApi({ core: {} as never }));
  });
});

describe.each(ENGINES)("Zato subscriptions left idle: $name", (engine) => {
  const server = useHerald(engine, uniquePrefix("zato-idle"), { HERALD_QUEUE_IDLE_TTL_SECONDS: "1" });
  const test = engine.skip ? it.skip : it;
  const auth = { authorization: `Basic ${Buffer.from(USER).toString("base64")}` };

  test("a subscription nobody pulls from for HERALD_QUEUE_IDLE_TTL_SECONDS is removed; publishing does not keep it", async () => {
    const subscribed = await fetch(`${server.url}/zato/pubsub/subscribe/topic/idle`, { method: "POST", headers: auth });
    const { sub_key: key } = (await subscribed.json()) as { sub_key: string };
    for (let i = 0; i < 5; i++) {
      await fetch(`${server.url}/zato/pubsub/topic/idle`, { method: "POST", headers: auth, body: `m${i}` });
      await sleep(500);
    }
    const pulled = await fetch(`${server.url}/zato/pubsub/msg/idle`, { method: "POST", headers: { ...auth, "x-zato-pubsub-key": key } });
    expect(pulled.status).toBe(404);
    expect(await pulled.json()).toEqual({ status: "ZATO_ERROR", msg: expect.stringContaining("idle") });
  });
});
