import { execute, getOperationAST, parse } from "graphql";
import WebSocket from "ws";
import type { ChannelEvent } from "../src/core/types.ts";
import { schema } from "../src/schema/index.ts";
import { loadConfig } from "../src/config.ts";
import { createDocumentPolicy, documentLimitsOf } from "../src/transport/document-policy.ts";
import { createFastPath, type FastSubscriber } from "../src/transport/fast-path.ts";
import { compileProjection } from "../src/transport/projection.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PublishDocument, TriggerBatchDocument } from "./generated/graphql.ts";
import { APP_ONE, connectWs, gql, sleep, startHerald, subscribeChannel, type TestServer } from "./helpers/herald.ts";
import { eventually } from "./helpers/wait.ts";
import { rawClient } from "./helpers/raw-ws.ts";

describe("fast-path delivery keeps every GraphQL semantic", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startHerald({ env: { HERALD_MAX_SOCKET_BUFFER_BYTES: "262144" } });
  });
  afterAll(() => server.close());

  it("gives each operation the payload its own selection, aliases and variables ask for", async () => {
    const client = await rawClient(server);
    client.subscribe("small", 'subscription { channel(name: "shape") { kind event } }');
    client.subscribe("aliased", 'subscription { c: channel(name: "shape") { k: kind d: data } }');
    client.subscribe("vars", "subscription ($n: String!, $withData: Boolean!) { channel(name: $n) { event data @include(if: $withData) } }", {
      n: "shape",
      withData: false,
    });
    await client.until(() => ["small", "aliased", "vars"].every((id) => client.nexts(id).length === 1));
    await gql(server, PublishDocument, { input: { channels: ["shape"], event: "e1", data: { x: 1 } } });
    await client.until(() => ["small", "aliased", "vars"].every((id) => client.nexts(id).length === 2));
    expect(client.nexts("small")[1]).toEqual({ data: { channel: { kind: "MESSAGE", event: "e1" } } });
    expect(client.nexts("aliased")[1]).toEqual({ data: { c: { k: "MESSAGE", d: { x: 1 } } } });
    expect(client.nexts("vars")[1]).toEqual({ data: { channel: { event: "e1" } } });
    client.socket.close();
  });

  it("ends one operation on `complete`, leaving the others; errors come as graphql-ws does", async () => {
    const client = await rawClient(server);
    client.subscribe("a", 'subscription { channel(name: "ops") { event } }');
    client.subscribe("b", 'subscription { channel(name: "ops") { event } }');
    client.subscribe("forbidden", 'subscription { channel(name: "private-nope") { event } }');
    client.subscribe("invalid", 'subscription { channel(name: "ops") { nope } }');
    await client.until(() => client.nexts("a").length === 1 && client.nexts("b").length === 1);
    await client.until(() => client.messages.some((m) => m.id === "forbidden" && m.type === "complete"));
    expect((client.nexts("forbidden")[0]!.errors as { extensions: { code: string } }[])[0]!.extensions.code).toBe("FORBIDDEN");
    await client.until(() => client.messages.some((m) => m.id === "invalid" && m.type === "error"));
    client.socket.send(JSON.stringify({ id: "a", type: "complete" }));
    await sleep(50);
    await gql(server, PublishDocument, { input: { channels: ["ops"], event: "after" } });
    await client.until(() => client.nexts("b").length === 2);
    await sleep(50);
    expect(client.nexts("a")).toHaveLength(1);
    client.socket.close();
  });

  it("sends nothing more for an operation the client completed while it was being refused", async () => {
    const client = await rawClient(server);
    client.subscribe("gone", 'subscription { channel(name: "private-nobody") { event } }');
    client.socket.send(JSON.stringify({ id: "gone", type: "complete" }));
    client.subscribe("after", 'subscription { channel(name: "after-gone") { event } }');
    await client.until(() => client.nexts("after").length === 1);
    await sleep(50);
    expect(client.messages.filter((m) => m.id === "gone")).toEqual([]);
    client.socket.close();
  });

  it("closes with 4409 when an operation id is reused while active", async () => {
    const client = await rawClient(server);
    client.subscribe("same", 'subscription { channel(name: "dup") { event } }');
    await client.until(() => client.nexts("same").length === 1);
    client.subscribe("same", 'subscription { channel(name: "dup") { event } }');
    expect(await client.closed).toBe(4409);
  });

  it("drops a subscriber that stops reading (close 4032) without holding back the others", async () => {
    const slow = await rawClient(server);
    const fast = connectWs(server);
    slow.subscribe("s", 'subscription { channel(name: "firehose") { data } }');
    const keeping = subscribeChannel(fast, "firehose");
    await Promise.all([slow.until(() => slow.nexts("s").length === 1), keeping.subscribed]);
    slow.socket.pause(); // reads nothing more: the kernel buffers fill, then Herald's
    const big = "x".repeat(60_000);
    let published = 0;
    const start = Date.now();
    while (published < 400 && Date.now() - start < 10_000) {
      await gql(server, PublishDocument, { input: { channels: ["firehose"], data: big } });
      published++;
      if (published % 50 === 0) await keeping.messages(published); // the reader keeps up meanwhile
    }
    slow.socket.resume();
    expect(await slow.closed).toBe(4032);
    await keeping.messages(published);
    await fast.dispose();
  });

  it("sends messages fanned out in one turn (the coalesced path), small and large, whole and in wire order", async () => {
    const client = await rawClient(server);
    client.subscribe("a", 'subscription { channel(name: "burst") { event } }');
    client.subscribe("b", 'subscription { c: channel(name: "burst") { event data } }');
    await client.until(() => client.nexts("a").length === 1 && client.nexts("b").length === 1);
    const events = Array.from({ length: 10 }, (_, i) => `e${i}`);
    // Every other message is large: its frame is written as start + shared tail, inside the cork.
    const dataOf = (i: number) => ({ i, pad: i % 2 === 1 ? "x".repeat(10_000) : "" });
    // One batch: every message reaches the socket in the same turn, twice (two operations).
    const result = await gql(server, TriggerBatchDocument, { events: events.map((event, i) => ({ channels: ["burst"], event, data: dataOf(i) })) });
    expect(result.errors).toBeUndefined();
    await client.until(() => client.nexts("b").length === 1 + events.length);
    const wire = client.messages.filter((m) => m.type === "next").slice(2).map((m) => `${m.id}:${JSON.stringify(m.payload)}`);
    expect(wire).toEqual(
      events.flatMap((event, i) => [
        `a:${JSON.stringify({ data: { channel: { event } } })}`,
        `b:${JSON.stringify({ data: { c: { event, data: dataOf(i) } } })}`,
      ]),
    );
    // And the next turn's message is not held back by the last one's corked writes.
    await gql(server, PublishDocument, { input: { channels: ["burst"], event: "later" } });
    await client.until(() => client.nexts("a").length === 2 + events.length);
    client.socket.close();
  });

  it("frames messages of every length class exactly (7-bit, 16-bit and 64-bit WebSocket lengths)", async () => {
    const client = await rawClient(server);
    const raw: string[] = [];
    client.socket.on("message", (data) => raw.push(String(data)));
    client.subscribe("len", 'subscription { channel(name: "lengths") { data } }');
    await client.until(() => client.nexts("len").length === 1);
    // The whole `next` message is this prefix, the data string, this suffix.
    const fixed = '{"id":"len","type":"next","payload":{"data":{"channel":{"data":"'.length + '"}}}}'.length;
    const lengths = [125, 126, 127, 65_535, 65_536, 65_537];
    for (const length of lengths) {
      await gql(server, PublishDocument, { input: { channels: ["lengths"], data: "x".repeat(length - fixed) } });
    }
    await client.until(() => client.nexts("len").length === 1 + lengths.length);
    const received = raw.filter((text) => text.startsWith('{"id":"len","type":"next","payload":{"data":{"channel":{"data":"x'));
    expect(received.map((text) => text.length)).toEqual(lengths);
    expect(client.nexts("len").slice(1).map((p) => (p.data!.channel.data as string).length)).toEqual(lengths.map((n) => n - fixed));
    client.socket.close();
  });
});

