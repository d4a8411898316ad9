import type { PublishPath, PusherPublishPath, ReadySignal } from "./jobs.ts";
import { freePort, startScript, waitUntilReady, type ManagedProcess } from "./processes.ts";

/** The servers a scenario can run against. */
export type TargetName = "herald" | "herald-graphql" | "limit" | "peer" | "rest-baseline";

/** Herald's development app (no HERALD_APPS): the reference servers accept the same credentials. */
export const DEV_APP = { id: "dev", key: "herald-dev-key", secret: "herald-dev-secret-not-for-production" } as const;

export const TARGET_LABELS: Record<TargetName, string> = {
  herald: "Herald",
  "herald-graphql": "Herald (GraphQL publish)",
  limit: "limit",
  peer: "peer",
  "rest-baseline": "bare handler",
};

export interface RunningTarget {
  readonly name: TargetName;
  /** Base URLs (`http://127.0.0.1:port`), one per instance. */
  readonly urls: readonly string[];
  readonly pids: readonly number[];
  readonly ready: ReadySignal;
  /** The target's fan-out publish path (through the first instance). */
  readonly publish: PublishPath;
  /** Its Pusher `events` route, for the REST scenario. */
  readonly pusher: PusherPublishPath;
  /** Its GRIP publish route (Herald only), for the grip-publish scenarios. */
  readonly grip: PublishPath;
  stop(): Promise<void>;
}

interface TargetSpec {
  script: string;
  readyPath: string;
  ready: ReadySignal;
  env(port: number, options: StartOptions): Record<string, string>;
  publish(url: string): PublishPath;
}

export interface StartOptions {
  readonly instances: number;
  readonly redisUrl: string;
  /** Redis key and channel prefix, unique per run and target (instances of one target share it). */
  readonly redisPrefix: string;
  /** Subscriptions the scenario opens, to size Herald's limits. */
  readonly subscribers: number;
  /** Extra `node` arguments of every server process (`--profile` adds `--cpu-prof`). */
  readonly nodeArgs: readonly string[];
  /** Herald's environment on top of the bench's own (the scenario's `heraldEnv`). */
  readonly heraldEnv?: Readonly<Record<string, string>>;
}

const referenceEnv = (port: number, { redisUrl, redisPrefix }: StartOptions) => ({
  PORT: String(port),
  NODE_ENV: "production",
  REDIS_URL: redisUrl,
  BENCH_REDIS_PREFIX: redisPrefix,
  BENCH_APP_ID: DEV_APP.id,
  BENCH_APP_KEY: DEV_APP.key,
  BENCH_APP_SECRET: DEV_APP.secret,
});

const HERALD: TargetSpec = {
  script: "src/main.ts",
  readyPath: "/readyz",
  ready: "subscribed-event",
  env: (port, { redisUrl, redisPrefix, subscribers, heraldEnv }) => ({
    PORT: String(port),
    HOST: "127.0.0.1",
    REDIS_URL: redisUrl,
    HERALD_REDIS_PREFIX: redisPrefix,
    LOG_LEVEL: "warn",
    // Run as in production: NODE_ENV=production (graphql-js skips its development checks),
    // with the development app's credentials configured as an ordinary app.
    HERALD_APPS: JSON.stringify([{ ...DEV_APP, name: "bench" }]),
    HERALD_APPS_FILE: "",
    NODE_ENV: "production",
    HERALD_MAX_CONNECTIONS_PER_APP: String(Math.max(100_000, subscribers * 2)),
    // Large enough that a queue building up shows as latency, not as dropped subscribers.
    HERALD_SUBSCRIBER_QUEUE_LENGTH: "100000",
    HERALD_MESSAGE_STATUS_TTL_SECONDS: "300",
    ...heraldEnv,
  }),
  publish: (url) => ({ kind: "graphql", url, secret: DEV_APP.secret }),
};

const SPECS: Record<TargetName, TargetSpec> = {
  herald: HERALD,
  // A second Herald in the same run, the reference of the grip-publish scenario.
  "herald-graphql": HERALD,
  limit: {
    script: "bench/limit-server.ts",
    readyPath: "/healthz",
    ready: "subscribed-event",
    env: referenceEnv,
    publish: (url) => ({ kind: "limit", url }),
  },
  peer: {
    script: "bench/peer-server.ts",
    readyPath: "/healthz",
    ready: "probe",
    env: referenceEnv,
    publish: (url) => ({ kind: "graphql", url, secret: DEV_APP.secret }),
  },
  "rest-baseline": {
    script: "bench/rest-baseline.ts",
    readyPath: "/healthz",
    ready: "probe",
    env: referenceEnv,
    publish: (url) => ({ kind: "pusher", url, appId: DEV_APP.id, key: DEV_APP.key, secret: DEV_APP.secret }),
  },
};

const READY_TIMEOUT_MS = 30_000;

/** Starts `instances` processes of a target on free ports and waits until each is ready. */
export async function startTarget(name: TargetName, options: StartOptions): Promise<RunningTarget> {
  const spec = SPECS[name];
  const processes: ManagedProcess[] = [];
  const urls: string[] = [];
  const stop = () => Promise.all(processes.map((p) => p.stop())).then(() => {});
  try {
    for (let i = 0; i < options.instances; i++) {
      const port = await freePort();
      const label = options.instances > 1 ? `${name} #${i + 1}` : name;
      processes.push(startScript(label, spec.script, spec.env(port, options), options.nodeArgs));
      urls.push(`http://127.0.0.1:${port}`);
    }
    await Promise.all(processes.map((p, i) => waitUntilReady(p, `${urls[i]}${spec.readyPath}`, READY_TIMEOUT_MS)));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name,
    urls,
    pids: processes.map((p) => p.pid),
    ready: spec.ready,
    publish: spec.publish(urls[0]!),
    pusher: { kind: "pusher", url: urls[0]!, appId: DEV_APP.id, key: DEV_APP.key, secret: DEV_APP.secret },
    grip: { kind: "grip", url: urls[0]!, serviceId: DEV_APP.id, secret: DEV_APP.secret },
    stop,
  };
}
