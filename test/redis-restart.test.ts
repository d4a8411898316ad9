import { describe, expect, it, type TestContext } from "vitest";
import { signSubscriberToken } from "../src/core/auth-tokens.ts";
import { ChannelUsersDocument, PresenceDocument, PublishDocument } from "./generated/graphql.ts";
import { APP_ONE, connectWs, gql, sleep, startHerald, subscribeChannel, type TestServer, type WsConnection } from "./helpers/herald.ts";
import { startOwnRedis, type OwnRedis } from "./helpers/redis-server.ts";
import { auditStream } from "./helpers/stream-audit.ts";
import { eventually } from "./helpers/wait.ts";

/**
 * Redis killed with SIGKILL and started again under two Herald instances, on a redis-server of
 * the test's own: what live subscribers see, and what the instances' shared state says after.
 */
const PERSISTENCE = [
  // Every acknowledged write is on disk: the history survives, nothing may be missing.
  { name: "AOF, fsync always", args: ["--save", "", "--appendonly", "yes", "--appendfsync", "always"], loses: "nothing" },
  // Everything is lost with the process: each restart begins a new epoch.
  { name: "no persistence", args: ["--save", "", "--appendonly", "no"], loses: "everything" },
  // An older copy comes back (a snapshot up to a second old): the same epoch, its last
  // offsets then given to other messages.
  { name: "RDB snapshot every second", args: ["--save", "1 1", "--appendonly", "no"], loses: "the last second" },
] as const;

/** The test's own Redis, or a skip where there is no redis-server (never in CI). */
async function ownRedis(args: readonly string[], ctx: TestContext): Promise<OwnRedis> {
  const redis = await startOwnRedis(args);
  if (!redis) {
    expect(process.env.CI, "redis-server is needed for this test in CI").not.toBe("true");
    ctx.skip();
  }
  return redis!;
}

describe("live subscribers across Redis restarts", () => {
  it.for(PERSISTENCE)(
    "get every acknowledged message once and in order, or are told it was lost ($name)",
    { timeout: 20_000 },
    async ({ args, loses }, ctx) => {
      const redis = await ownRedis(args, ctx);
      const servers: TestServer[] = [];
      const sockets: WsConnection[] = [];
      try {
        servers.push(await startHerald({ redisUrl: redis.url }), await startHerald({ redisUrl: redis.url }));
        for (const server of servers) sockets.push(connectWs(server), connectWs(server));
        const subscribers = sockets.map((ws) => subscribeChannel(ws, "ticker"));
        await Promise.all(subscribers.map((s) => s.subscribed));

        /** Acknowledged publishes: id → when the answer came. */
        const acked = new Map<string, number>();
        const kills: number[] = [];
        let publishing = true;
        const publishers = servers.map(async (server) => {
          for (let n = 0; publishing; n++) {
            const result = await gql(server, PublishDocument, { input: { channels: ["ticker"], data: n } }).catch(() => undefined);
            const id = result?.data?.publish.id;
            if (id) acked.set(id, Date.now());
            await sleep(10);
          }
        });
        // Three crashes mid-stream; publishes queued meanwhile run once Redis is back, often
        // before the instances have subscribed again.
        for (let round = 0; round < 3; round++) {
          await sleep(700);
          kills.push(Date.now());
          await redis.kill();
          await sleep(400);
          await redis.start();
        }
        await sleep(800);
        publishing = false;
        await Promise.all(publishers);
        const restartedAt = kills.at(-1)!;
        expect([...acked.values()].filter((at) => at > restartedAt + 400).length).toBeGreaterThan(10);

        const deadline = Date.now() + 5_000;
        const received = (s: (typeof subscribers)[number]) => new Set(s.events.map((e) => e.id));
        while (Date.now() < deadline && subscribers.some((s) => [...acked.keys()].some((id) => !received(s).has(id)))) await sleep(100);

        for (const [n, subscriber] of subscribers.entries()) {
          const { problems, ids, announced } = auditStream(subscriber.events);
          expect(problems, `subscriber ${n}`).toEqual([]);
          const missing = [...acked].filter(([id]) => !ids.has(id));
          if (loses === "nothing") {
            expect(missing, `subscriber ${n}: acknowledged, in history, not delivered`).toEqual([]);
            expect(announced, `subscriber ${n}: nothing was lost, yet a loss was announced`).toBe(0);
            continue;
          }
          // Each restart lost the stream: a new epoch, which delivery only enters announced.
          if (loses === "everything") expect(announced, `subscriber ${n}`).toBeGreaterThanOrEqual(1);
          if (missing.length > 0) expect(announced, `subscriber ${n}: ${missing.length} missing, unannounced`).toBeGreaterThanOrEqual(1);
          // Missing only what was acknowledged around a crash: not yet sent out when Redis was
          // killed, or published again under a reused offset before the instance had checked.
          const unexplained = missing.filter(([, at]) => !kills.some((kill) => Math.abs(at - kill) < 1_000));
          expect(unexplained, `subscriber ${n}: acknowledged away from any restart, not delivered`).toEqual([]);
        }
        // Enough was published across the restarts for the checks above to mean something.
        expect(acked.size).toBeGreaterThan(40);
      } finally {
        await Promise.all(sockets.map((ws) => ws.dispose()));
        await Promise.all(servers.map((s) => s.close().catch(() => {})));
        await redis.stop();
      }
    },
  );
});

