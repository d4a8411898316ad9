import { describe, expect, it } from "vitest";
import { ChannelHistoryDocument, MessageStatusDocument, PublishDocument, TriggerBatchDocument } from "./generated/graphql.ts";
import { connectWs, gql, sleep, subscribeChannel, type ChannelEventOf, type TestServer, usePair } from "./helpers/herald.ts";
import { uniquePrefix, ENGINES } from "./helpers/redis.ts";

const prefix = uniquePrefix("history-resume");

describe.each(ENGINES)("history, resume and idempotent publish ($name)", ({ redis, skip }) => {
  const { a, b } = usePair({ redis, skip }, prefix, { HERALD_HISTORY_SIZE: "300", HERALD_SUBSCRIBER_QUEUE_LENGTH: "10000" });

  const publish = (server: TestServer, channel: string, data: unknown, id?: string) =>
    gql(server, PublishDocument, { input: { channels: [channel], data, ...(id ? { id } : {}) } });

  it.skipIf(skip)("gives every message an offset and keeps a bounded history", async () => {
    await Promise.all([a, b].map(async (server, n) => {
      for (let i = 1; i <= 155; i++) await publish(server, "kept", `${n}:${i}`);
    }));
    const all = await gql(a, ChannelHistoryDocument, { name: "kept", limit: 300 });
    const history = all.data!.channel.history;
    expect(history.offset).toBe(310);
    expect(history.messages.map((m) => m.offset)).toEqual(Array.from({ length: 300 }, (_, i) => i + 11));
    // Each publisher's messages keep their order within the history.
    for (const n of [0, 1]) {
      const mine = history.messages.map((m) => String(m.data)).filter((d) => d.startsWith(`${n}:`)).map((d) => Number(d.slice(2)));
      expect(mine).toEqual([...mine].sort((x, y) => x - y));
    }
    const since = await gql(b, ChannelHistoryDocument, { name: "kept", limit: 300, since: { offset: 307, epoch: history.epoch } });
    expect(since.data!.channel.history).toMatchObject({ recoverable: true, offset: 310 });
    expect(since.data!.channel.history.messages.map((m) => m.offset)).toEqual([308, 309, 310]);
    const trimmed = await gql(b, ChannelHistoryDocument, { name: "kept", limit: 300, since: { offset: 5, epoch: history.epoch } });
    expect(trimmed.data!.channel.history).toMatchObject({ recoverable: false, messages: [] });
    const tooMany = await gql(a, ChannelHistoryDocument, { name: "kept", limit: 301 });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: "BAD_REQUEST", limit: 300 });
  });

  it.skipIf(skip)("resumes after a position: replays what was missed, then continues live", async () => {
    const first = connectWs(a);
    const sub = subscribeChannel(first, "resume");
    await sub.subscribed;
    for (let i = 1; i <= 5; i++) await publish(b, "resume", i);
    const seen = await sub.messages(5);
    const last = seen[2]!; // pretend the client dropped after the third
    await first.dispose();

    const again = connectWs(b);
    const resumed = subscribeChannel(again, "resume", { since: { offset: last.offset!, epoch: last.epoch! } });
    const subscribed = await resumed.subscribed;
    expect(subscribed).toMatchObject({ kind: "SUBSCRIBED", recovered: true, offset: 3, epoch: last.epoch });
    await publish(a, "resume", 6);
    expect((await resumed.messages(3)).map((e) => e.data)).toEqual([4, 5, 6]);
    await again.dispose();
  });

  it.skipIf(skip)("says recovered: false when the position cannot be served, never skipping silently", async () => {
    await publish(a, "lost", 1);
    const ws = connectWs(b);
    const sub = subscribeChannel(ws, "lost", { since: { offset: 1, epoch: "an-epoch-that-never-was" } });
    const subscribed = await sub.subscribed;
    expect(subscribed.recovered).toBe(false);
    expect(subscribed.offset).toBe(1);
    await publish(a, "lost", 2);
    expect((await sub.messages(1))[0]).toMatchObject({ data: 2, offset: 2 });
    await ws.dispose();
  });

  it.skipIf(skip)("does not publish a message id twice within the window, and says so", async () => {
    const ws = connectWs(a);
    const sub = subscribeChannel(ws, "once");
    await sub.subscribed;
    const first = await publish(a, "once", "x", "order-42-paid");
    const second = await publish(b, "once", "x", "order-42-paid");
    expect(first.data?.publish).toMatchObject({ id: "order-42-paid", duplicate: false });
    expect(second.data?.publish).toMatchObject({ id: "order-42-paid", duplicate: true, publishedAt: first.data?.publish.publishedAt });
    const batch = await gql(b, TriggerBatchDocument, {
      events: [{ channels: ["once"], id: "order-42-paid", event: "dup" }, { channels: ["once"], event: "marker" }],
    });
    expect(batch.errors).toBeUndefined();
    await sub.messages(2);
    await sleep(50);
    expect(sub.events.map((e) => e.event)).toEqual(["message", "marker"]);
    await ws.dispose();
  });

  it.skipIf(skip)("race: clients resuming from random offsets while publishing never see a gap or a duplicate", async () => {
    const channel = "race";
    let publishing = true;
    let sent = 0;
    const publishers = [a, b].map(async (server) => {
      while (publishing && sent < 400) {
        sent++;
        await publish(server, channel, sent);
      }
    });
    await sleep(100);
    const failures: string[] = [];
    const readers = Array.from({ length: 8 }, async (_, reader) => {
      // Each reader drops and resumes a few times from a random point it had reached.
      let position: { offset: number; epoch: string } | undefined;
      const received: ChannelEventOf[] = [];
      for (let round = 0; round < 3; round++) {
        const ws = connectWs(reader % 2 ? a : b);
        const sub = subscribeChannel(ws, channel, position ? { since: position } : {});
        const subscribed = await sub.subscribed;
        if (position && !subscribed.recovered) failures.push(`reader ${reader} round ${round}: not recovered`);
        await sleep(20 + Math.random() * 80);
        await ws.dispose();
        received.push(...sub.events);
        const events = sub.events;
        if (events.length > 0) {
          // Resume from a random message received (re-receiving what came after it is expected).
          const keep = Math.floor(Math.random() * events.length);
          received.splice(received.length - events.length + keep + 1);
          position = { offset: events[keep]!.offset!, epoch: events[keep]!.epoch! };
        }
      }
      const offsets = received.map((e) => e.offset!);
      for (let i = 1; i < offsets.length; i++) {
        if (offsets[i] !== offsets[i - 1]! + 1) failures.push(`reader ${reader}: ${offsets[i - 1]} then ${offsets[i]}`);
      }
      return offsets.length;
    });
    const counts = await Promise.all(readers);
    publishing = false;
    await Promise.all(publishers);
    expect(failures).toEqual([]);
    expect(counts.reduce((x, y) => x + y, 0)).toBeGreaterThan(50);
  });
});