describe("the direct projection of plain selections", () => {
  const events: ChannelEvent[] = [
    { kind: "MESSAGE", id: "m1", channel: "c", event: "e", data: { x: [1, "two", null] }, headers: { a: "b" }, publisherId: "p", publishedAt: "2026-01-02T03:04:05.678Z", offset: 7, epoch: "ep" },
    { kind: "MESSAGE", id: "m2", channel: "c", event: "e", data: "a string", headers: {}, publisherId: undefined, publishedAt: "2026-01-02T03:04:05.678Z" },
    { kind: "SUBSCRIBED", id: null, channel: "c", event: "herald:subscription_succeeded", data: null, headers: {}, publishedAt: null, recovered: true, offset: 3, epoch: "ep" },
    { kind: "MEMBER_ADDED", id: "m3", channel: "presence-c", event: "herald:member_added", data: { userId: "u1", info: { name: "Ada" } }, headers: {}, publishedAt: "2026-01-02T03:04:05.678Z" },
    { kind: "MEMBER_REMOVED", id: "m4", channel: "presence-c", event: "herald:member_removed", data: { userId: "u2" }, headers: {}, publishedAt: "2026-01-02T03:04:05.678Z" },
    // GRIP items: every format, text and bytes (one not UTF-8), close actions, a prev-id.
    {
      kind: "MESSAGE", id: "g1", channel: "c", event: "message", data: { n: 1 }, headers: { user: "ada" }, publishedAt: "2026-01-02T03:04:05.678Z", prevId: "g0",
      formats: {
        httpResponse: { code: 201, reason: "Created", headers: { "Content-Type": "application/json" }, body: '{"n":1}' },
        httpStream: { action: "send", content: "line\n" },
        wsMessage: { action: "send", content: '{"n":1}' },
      },
    },
    {
      kind: "MESSAGE", id: "g2", channel: "c", event: "message", data: null, headers: {}, publishedAt: "2026-01-02T03:04:05.678Z",
      formats: { httpResponse: { code: 200, headers: {}, bodyBin: "AP8=" }, wsMessage: { action: "send", contentBin: "aGk=" } },
    },
    {
      kind: "MESSAGE", id: "g3", channel: "c", event: "message", data: null, headers: {}, publishedAt: "2026-01-02T03:04:05.678Z",
      formats: { httpStream: { action: "close" }, wsMessage: { action: "close", code: 4000 } },
    },
  ];
  const plain = [
    "subscription { channel(name: \"c\") { kind id channel event data headers publisherId publishedAt offset epoch recovered __typename } }",
    "subscription { c: channel(name: \"c\") { k: kind d: data member { userId info __typename } } }",
    "subscription S($n: String!) { channel(name: $n, selector: \"a = 'b'\") { publishedAt member { u: userId } } }",
    "subscription { channel(name: \"c\") { id prevId data formats { __typename httpResponse { __typename code reason headers body bodyBase64 } httpStream { __typename content contentBase64 action } wsMessage { __typename content contentBase64 action code } } } }",
    "subscription { channel(name: \"c\") { f: formats { ws: wsMessage { c: content a: action } r: httpResponse { b: bodyBase64 } } } }",
  ];
  it.each(plain)("builds exactly what execute builds: %s", (query) => {
    const document = parse(query);
    const operation = getOperationAST(document)!;
    const projection = compileProjection(operation);
    expect(projection).toBeDefined();
    for (const event of events) {
      const executed = execute({ schema, document, rootValue: event, variableValues: { n: "c" }, contextValue: {} });
      expect(JSON.stringify(projection!(event))).toBe(JSON.stringify(executed));
    }
  });

  it.each([
    "subscription { channel(name: \"c\") { ...F } } fragment F on ChannelEvent { kind }",
    "subscription { channel(name: \"c\") { kind @include(if: true) } }",
    "subscription { channel(name: \"c\") @skip(if: false) { kind } }",
    "subscription { channel(name: \"c\") { kind kind } }",
    "subscription { channel(name: \"c\") { formats { httpStream { action @skip(if: true) } } } }",
  ])("leaves anything else to graphql-js: %s", (query) => {
    expect(compileProjection(getOperationAST(parse(query))!)).toBeUndefined();
  });
});

