import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePort } from "./net.ts";
import { startOwnRedis, type OwnRedis } from "./redis-server.ts";

const run = promisify(execFile);

/** A node of a test cluster: a redis-server of the test's own (kill and start it again). */
export interface ClusterNodeProcess extends OwnRedis {
  readonly host: string;
  readonly port: number;
}

/**
 * A Redis Cluster of a test's own: `masters` redis-servers with `--cluster-enabled yes` on free
 * ports (each with its bus port, +10000, free too), joined by `redis-cli --cluster create`, each
 * in its own directory (its nodes.conf survives a restart, so it rejoins with its slots).
 */
export interface TestCluster {
  readonly nodes: readonly ClusterNodeProcess[];
  /** The seed list as REDIS_CLUSTER_NODES takes it. */
  readonly spec: string;
  /** The node that owns `key`'s slot now. */
  ownerOf(key: string): Promise<ClusterNodeProcess>;
  /** Resolves once every running node reports cluster_state:ok. */
  waitOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A port free itself and for its cluster bus (port + 10000). */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port > 55_000) continue;
    const bus = await new Promise<boolean>((resolve) => {
      import("node:net").then(({ createServer }) => {
        const server = createServer();
        server.once("error", () => resolve(false));
        server.listen(port + 10_000, "127.0.0.1", () => server.close(() => resolve(true)));
      });
    });
    if (bus) return port;
  }
}

/** Undefined when redis-server or redis-cli is missing (CI has both: `.ci/run` installs redis-server). */
export async function startTestCluster(options: { masters?: number; args?: readonly string[] } = {}): Promise<TestCluster | undefined> {
  const { masters = 3, args = ["--save", "", "--appendonly", "no"] } = options;
  const root = mkdtempSync(join(tmpdir(), "herald-test-cluster-"));
  const nodes: ClusterNodeProcess[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await clusterPort();
      const dir = join(root, String(i));
      mkdirSync(dir);
      const node = await startOwnRedis(
        ["--cluster-enabled", "yes", "--cluster-config-file", join(dir, "nodes.conf"), "--cluster-node-timeout", "2000", ...args],
        { port, dir },
      );
      if (!node) throw new Error("redis-server could not be started");
      nodes.push({ ...node, host: "127.0.0.1", port });
    }
    await run("redis-cli", ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"], { timeout: 30_000 });
  } catch {
    await stopAll();
    return undefined;
  }

  async function info(node: ClusterNodeProcess): Promise<string> {
    const client = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => {});
    try {
      await client.connect();
      return (await client.cluster("INFO")) as string;
    } catch {
      return "";
    } finally {
      client.disconnect();
    }
  }

  const cluster: TestCluster = {
    nodes,
    spec: nodes.map((n) => `127.0.0.1:${n.port}`).join(","),
    async ownerOf(key) {
      const client = new Redis({ host: nodes[0]!.host, port: nodes[0]!.port, lazyConnect: true, maxRetriesPerRequest: 1 });
      client.on("error", () => {});
      try {
        await client.connect();
        const slot = Number(await client.cluster("KEYSLOT", key));
        const shards = (await client.cluster("SLOTS")) as unknown as [number, number, [string, number]][];
        const owner = shards.find(([from, to]) => slot >= from && slot <= to)![2][1];
        return nodes.find((n) => n.port === owner)!;
      } finally {
        client.disconnect();
      }
    },
    async waitOk(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(nodes.map(info));
        if (states.every((s) => s.includes("cluster_state:ok"))) return;
        if (Date.now() > deadline) throw new Error(`cluster not ok: ${states.map((s) => /cluster_state:(\w+)/.exec(s)?.[1] ?? "down").join(", ")}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: stopAll,
  };
  await cluster.waitOk();
  return cluster;
}
