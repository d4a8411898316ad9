import { describe, expect, it } from "vitest";
import {
  CreateQueueDocument,
  DeleteQueueDocument,
  OnChannelMessageDocument,
  PublishDocument,
  PullDocument,
  QueueDocument,
  QueuesDocument,
  ScheduleDocument,
  type OnChannelMessageSubscription,
} from "./generated/graphql.ts";
import { APP_ONE, APP_TWO, gql, sleep, useHerald } from "./helpers/herald.ts";
import { ENGINES, uniquePrefix } from "./helpers/redis.ts";

/** createQueue / pull / deleteQueue / queue / queues, and priority, mimeType, expiry on messages. */
describe.each(ENGINES)("pull queues over GraphQL: $name", (engine) => {
  const server = useHerald(engine, uniquePrefix("queues-graphql"), {
    HERALD_MAX_QUEUES_PER_APP: "3",
    HERALD_MAX_PULL_MESSAGES: "100",
    HERALD_MAX_PAYLOAD_BYTES: "8192",
    HERALD_MAX_RESPONSE_BYTES: String(1024 * 1024),
  });
  const test = engine.skip ? it.skip : it;

  async function createQueue(channel: string) {
    const created = await gql(server, CreateQueueDocument, { channel });
    expect(created.errors).toBeUndefined();
    return created.data!.createQueue;
  }
  const publish = (input: Record<string, unknown>) => gql(server, PublishDocument, { input: input as never });

  test("a queue gets what is published after it, with the message fields; a pull empties it", async () => {
    await publish({ channels: ["gq-orders"], data: "before" });
    const queue = await createQueue("gq-orders");
    expect(queue).toMatchObject({ channel: "gq-orders", depth: 0, dropped: 0 });
    const published = await publish({
      channels: ["gq-orders"],
      event: "created",
      data: { total: 3 },
      priority: 8,
      mimeType: "application/json",
      expiresIn: 600,
      publisherId: "shop",
    });
    await publish({ channels: ["gq-orders"], data: "plain" });
    expect((await gql(server, QueueDocument, { key: queue.key })).data!.queue).toMatchObject({ depth: 2 });
    const pulled = await gql(server, PullDocument, { key: queue.key });
    expect(pulled.data!.pull).toMatchObject([
      { queue: queue.key, id: published.data!.publish.id, event: "created", data: { total: 3 }, priority: 8, mimeType: "application/json", publisherId: "shop" },
      { data: "plain", priority: 5, mimeType: null, expiresAt: null },
    ]);
    const expiresAt = Date.parse(pulled.data!.pull![0]!.expiresAt!);
    expect(expiresAt - Date.parse(pulled.data!.pull![0]!.publishedAt)).toBe(600_000);
    expect((await gql(server, PullDocument, { key: queue.key })).data!.pull).toEqual([]);
    await gql(server, DeleteQueueDocument, { key: queue.key });
  });

  test("bad input is refused and changes nothing", async () => {
    const queue = await createQueue("gq-bad");
    for (const input of [
      { priority: 0 },
      { priority: 10 },
      { priority: 2.5 },
      { expiresIn: 0 },
      { expiresAt: new Date(Date.now() - 1000).toISOString() },
      { expiresIn: 5, expiresAt: new Date(Date.now() + 60_000).toISOString() },
      { mimeType: "" },
    ]) {
      const refused = await publish({ channels: ["gq-bad"], data: 1, ...input });
      expect(refused.errors?.[0]?.extensions?.code, JSON.stringify(input)).toBe("BAD_REQUEST");
    }
    expect((await gql(server, QueueDocument, { key: queue.key })).data!.queue!.depth).toBe(0);
    await publish({ channels: ["gq-bad"], data: "kept" });
    for (const max of [0, 101, -1]) {
      const refused = await gql(server, PullDocument, { key: queue.key, max });
      expect(refused.errors?.[0]?.extensions?.code).toBe("BAD_REQUEST");
    }
    // Another app's secret does not find the queue, and removes nothing.
    const foreign = await gql(server, PullDocument, { key: queue.key }, { bearer: APP_TWO.secret });
    expect(foreign.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await gql(server, DeleteQueueDocument, { key: queue.key }, { bearer: APP_TWO.secret })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await gql(server, QueueDocument, { key: queue.key }, { bearer: APP_TWO.secret })).data!.queue).toBeNull();
    // The app key alone cannot pull.
    expect((await gql(server, PullDocument, { key: queue.key }, { key: APP_ONE.key })).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect((await gql(server, PullDocument, { key: queue.key })).data!.pull!.map((m) => m.data)).toEqual(["kept"]);
    await gql(server, DeleteQueueDocument, { key: queue.key });
    expect((await gql(server, DeleteQueueDocument, { key: queue.key })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await gql(server, PullDocument, { key: "no-such-queue" })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  test("pulls that could outgrow the answer's byte budget are refused before they remove anything", async () => {
    const first = await createQueue("gq-budget-1");
    const second = await createQueue("gq-budget-2");
    await publish({ channels: ["gq-budget-1", "gq-budget-2"], data: "waiting" });
    // Two pulls of 100 × 8 KiB could need 1.6 MiB, past HERALD_MAX_RESPONSE_BYTES (1 MiB).
    const response = await fetch(server.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${APP_ONE.secret}` },
      body: JSON.stringify({
        query: `mutation($a: ID!, $b: ID!) { a: pull(key: $a, max: 100) { data } b: pull(key: $b, max: 100) { data } }`,
        variables: { a: first.key, b: second.key },
      }),
    });
    const body = (await response.json()) as { data?: { a?: { data: unknown }[] }; errors?: { path?: string[]; extensions?: { code?: string } }[] };
    expect(body.errors).toMatchObject([{ path: ["b"], extensions: { code: "PAYLOAD_TOO_LARGE" } }]);
    // The first pull fitted: its message is in the answer; the refused one removed nothing.
    expect(body.data?.a).toEqual([{ data: "waiting" }]);
    expect((await gql(server, PullDocument, { key: second.key })).data!.pull!.map((m) => m.data)).toEqual(["waiting"]);
    for (const q of [first, second]) await gql(server, DeleteQueueDocument, { key: q.key });
  });

  test("an app's queues are limited by HERALD_MAX_QUEUES_PER_APP and listed per channel", async () => {
    const created = [await createQueue("gq-limit-a"), await createQueue("gq-limit-b"), await createQueue("gq-limit-b")];
    const refused = await gql(server, CreateQueueDocument, { channel: "gq-limit-c" });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "TOO_MANY_SUBSCRIPTIONS", limit: 3 });
    expect((await gql(server, QueuesDocument, { channel: "gq-limit-b" })).data!.queues.map((q) => q.key)).toEqual([created[1]!.key, created[2]!.key]);
    expect((await gql(server, QueuesDocument, {})).data!.queues).toHaveLength(3);
    expect((await gql(server, QueuesDocument, {}, { bearer: APP_TWO.secret })).data!.queues).toEqual([]);
    for (const q of created) await gql(server, DeleteQueueDocument, { key: q.key });
  });

  test("a scheduled message carries its priority and expiry into queues", async () => {
    const queue = await createQueue("gq-scheduled");
    const scheduled = await gql(server, ScheduleDocument, {
      input: { channels: ["gq-scheduled"], data: "later", priority: 9, expiresIn: 60, publishAt: new Date(Date.now() + 300).toISOString() } as never,
    });
    expect(scheduled.errors).toBeUndefined();
    let pulled: { data: unknown; priority: number; expiresAt?: string | null; publishedAt: string }[] = [];
    for (let i = 0; i < 50 && pulled.length === 0; i++) {
      await sleep(100);
      pulled = (await gql(server, PullDocument, { key: queue.key })).data!.pull!;
    }
    expect(pulled).toMatchObject([{ data: "later", priority: 9 }]);
    expect(Date.parse(pulled[0]!.expiresAt!) - Date.parse(pulled[0]!.publishedAt)).toBe(60_000);
    await gql(server, DeleteQueueDocument, { key: queue.key });
  });

  test("subscribers see priority and mimeType; an expired message reaches no subscriber, live or replayed", async () => {
    const ws = server.connect();
    const events: OnChannelMessageSubscription["channel"][] = [];
    const subscribed = new Promise<OnChannelMessageSubscription["channel"]>((resolve, reject) => {
      ws.client.subscribe<OnChannelMessageSubscription>(
        { query: OnChannelMessageDocument.toString(), variables: { name: "gq-live" } },
        {
          next: (result) => {
            const event = result.data?.channel;
            if (event?.kind === "SUBSCRIBED") resolve(event);
            else if (event) events.push(event);
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    await subscribed;
    // Expired on its way: straight into the engine, as a message that outlived its expiry in transit.
    await server.herald.engine.publish(APP_ONE.id, [
      { id: "expired-1", channel: "gq-live", event: "message", data: "stale", headers: {}, publishedAt: new Date().toISOString(), expiresAt: new Date(Date.now() - 1).toISOString() },
    ]);
    const short = await publish({ channels: ["gq-live"], data: "short", expiresIn: 1, mimeType: "text/plain", priority: 2 });
    for (let i = 0; i < 50 && events.length === 0; i++) await sleep(50);
    expect(events).toMatchObject([{ id: short.data!.publish.id, data: "short", priority: 2, mimeType: "text/plain" }]);
    const position = { offset: events[0]!.offset! - 2, epoch: events[0]!.epoch! };
    await sleep(1_500);
    // Resuming from before both: neither the expired nor the now expired message is replayed.
    const replayed: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.client.subscribe<OnChannelMessageSubscription>(
        { query: OnChannelMessageDocument.toString(), variables: { name: "gq-live", since: position } },
        {
          next: (result) => {
            const event = result.data?.channel;
            if (event?.kind === "SUBSCRIBED") setTimeout(resolve, 300);
            else if (event) replayed.push(event);
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    expect(replayed).toEqual([]);
  });
});