describe("fast-path groups: one rendering per message for every subscriber whose payload is the same", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startHerald();
  });
  afterAll(() => server.close());

  /** A socket side that keeps the group bytes (`tail`) each delivery was built from. */
  function subscriber() {
    const core = server.herald.core;
    const connection = core.connect(APP_ONE, "ws");
    const tails: Buffer[] = [];
    const side: FastSubscriber = {
      context: { herald: core, caller: { role: "subscriber", app: APP_ONE, connection } },
      send: () => {},
      sendJoined: (_head, tail) => void tails.push(tail),
      ended: () => {},
    };
    return { side, tails, close: () => connection.close() };
  }

  async function deliverTo(query: string, variables: Record<string, unknown>[], channel: string) {
    const fastPath = createFastPath({ schema, maskError: (error) => error as Error, documents: createDocumentPolicy(schema, documentLimitsOf(loadConfig({}))) });
    const operation = fastPath.analyse(query, undefined)!;
    const subscribers = variables.map(() => subscriber());
    await Promise.all(subscribers.map((s, i) => fastPath.subscription(operation, `op${i}`, s.side).start(variables[i])));
    await gql(server, PublishDocument, { input: { channels: [channel], event: "e", data: { n: 1 }, headers: { city: "Tokyo" } } });
    // SUBSCRIBED, then the message.
    await eventually(async () => subscribers.map((s) => s.tails.length), subscribers.map(() => 2));
    const groups = operation.groups.size;
    subscribers.forEach((s) => s.close());
    return { groups, tails: subscribers.map((s) => s.tails[1]!) };
  }

  it("shares one group across root-field arguments (selector, token…), which only decide who receives", async () => {
    const query = "subscription ($name: String!, $selector: String) { channel(name: $name, selector: $selector) { event data } }";
    const { groups, tails } = await deliverTo(query, [
      { name: "grouped", selector: "city = 'Tokyo'" },
      { name: "grouped", selector: "city LIKE 'T%'" },
      { name: "grouped" },
    ], "grouped");
    expect(groups).toBe(1);
    expect(tails[1]).toBe(tails[0]); // the same bytes, rendered once
    expect(tails[2]).toBe(tails[0]);
  });

  it("keeps subscribers apart when a variable below the root field changes the payload", async () => {
    const query = "subscription ($name: String!, $withData: Boolean!) { channel(name: $name) { event data @include(if: $withData) } }";
    const { groups, tails } = await deliverTo(query, [
      { name: "split", withData: true },
      { name: "split", withData: false },
      { name: "split", withData: true },
    ], "split");
    expect(groups).toBe(2);
    expect(tails[2]).toBe(tails[0]);
    expect(JSON.parse(tails[0]!.toString().slice(0, -1)).data.channel).toEqual({ event: "e", data: { n: 1 } });
    expect(JSON.parse(tails[1]!.toString().slice(0, -1)).data.channel).toEqual({ event: "e" });
  });
});