describe("presence and counts across a Redis restart", () => {
  const join = (server: TestServer, user: string) =>
    connectWs(server, { key: APP_ONE.key, token: signSubscriberToken(APP_ONE.secret, { sub: user, channels: ["presence-*"], expiresInSeconds: 600 }) });
  /** What an instance says about the room: its members, subscriptions and users. */
  const room = async (server: TestServer) => {
    const [presence, channel] = await Promise.all([
      gql(server, PresenceDocument, { channel: "presence-room" }),
      gql(server, ChannelUsersDocument, { name: "presence-room" }),
    ]);
    const { subscriptionCount, userCount } = channel.data?.channel ?? {};
    return { members: presence.data?.presence.members.map((m) => m.userId), subscriptionCount, userCount };
  };

  it.for(PERSISTENCE)(
    "are right again once the instances re-asserted what they hold, and counted once ($name)",
    { timeout: 20_000 },
    async ({ args }, ctx) => {
      const redis = await ownRedis(args, ctx);
      const servers: TestServer[] = [];
      const sockets: WsConnection[] = [];
      try {
        servers.push(await startHerald({ redisUrl: redis.url }), await startHerald({ redisUrl: redis.url }));
        const [a, b] = servers as [TestServer, TestServer];
        const [ada, bob, carol] = [join(a, "ada"), join(b, "bob"), join(a, "carol")];
        sockets.push(ada, bob, carol);
        const watch = subscribeChannel(ada, "presence-room");
        await watch.subscribed;
        await subscribeChannel(bob, "presence-room").subscribed;
        await subscribeChannel(carol, "presence-room").subscribed;
        const all = { members: ["ada", "bob", "carol"], subscriptionCount: 3, userCount: 3 };
        for (const server of servers) await eventually(() => room(server), all);
        await watch.messages(2); // bob and carol joined

        await redis.kill();
        // Carol leaves while Redis is down: her uncount and leave fail (after ioredis' retries).
        await carol.dispose();
        await sleep(1_000);
        await redis.start();

        const left = { members: ["ada", "bob"], subscriptionCount: 2, userCount: 2 };
        for (const server of servers) await eventually(() => room(server), left, 8_000);
        const [, , removed] = await watch.messages(3, 5_000);
        expect(removed).toMatchObject({ kind: "MEMBER_REMOVED", member: { userId: "carol" } });
        // Nothing counted twice, nothing left to drift.
        await sleep(1_000);
        for (const server of servers) expect(await room(server)).toEqual(left);
      } finally {
        await Promise.all(sockets.map((ws) => ws.dispose()));
        await Promise.all(servers.map((s) => s.close().catch(() => {})));
        await redis.stop();
      }
    },
  );
});
