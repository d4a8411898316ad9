import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelDocument, OnChannelDocument, PublishDocument } from "./generated/graphql.ts";
import { APP_ONE, gql, startHerald, type TestServer } from "./helpers/herald.ts";
import { openSse } from "./helpers/sse.ts";
import { eventually } from "./helpers/wait.ts";
import { signSubscriberToken } from "../src/core/auth-tokens.ts";

type Payload = { data?: { channel: { kind: string; event: string; data: unknown } }; errors?: { extensions: { code: string } }[] };

describe("subscriptions over SSE", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startHerald();
  });
  afterAll(() => server.close());

  const subscriptionUrl = (name: string, key?: string) => {
    const params = new URLSearchParams({ query: OnChannelDocument.toString(), variables: JSON.stringify({ name }) });
    if (key) params.set("key", key);
    return `${server.graphqlUrl}?${params}`;
  };

  it("delivers with the key as a query parameter (what an EventSource can do)", async () => {
    const sse = await openSse(subscriptionUrl("feed", APP_ONE.key));
    const [first] = (await sse.next(1)) as Payload[];
    expect(first!.data!.channel.kind).toBe("SUBSCRIBED");
    for (let i = 0; i < 5; i++) await gql(server, PublishDocument, { input: { channels: ["feed"], event: "tick", data: i } });
    const all = (await sse.next(6)) as Payload[];
    expect(all.slice(1).map((p) => p.data!.channel.data)).toEqual([0, 1, 2, 3, 4]);
    sse.close();
  });

  it("delivers with the key in an X-Herald-Key header, over POST", async () => {
    const sse = await openSse(server.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "x-herald-key": APP_ONE.key },
      body: JSON.stringify({ query: OnChannelDocument.toString(), variables: { name: "posted" } }),
    });
    await sse.next(1);
    await gql(server, PublishDocument, { input: { channels: ["posted"], event: "hello", data: { ok: true } } });
    const [, message] = (await sse.next(2)) as Payload[];
    expect(message!.data!.channel).toMatchObject({ kind: "MESSAGE", event: "hello", data: { ok: true } });
    sse.close();
  });

  it("takes a private channel with a token argument, and only the channels the token names", async () => {
    const token = signSubscriberToken(APP_ONE.secret, { sub: "u1", channels: ["private-sse"], expiresInSeconds: 60 });
    const url = (name: string) => {
      const query = "subscription ($name: String!, $token: String) { channel(name: $name, token: $token) { kind event data } }";
      return `${server.graphqlUrl}?${new URLSearchParams({ query, variables: JSON.stringify({ name, token }), key: APP_ONE.key })}`;
    };
    const mine = await openSse(url("private-sse"));
    expect(((await mine.next(1)) as Payload[])[0]!.data!.channel.kind).toBe("SUBSCRIBED");
    await gql(server, PublishDocument, { input: { channels: ["private-sse"], event: "secret", data: 1 } });
    expect(((await mine.next(2)) as Payload[])[1]!.data!.channel).toMatchObject({ kind: "MESSAGE", data: 1 });
    mine.close();
    const theirs = await openSse(url("private-other"));
    expect(((await theirs.next(1)) as Payload[])[0]!.errors![0]!.extensions.code).toBe("FORBIDDEN");
    theirs.close();
  });

  it("counts an SSE subscription while it is open, and releases it when the client goes", async () => {
    const sse = await openSse(subscriptionUrl("counted", APP_ONE.key));
    await sse.next(1);
    expect((await gql(server, ChannelDocument, { name: "counted" })).data?.channel.subscriptionCount).toBe(1);
    sse.close();
    await eventually(async () => (await gql(server, ChannelDocument, { name: "counted" })).data!.channel.subscriptionCount, 0);
  });

  it("refuses a subscription without a key, with UNAUTHENTICATED", async () => {
    const sse = await openSse(subscriptionUrl("feed"));
    const [first] = (await sse.next(1)) as Payload[];
    expect(first!.errors![0]!.extensions.code).toBe("UNAUTHENTICATED");
    sse.close();
  });
});
