import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ChannelDocument, ChannelsDocument, PublishDocument } from "./generated/graphql.ts";
import { APP_ONE, TEST_APPS, connectWs, gql, sleep, startHerald, subscribeChannel, type TestServer } from "./helpers/herald.ts";
import { deleteKeys, describeRedis, redisUrl, uniquePrefix } from "./helpers/redis.ts";

/**
 * Several Herald instances on one Redis act as one service: two in this process, and a third
 * in a separate process, started as an operator would (`tsx src/main.ts`).
 */
describeRedis("many instances on one Redis", () => {
  const prefix = uniquePrefix("multi-instance");
  let a: TestServer;
  let b: TestServer;
  let child: ChildProcess;
  let c: { graphqlUrl: string; wsUrl: string };

  beforeAll(async () => {
    a = await startHerald({ redisUrl, prefix });
    b = await startHerald({ redisUrl, prefix });
    child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env: { ...process.env, REDIS_URL: redisUrl, HERALD_REDIS_PREFIX: prefix, HERALD_APPS: JSON.stringify(TEST_APPS), PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const url = await new Promise<string>((resolve, reject) => {
      let output = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk;
        const match = /"url":"(http:\/\/[^"]+)\/graphql"/.exec(output);
        if (match) resolve(match[1]!);
      });
      child.once("exit", (code) => reject(new Error(`instance exited with ${code}: ${output}`)));
    });
    c = { graphqlUrl: `${url}/graphql`, wsUrl: `${url.replace("http", "ws")}/graphql` };
  }, 30_000);

  afterAll(async () => {
    child?.kill("SIGTERM");
    await Promise.all([a?.close(), b?.close()]);
    await deleteKeys(redisUrl!, prefix);
  });

  it("delivers a message published on one instance exactly once to subscribers on every instance", async () => {
    const onA = connectWs(a);
    const onC = connectWs(c);
    const subA = subscribeChannel(onA, "shared");
    const subC = subscribeChannel(onC, "shared");
    await Promise.all([subA.subscribed, subC.subscribed]);
    for (let i = 0; i < 10; i++) await gql(b, PublishDocument, { input: { channels: ["shared"], data: i } });
    for (const sub of [subA, subC]) expect((await sub.messages(10)).map((e) => e.data)).toEqual([...Array(10).keys()]);
    await gql(b, PublishDocument, { input: { channels: ["shared"], event: "marker" } });
    await subA.messages(11);
    await subC.messages(11);
    await sleep(50);
    expect(subA.events).toHaveLength(11); // no duplicates
    expect(subC.events).toHaveLength(11); // nor on the separate process
    await Promise.all([onA.dispose(), onC.dispose()]);
  });

  it("excludes a socket connected to another instance", async () => {
    const onA = connectWs(a);
    const socketId = String((await onA.ack).socketId);
    const sub = subscribeChannel(onA, "excl");
    await sub.subscribed;
    await gql(b, PublishDocument, { input: { channels: ["excl"], event: "skip-me", excludeSocketId: socketId } });
    await gql(c, PublishDocument, { input: { channels: ["excl"], event: "marker" } });
    await sub.messages(1);
    expect(sub.events.map((e) => e.event)).toEqual(["marker"]);
    await onA.dispose();
  });

  it("answers channel and channels the same on every instance", async () => {
    const onA = connectWs(a);
    const onB = connectWs(b);
    const onC = connectWs(c);
    await Promise.all([
      subscribeChannel(onA, "count-me").subscribed,
      subscribeChannel(onB, "count-me").subscribed,
      subscribeChannel(onC, "count-me").subscribed,
      subscribeChannel(onC, "count-other").subscribed,
    ]);
    for (const server of [a, b, c]) {
      const channel = await gql(server, ChannelDocument, { name: "count-me" });
      expect(channel.data?.channel).toEqual({ name: "count-me", occupied: true, subscriptionCount: 3 });
      const channels = await gql(server, ChannelsDocument, { prefix: "count-" });
      expect(channels.data?.channels.map((ch) => [ch.name, ch.subscriptionCount])).toEqual([["count-me", 3], ["count-other", 1]]);
    }
    const published = await gql(a, PublishDocument, { input: { channels: ["count-me"], info: ["SUBSCRIPTION_COUNT"] } });
    expect(published.data?.publish.channels[0]?.subscriptionCount).toBe(3);
    await onC.dispose();
    await sleep(200);
    const after = await gql(a, ChannelDocument, { name: "count-me" });
    expect(after.data?.channel.subscriptionCount).toBe(2);
    await Promise.all([onA.dispose(), onB.dispose()]);
  });

  it("shares message status across instances", async () => {
    await gql(a, PublishDocument, { input: { channels: ["s"], id: "shared-status-1" } }, { bearer: APP_ONE.secret });
    const status = await fetch(c.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${APP_ONE.secret}` },
      body: JSON.stringify({ query: '{ messageStatus(id: "shared-status-1") { status } }' }),
    });
    expect(await status.json()).toEqual({ data: { messageStatus: { status: "PUBLISHED" } } });
  });
});