describe.each(ENGINES)("history off: HERALD_HISTORY_SIZE=0 ($name)", ({ redis, skip }) => {
  const { a, b } = usePair({ redis, skip }, uniquePrefix("history-off"), { HERALD_HISTORY_SIZE: "0" });
  const publish = (server: TestServer, channel: string, data: unknown) => gql(server, PublishDocument, { input: { channels: [channel], data } });

  it.skipIf(skip)("fans messages out without an offset, keeps none, and still records their status", async () => {
    const ws = connectWs(a);
    const sub = subscribeChannel(ws, "unkept");
    await sub.subscribed;
    const published = await publish(b, "unkept", 1);
    await publish(b, "unkept", 2);
    const live = await sub.messages(2);
    expect(live.map((e) => [e.data, e.offset, e.epoch])).toEqual([
      [1, null, null],
      [2, null, null],
    ]);
    // Nothing was appended: the channel's position never moved. (No limit: it defaults to the size, 0.)
    const history = await gql(a, ChannelHistoryDocument, { name: "unkept" });
    expect(history.data!.channel.history).toMatchObject({ offset: 0, messages: [] });
    const tooMany = await gql(a, ChannelHistoryDocument, { name: "unkept", limit: 1 });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: "BAD_REQUEST", limit: 0 });
    const status = await gql(a, MessageStatusDocument, { id: published.data!.publish.id });
    expect(status.data!.messageStatus).toMatchObject({ status: "PUBLISHED", channels: ["unkept"] });
    await ws.dispose();
  });

  it.skipIf(skip)("answers every resume with recovered: false, even from the channel's own current position", async () => {
    const { offset, epoch } = (await gql(a, ChannelHistoryDocument, { name: "gone", limit: 0 })).data!.channel.history;
    await publish(b, "gone", "missed");
    const ws = connectWs(b);
    const sub = subscribeChannel(ws, "gone", { since: { offset, epoch } });
    expect(await sub.subscribed).toMatchObject({ kind: "SUBSCRIBED", recovered: false });
    await publish(a, "gone", "live");
    expect((await sub.messages(1)).map((e) => e.data)).toEqual(["live"]);
    const since = await gql(a, ChannelHistoryDocument, { name: "gone", limit: 0, since: { offset, epoch } });
    expect(since.data!.channel.history.recoverable).toBe(false);
    await ws.dispose();
  });
});
