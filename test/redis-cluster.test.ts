import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelDocument, PublishDocument } from "./generated/graphql.ts";
import { APP_ONE, connectWs, gql, sleep, startHerald, subscribeChannel, type TestServer, type WsConnection } from "./helpers/herald.ts";
import { startTestCluster, type ClusterNodeProcess, type TestCluster } from "./helpers/redis-cluster.ts";
import { uniquePrefix } from "./helpers/redis.ts";
import { auditStream } from "./helpers/stream-audit.ts";
import { eventually } from "./helpers/wait.ts";
import { loadConfig } from "../src/config.ts";
import { runHeraldExpectingExit } from "./helpers/process.ts";

/**
 * Two Herald instances on a Redis Cluster of this file's own (three masters, AOF with fsync
 * always, so a master killed and started again keeps what it acknowledged): sharded pub/sub end
 * to end, and a master's crash under live subscribers and publishers.
 */
describe("Herald on a Redis Cluster", () => {
  const prefix = uniquePrefix("cluster");
  let cluster: TestCluster | undefined;
  const servers: TestServer[] = [];
  const sockets: WsConnection[] = [];
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    cluster = await startTestCluster({ args: ["--save", "", "--appendonly", "yes", "--appendfsync", "always"] });
    if (!cluster) {
      expect(process.env.CI, "redis-server and redis-cli are needed for this suite in CI").not.toBe("true");
      return;
    }
    const env = { REDIS_CLUSTER_NODES: cluster.spec, HERALD_REDIS_CLUSTER_SLOTS_REFRESH_MS: "500" };
    servers.push((a = await startHerald({ prefix, env })), (b = await startHerald({ prefix, env })));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(sockets.map((ws) => ws.dispose()));
    await Promise.all(servers.map((s) => s.close().catch(() => {})));
    await cluster?.stop();
  });

  /** The pub/sub channel (and hash tag) of a Herald channel of APP_ONE. */
  const topic = (channel: string) => `${prefix}{${APP_ONE.id}:${channel}}`;

  /** `perNode` channel names owned by each master, in master order. */
  async function channelsByNode(stem: string, perNode: number): Promise<Map<ClusterNodeProcess, string[]>> {
    const byNode = new Map<ClusterNodeProcess, string[]>(cluster!.nodes.map((n) => [n, []]));
    for (let i = 0; [...byNode.values()].some((names) => names.length < perNode); i++) {
      const name = `${stem}-${i}`;
      const names = byNode.get(await cluster!.ownerOf(topic(name)))!;
      if (names.length < perNode) names.push(name);
    }
    return byNode;
  }

  async function shardSubscribers(node: ClusterNodeProcess, channel: string): Promise<number> {
    const client = new Redis({ host: node.host, port: node.port, lazyConnect: true });
    try {
      await client.connect();
      const [, count] = (await client.call("PUBSUB", "SHARDNUMSUB", topic(channel))) as [string, number];
      return Number(count);
    } finally {
      client.disconnect();
    }
  }

  const publish = (server: TestServer, channel: string, data: unknown) => gql(server, PublishDocument, { input: { channels: [channel], data } });

  it("delivers every message once and in order per channel, each channel through its own shard only", async (ctx) => {
    if (!cluster) return ctx.skip();
    const byNode = await channelsByNode("spread", 2);
    const channels = [...byNode.values()].flat();
    const onA = connectWs(a);
    const onB = connectWs(b);
    sockets.push(onA, onB);
    const subscribers = channels.flatMap((channel) => [subscribeChannel(onA, channel), subscribeChannel(onB, channel)].map((sub) => ({ channel, sub })));
    await Promise.all(subscribers.map(({ sub }) => sub.subscribed));

    // One SSUBSCRIBE per channel per instance, on the master owning its slot, and nowhere else.
    for (const [owner, names] of byNode) {
      for (const name of names) {
        for (const node of cluster.nodes) expect(await shardSubscribers(node, name), `${name} on ${node.port}`).toBe(node === owner ? 2 : 0);
      }
    }

    const COUNT = 20;
    await Promise.all(
      channels.map(async (channel) => {
        for (let n = 0; n < COUNT; n++) {
          const result = await publish(n % 2 === 0 ? a : b, channel, n);
          expect(result.errors).toBeUndefined();
        }
      }),
    );
    for (const { channel, sub } of subscribers) {
      expect((await sub.messages(COUNT)).map((e) => e.data), channel).toEqual([...Array(COUNT).keys()]);
    }
    await sleep(100);
    for (const { channel, sub } of subscribers) expect(sub.events, `${channel}: no duplicates`).toHaveLength(COUNT);
    // Counts are summed over both instances, from the channel's own slot.
    const counted = await gql(b, ChannelDocument, { name: channels[0]! });
    expect(counted.data?.channel).toMatchObject({ occupied: true, subscriptionCount: 2 });
  });

  it("subscribes 200 channels at once on instances that have no shard connection yet", async (ctx) => {
    if (!cluster) return ctx.skip();
    const env = { REDIS_CLUSTER_NODES: cluster.spec };
    const fresh = [await startHerald({ prefix, env }), await startHerald({ prefix, env })];
    servers.push(...fresh);
    const ws = [0, 1, 2, 3].map((i) => connectWs(fresh[i % 2]!));
    sockets.push(...ws);
    const subs = Array.from({ length: 200 }, (_, i) => subscribeChannel(ws[i % 4]!, `burst-${i}`));
    const outcomes = await Promise.all(subs.map((sub) => sub.subscribed.then(() => "subscribed", (error: Error) => error.message)));
    expect(outcomes.filter((o) => o !== "subscribed")).toEqual([]);
    await Promise.all(Array.from({ length: 200 }, (_, i) => publish(fresh[(i + 1) % 2]!, `burst-${i}`, i)));
    for (const [i, sub] of subs.entries()) expect((await sub.messages(1)).map((e) => e.data)).toEqual([i]);
  });

  it("after a master is killed and started again: publishing resumes, subscribers get every acknowledged message once and in order", { timeout: 60_000 }, async (ctx) => {
    if (!cluster) return ctx.skip();
    const byNode = await channelsByNode("crash", 1);
    const [victim, bystander] = cluster.nodes as [ClusterNodeProcess, ClusterNodeProcess];
    const hit = byNode.get(victim)![0]!;
    const spared = byNode.get(bystander)![0]!;
    const watchers = [connectWs(a), connectWs(b)];
    sockets.push(...watchers);
    const subscribers = watchers.flatMap((ws) => [hit, spared].map((channel) => ({ channel, sub: subscribeChannel(ws, channel) })));
    await Promise.all(subscribers.map(({ sub }) => sub.subscribed));

    /** Per channel, acknowledged publishes: id → when the answer came. */
    const acked = new Map<string, Map<string, number>>([
      [hit, new Map()],
      [spared, new Map()],
    ]);
    let publishing = true;
    const publishers = [hit, spared].flatMap((channel) =>
      servers.map(async (server) => {
        for (let n = 0; publishing; n++) {
          const result = await publish(server, channel, n).catch(() => undefined);
          const id = result?.data?.publish.id;
          if (id) acked.get(channel)!.set(id, Date.now());
          await sleep(10);
        }
      }),
    );
    await sleep(700);
    const killedAt = Date.now();
    await victim.kill();
    // Not ready while a master is gone; ready again once the cluster is whole.
    expect((await fetch(`${a.url}/readyz`)).status).toBe(503);
    await sleep(1_000);
    await victim.start();
    await cluster.waitOk();
    const backAt = Date.now();
    await eventually(async () => (await fetch(`${a.url}/readyz`)).status, 200, 10_000);
    await sleep(1_500);
    publishing = false;
    await Promise.all(publishers);

    // The outage as publishers saw it: the longest time without an acknowledged publish.
    const longestGap = (channel: string) => Math.max(...gaps([...acked.get(channel)!.values()].sort((x, y) => x - y)));
    const outageMs = longestGap(hit);
    console.info(
      `redis cluster master crash: down ${backAt - killedAt} ms (kill → cluster_state ok); no publish acknowledged for ${outageMs} ms on its channel, ${longestGap(spared)} ms at most on another master's`,
    );
    expect(outageMs).toBeLessThan(10_000);
    expect([...acked.get(hit)!.values()].filter((at) => at > backAt).length).toBeGreaterThan(10);

    const deadline = Date.now() + 10_000;
    const missing = (channel: string, sub: (typeof subscribers)[number]["sub"]) => {
      const received = new Set(sub.events.map((e) => e.id));
      return [...acked.get(channel)!.keys()].filter((id) => !received.has(id));
    };
    while (Date.now() < deadline && subscribers.some(({ channel, sub }) => missing(channel, sub).length > 0)) await sleep(100);
    for (const [n, { channel, sub }] of subscribers.entries()) {
      const { problems, announced } = auditStream(sub.events);
      expect(problems, `subscriber ${n} of ${channel}`).toEqual([]);
      // Acknowledged means on disk (fsync always): nothing may be missing, no loss announced.
      expect(missing(channel, sub), `subscriber ${n} of ${channel}: acknowledged, not delivered`).toEqual([]);
      expect(announced, `subscriber ${n} of ${channel}: a loss was announced`).toBe(0);
    }
  });
});

