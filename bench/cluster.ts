/**
 * The `cluster` scenario (issue 19): publishing spread over many channels through two Herald
 * instances, once on one Redis and once on a three-master Redis Cluster started for the run, on
 * the same machine, each a redis-server of the run's own (so no other client's work is in its CPU
 * figures). Reports deliveries per server CPU-second and Redis CPU per message for both,
 * and how many of the messages each master carried (sharded pub/sub: each about a third).
 */
import { Redis } from "ioredis";
import { startTestCluster } from "../test/helpers/redis-cluster.ts";
import { startOwnRedis } from "../test/helpers/redis-server.ts";
import { createPublisher, sendPaced } from "./lib/publisher.ts";
import { processCpuSeconds, redisCpuSeconds, sum } from "./lib/proc-stats.ts";
import { DEV_APP, startTarget } from "./lib/targets.ts";
import { wholeNumber } from "./lib/report.ts";
import { openSubscriber, type Subscriber } from "./lib/ws-subscriber.ts";

export interface ClusterScenario {
  readonly name: "cluster";
  readonly description: string;
  readonly channels: number;
  /** Per channel, split over the two instances. */
  readonly subscribersPerChannel: number;
  readonly messages: number;
  readonly publishRate: number;
}

export function clusterScenario(quick: boolean): ClusterScenario {
  return {
    name: "cluster",
    description: "publishes spread over many channels (one channel each) through 2 Herald instances, on one Redis and on a 3-master Redis Cluster",
    channels: quick ? 200 : 2_000,
    subscribersPerChannel: 1,
    messages: quick ? 1_000 : 10_000,
    publishRate: quick ? 200 : 500,
  };
}

export interface ClusterPhase {
  readonly label: string;
  readonly expected: number;
  readonly delivered: number;
  readonly serverCpuSeconds: number;
  readonly deliveriesPerServerCpuSecond: number;
  readonly redisCpuSeconds: number;
  /** Redis CPU (all masters) per message published, µs. */
  readonly redisCpuMicrosPerMessage: number;
  /** Per Redis server: its share of the messages it published to its subscribers (PUBLISH or SPUBLISH calls). */
  readonly shares: readonly { readonly node: string; readonly publishes: number; readonly share: number; readonly cpuSeconds: number }[];
  readonly publishPerSecond: number;
}

/** `INFO commandstats` calls of PUBLISH and SPUBLISH (counted when a script calls them too). */
async function publishCalls(redis: Redis): Promise<number> {
  const info = await redis.info("commandstats");
  const calls = (name: string) => Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, "m").exec(info)?.[1] ?? 0);
  return calls("publish") + calls("spublish");
}

