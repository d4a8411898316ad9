import { describe, expect, it } from "vitest";
import { signSubscriberToken } from "../src/core/auth-tokens.ts";
import { APP_ONE, APP_TWO, connectWs, subscribeChannel, usePair } from "./helpers/herald.ts";
import { ENGINES, uniquePrefix } from "./helpers/redis.ts";
import { openSse, type SseStream } from "./helpers/sse.ts";

/**
 * `subscription channelActivity`: a backend hears its app's channels being occupied and vacated
 * and presence members coming and going — once each, service-wide — on whichever instance it
 * listens, as the console does (GraphQL over SSE, with the app secret).
 */
const DELAY_MS = 300;
const ACTIVITY = "subscription ($prefix: String) { channelActivity(prefix: $prefix) { kind channel userId subscriptionCount at } }";

interface Activity {
  kind: string;
  channel: string;
  userId: string | null;
  subscriptionCount: number | null;
  at: string;
}

for (const engine of ENGINES) {
  describe.skipIf(engine.skip)(`channelActivity ('${engine.name}' engine)`, () => {
    const { a, b } = usePair(engine, uniquePrefix(`channel-activity-${engine.name}`), {
      HERALD_APPS: JSON.stringify([APP_ONE, { ...APP_TWO, enableSubscriptionCount: true }]),
      HERALD_PUSHER_WEBHOOK_DELAY_MS: String(DELAY_MS),
      HERALD_SUBSCRIPTION_COUNT_INTERVAL_MS: "30",
    });
    const listen = (server: { graphqlUrl: string }, prefix: string | null, secret = APP_ONE.secret) =>
      openSse(server.graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
        body: JSON.stringify({ query: ACTIVITY, variables: { prefix } }),
      });
    const activities = (stream: SseStream) => stream.events.filter((e) => e.event === "next").map((e) => (e.data as { data: { channelActivity: Activity } }).data.channelActivity);
    let counter = 0;
    const fresh = (what: string) => `${what}-${++counter}-${Math.random().toString(36).slice(2, 6)}`;

    it("reports occupied and vacated once, from subscribers on both instances, to a listener on either", async () => {
      const room = fresh("room");
      const onA = await listen(a, room);
      const onB = await listen(b, room);
      try {
        await new Promise((r) => setTimeout(r, 100)); // both listeners subscribed
        const first = connectWs(a);
        const second = connectWs(b);
        const subs = [subscribeChannel(first, room), subscribeChannel(second, room), subscribeChannel(first, room)];
        await Promise.all(subs.map((s) => s.subscribed));
        await onA.next(1);
        await onB.next(1);
        for (const sub of subs) sub.unsubscribe();
        await onA.next(2, DELAY_MS + 5_000);
        await onB.next(2);
        for (const stream of [onA, onB]) {
          expect(activities(stream).map((x) => [x.kind, x.channel, x.userId, x.subscriptionCount])).toEqual([
            ["OCCUPIED", room, null, null],
            ["VACATED", room, null, null],
          ]);
          expect(Date.parse(activities(stream)[1]!.at) - Date.parse(activities(stream)[0]!.at)).toBeGreaterThanOrEqual(DELAY_MS - 20);
        }
        await Promise.all([first.dispose(), second.dispose()]);
      } finally {
        onA.close();
        onB.close();
      }
    });

    it("reports presence members, only channels of the prefix, and counts for an app that counts", async () => {
      const presence = `presence-${fresh("team")}`;
      const stream = await listen(b, "presence-");
      const counting = await listen(a, null, APP_TWO.secret);
      try {
        await new Promise((r) => setTimeout(r, 100));
        const ws = connectWs(a);
        const token = signSubscriberToken(APP_ONE.secret, { sub: "ada", info: { name: "Ada" }, channels: ["presence-*"] });
        const elsewhere = subscribeChannel(ws, fresh("not-presence"));
        const member = subscribeChannel(ws, presence, { token });
        await Promise.all([member.subscribed, elsewhere.subscribed]);
        await stream.next(2);
        expect(activities(stream).map((x) => [x.kind, x.channel, x.userId])).toEqual([
          ["OCCUPIED", presence, null],
          ["MEMBER_ADDED", presence, "ada"],
        ]);
        // APP_TWO counts: its listener hears OCCUPIED and the count; APP_ONE's events never reach it.
        const other = connectWs(a, { key: APP_TWO.key });
        const counted = fresh("counted");
        const sub = subscribeChannel(other, counted);
        await sub.subscribed;
        await counting.next(2);
        expect(activities(counting).map((x) => [x.kind, x.channel, x.subscriptionCount]).sort()).toEqual([
          ["OCCUPIED", counted, null],
          ["SUBSCRIPTION_COUNT", counted, 1],
        ]);
        await Promise.all([ws.dispose(), other.dispose()]);
        await stream.next(4, DELAY_MS + 5_000);
        expect(activities(stream).slice(2).map((x) => x.kind).sort()).toEqual(["MEMBER_REMOVED", "VACATED"]);
      } finally {
        stream.close();
        counting.close();
      }
    });

    it("is for backends only: a subscriber key or no credentials is refused", async () => {
      const refused = await openSse(`${a.graphqlUrl}?key=${APP_ONE.key}&query=${encodeURIComponent(ACTIVITY)}`);
      const errors = () => refused.events.flatMap((e) => ((e.data as { errors?: { extensions?: { code?: string } }[] }).errors ?? []).map((x) => x.extensions?.code));
      await new Promise((r) => setTimeout(r, 200));
      refused.close();
      expect(errors()).toContain("UNAUTHENTICATED");
      const tooLong = await listen(a, "x".repeat(1_000));
      await new Promise((r) => setTimeout(r, 200));
      tooLong.close();
      expect(JSON.stringify(tooLong.events)).toContain("BAD_REQUEST");
    });
  });
}