describe("REDIS_CLUSTER_NODES", () => {
  const config = (env: Record<string, string>) => loadConfig({ LOG_LEVEL: "silent", ...env }).redisCluster;

  it("takes host:port seeds, or redis:// and rediss:// URLs whose credentials and TLS apply to every node", () => {
    expect(config({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002" })).toMatchObject({
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
        { host: "::1", port: 7002 },
      ],
      tls: false,
      password: undefined,
      slotsRefreshMs: 2_000,
    });
    expect(config({ REDIS_CLUSTER_NODES: "rediss://herald:s%40cret@a.example:6380,rediss://b.example:6380" })).toMatchObject({
      nodes: [
        { host: "a.example", port: 6380 },
        { host: "b.example", port: 6380 },
      ],
      username: "herald",
      password: "s@cret",
      tls: true,
    });
    expect(config({ REDIS_CLUSTER_NODES: "10.0.0.1:7000", REDIS_CLUSTER_NAT_MAP: "10.0.0.1:7000=127.0.0.1:17000,10.0.0.2:7000=127.0.0.1:17001" })?.natMap).toEqual({
      "10.0.0.1:7000": { host: "127.0.0.1", port: 17000 },
      "10.0.0.2:7000": { host: "127.0.0.1", port: 17001 },
    });
    expect(config({})).toBeUndefined();
  });

  it.for([
    [{ REDIS_CLUSTER_NODES: "10.0.0.1:7000", REDIS_URL: "redis://127.0.0.1:6379" }, /set either REDIS_URL or REDIS_CLUSTER_NODES/],
    [{ REDIS_CLUSTER_NODES: "10.0.0.1" }, /REDIS_CLUSTER_NODES: "10.0.0.1" is not host:port/],
    [{ REDIS_CLUSTER_NODES: "10.0.0.1:99999" }, /is not host:port/],
    [{ REDIS_CLUSTER_NODES: " , " }, /names no node/],
    [{ REDIS_CLUSTER_NODES: "redis://a:7000,rediss://b:7000" }, /mixes redis:\/\/ and rediss:\/\//],
    [{ REDIS_CLUSTER_NODES: "redis://:one@a:7000,redis://:two@b:7000" }, /different credentials/],
    [{ REDIS_CLUSTER_NAT_MAP: "a:1=b:2" }, /REDIS_CLUSTER_NAT_MAP: only with REDIS_CLUSTER_NODES/],
    [{ REDIS_CLUSTER_NODES: "a:1", REDIS_CLUSTER_NAT_MAP: "a:1" }, /REDIS_CLUSTER_NAT_MAP: "a:1" is not from=to/],
    [{ REDIS_CLUSTER_NODES: "a:1", HERALD_REDIS_CLUSTER_SLOTS_REFRESH_MS: "10" }, /HERALD_REDIS_CLUSTER_SLOTS_REFRESH_MS/],
  ] as const)("refuses %o, naming the variable", ([env, message]) => {
    expect(() => config(env)).toThrow(message);
  });

  it("makes the process exit 2, naming the variable", async () => {
    const { code, output } = await runHeraldExpectingExit({ REDIS_URL: "", REDIS_CLUSTER_NODES: "not a node" });
    expect(code).toBe(2);
    expect(output).toMatch(/REDIS_CLUSTER_NODES/);
  });
});

function gaps(times: readonly number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}