export async function runClusterScenario(scenario: ClusterScenario, options: { redisUrl: string; redisPrefix: string; nodeArgs: readonly string[] }) {
  async function phase(label: string, heraldEnv: Record<string, string>, servers: readonly Redis[], names: readonly string[]): Promise<ClusterPhase> {
    const subscribers = scenario.channels * scenario.subscribersPerChannel;
    const target = await startTarget("herald", {
      instances: 2,
      redisUrl: options.redisUrl,
      redisPrefix: `${options.redisPrefix}${label}:`,
      subscribers,
      nodeArgs: options.nodeArgs,
      heraldEnv: { HERALD_RATE_LIMIT_BACKEND_PER_APP: "0", ...heraldEnv },
    });
    const sockets: Subscriber[] = [];
    let delivered = 0;
    let lastDelivery = 0;
    const problems: string[] = [];
    const sink = {
      delivered(_subscriber: Subscriber, seq: number) {
        if (seq < 0) return;
        delivered++;
        lastDelivery = performance.now();
      },
      problem: (text: string) => void (problems.length < 5 && problems.push(text)),
    };
    const channel = (i: number) => `bench-cluster-${i}`;
    const publishers = target.urls.map((url) => createPublisher({ kind: "graphql", url, secret: DEV_APP.secret }, { maxSockets: 32, onProblem: sink.problem }));
    try {
      for (let i = 0; i < subscribers; i += 100) {
        const batch = Array.from({ length: Math.min(100, subscribers - i) }, (_, k) => {
          const n = i + k;
          const url = target.urls[n % 2]!.replace("http", "ws") + "/graphql";
          return openSubscriber({ url, appKey: DEV_APP.key, channel: channel(n % scenario.channels), ready: target.ready, sink });
        });
        sockets.push(...batch);
        await Promise.all(batch.map((s) => s.live));
      }
      // Warm-up (not counted): every channel once, through both instances.
      await sendPaced({ count: scenario.channels, ratePerSecond: scenario.publishRate * 2, maxInFlight: 64, maxDurationMs: 60_000, send: (i) => publishers[i % 2]!.publish([channel(i)], -1) });
      await new Promise((r) => setTimeout(r, 1_000));

      const cpuBefore = sum(target.pids.map(processCpuSeconds));
      const redisBefore = await Promise.all(servers.map(redisCpuSeconds));
      const callsBefore = await Promise.all(servers.map(publishCalls));
      const started = performance.now();
      const { elapsedMs, sent } = await sendPaced({
        count: scenario.messages,
        ratePerSecond: scenario.publishRate,
        maxInFlight: 64,
        maxDurationMs: 120_000,
        // Channel by a stride coprime to the count: consecutive publishes land on unrelated channels.
        send: (i) => publishers[i % 2]!.publish([channel((i * 7919) % scenario.channels)], i),
      });
      const expected = sent * scenario.subscribersPerChannel;
      const drainUntil = performance.now() + 30_000;
      while (delivered < expected && performance.now() < drainUntil && performance.now() - Math.max(lastDelivery, started + elapsedMs) < 5_000) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const serverCpuSeconds = sum(target.pids.map(processCpuSeconds)) - cpuBefore;
      const redisCpu = (await Promise.all(servers.map(redisCpuSeconds))).map((cpu, i) => cpu - redisBefore[i]!);
      const calls = (await Promise.all(servers.map(publishCalls))).map((n, i) => n - callsBefore[i]!);
      const allCalls = sum(calls);
      if (problems.length > 0) console.log(`    ${label}: ${problems.join("; ")}`);
      return {
        label,
        expected,
        delivered,
        serverCpuSeconds,
        deliveriesPerServerCpuSecond: delivered / serverCpuSeconds,
        redisCpuSeconds: sum(redisCpu),
        redisCpuMicrosPerMessage: (sum(redisCpu) / sent) * 1e6,
        shares: servers.map((_, i) => ({ node: names[i]!, publishes: calls[i]!, share: allCalls === 0 ? 0 : calls[i]! / allCalls, cpuSeconds: redisCpu[i]! })),
        publishPerSecond: sent / (elapsedMs / 1000),
      };
    } finally {
      for (const socket of sockets) socket.close();
      for (const publisher of publishers) publisher.close();
      await target.stop();
    }
  }

  const own = await startOwnRedis(["--save", "", "--appendonly", "no"]);
  const cluster = own && (await startTestCluster());
  if (!own || !cluster) {
    await own?.stop();
    console.log("    cluster: skipped (redis-server and redis-cli are needed to start a Redis and a Redis Cluster)");
    return undefined;
  }
  const single = new Redis(own.url);
  const masters = cluster.nodes.map((n) => new Redis({ host: n.host, port: n.port }));
  try {
    const phases = [
      await phase("one-redis", { REDIS_URL: own.url }, [single], [own.url.replace(/^redis:\/\//, "")]),
      await phase("cluster", { REDIS_URL: "", REDIS_CLUSTER_NODES: cluster.spec }, masters, cluster.nodes.map((n) => `${n.host}:${n.port}`)),
    ];
    return { scenario, phases };
  } finally {
    single.disconnect();
    for (const master of masters) master.disconnect();
    await Promise.all([cluster.stop(), own.stop()]);
  }
}

export function formatClusterPhase(p: ClusterPhase): string {
  const n = wholeNumber;
  const shares = p.shares.map((s) => `${s.node} ${(s.share * 100).toFixed(0)}% (${s.cpuSeconds.toFixed(2)} CPU-s)`).join(", ");
  return (
    `${p.label}: ${n(p.delivered)}/${n(p.expected)} delivered, ${n(p.deliveriesPerServerCpuSecond)} per server CPU-s (${p.serverCpuSeconds.toFixed(1)} CPU-s), ` +
    `Redis ${p.redisCpuMicrosPerMessage.toFixed(1)} CPU-µs per message (${p.redisCpuSeconds.toFixed(2)} CPU-s); publishes per server: ${shares}; publish ${n(p.publishPerSecond)}/s`
  );
}
