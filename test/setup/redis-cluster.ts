import type { TestProject } from "vitest/node";
import { startTestCluster } from "../helpers/redis-cluster.ts";

/**
 * Starts one Redis Cluster (three masters on free ports, redis-server and redis-cli from PATH)
 * for the suites that run the engine contract on a cluster, once per test run, and stops it
 * after. Without redis-server the cluster suites skip with a notice — with CI=true that is a
 * failure instead.
 */
export default async function setup(project: TestProject) {
  const cluster = await startTestCluster();
  if (!cluster) {
    const notice = "No Redis Cluster could be started (redis-server and redis-cli on PATH): the cluster suites are skipped.";
    if (process.env.CI === "true") throw new Error(`CI=true: ${notice}`);
    console.warn(`\n⚠ ${notice}\n`);
  }
  project.provide("redisClusterNodes", cluster?.spec ?? "");
  return () => cluster?.stop();
}

declare module "vitest" {
  export interface ProvidedContext {
    redisClusterNodes: string;
  }
}
