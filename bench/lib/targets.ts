import { execFileSync } from "node:child_process";
import { loadConfig } from "../../src/config.ts";
import type { PublishPath, PusherPublishPath, ReadySignal, SubscriberProtocol } from "./jobs.ts";
import { freePort, REPO_ROOT, startBinary, startScript, waitUntilReady, type ManagedProcess } from "./processes.ts";

/** The servers a scenario can run against. */
export type TargetName = "herald" | "herald-graphql" | "limit" | "peer" | "rest-baseline" | "centrifuge";

/** Herald's development app (no HERALD_APPS): the reference servers accept the same credentials. */
export const DEV_APP = { id: "dev", key: "herald-dev-key", secret: "herald-dev-secret-not-for-production" } as const;

export const TARGET_LABELS: Record<TargetName, string> = {
  herald: "Herald",
  "herald-graphql": "Herald (GraphQL publish)",
  limit: "limit",
  peer: "peer",
  "rest-baseline": "bare handler",
  centrifuge: "Centrifuge",
};

export interface RunningTarget {
  readonly name: TargetName;
  /** Base URLs (`http://127.0.0.1:port`), one per instance. */
  readonly urls: readonly string[];
  readonly pids: readonly number[];
  readonly ready: ReadySignal;
  /** What its subscribers speak, and their endpoint on each instance. */
  readonly subscribers: { readonly protocol: SubscriberProtocol; readonly wsUrls: readonly string[] };
  /** The target's fan-out publish path (through the first instance). */
  readonly publish: PublishPath;
  /** Its Pusher `events` route, for the REST scenario. */
  readonly pusher: PusherPublishPath;
  /** Its GRIP publish route (Herald only), for the grip-publish scenarios. */
  readonly grip: PublishPath;
  stop(): Promise<void>;
}

interface TargetSpec {
  /** Starts one instance: a node script of the repo (compiled) or an executable. */
  start(label: string, env: Record<string, string>, options: StartOptions): ManagedProcess;
  readyPath: string;
  ready: ReadySignal;
  env(port: number, options: StartOptions): Record<string, string>;
  publish(url: string): PublishPath;
  /** What its subscribers speak, at which path. */
  subscriber: { protocol: SubscriberProtocol; path: string };
}

const nodeScript =
  (script: string): TargetSpec["start"] =>
  (label, env, { nodeArgs }) =>
    startScript(label, script, env, nodeArgs);

const GRAPHQL_WS = { protocol: "graphql-ws", path: "/graphql" } as const;

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
  /** Herald's and Centrifuge's engine: Redis (`redisUrl`, the default), or their in-memory one (no Redis at all). */
  readonly engine?: "redis" | "memory";
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

/** The engine's Redis, or (memory) an empty `REDIS_URL`, which Herald and the Centrifuge server read as unset. */
const redisUrlOf = ({ engine, redisUrl }: StartOptions) => (engine === "memory" ? "" : redisUrl);

const HERALD: TargetSpec = {
  start: nodeScript("src/main.ts"),
  readyPath: "/readyz",
  ready: "subscribed-event",
  subscriber: GRAPHQL_WS,
  env: (port, options) => ({
    PORT: String(port),
    HOST: "127.0.0.1",
    REDIS_URL: redisUrlOf(options),
    HERALD_REDIS_PREFIX: options.redisPrefix,
    LOG_LEVEL: "warn",
    // Run as in production: NODE_ENV=production (graphql-js skips its development checks),
    // with the development app's credentials configured as an ordinary app.
    HERALD_APPS: JSON.stringify([{ ...DEV_APP, name: "bench" }]),
    HERALD_APPS_FILE: "",
    NODE_ENV: "production",
    HERALD_MAX_CONNECTIONS_PER_APP: String(Math.max(100_000, options.subscribers * 2)),
    // Large enough that a queue building up shows as latency, not as dropped subscribers.
    HERALD_SUBSCRIBER_QUEUE_LENGTH: "100000",
    HERALD_MESSAGE_STATUS_TTL_SECONDS: "300",
    ...options.heraldEnv,
  }),
  publish: (url) => ({ kind: "graphql", url, secret: DEV_APP.secret }),
};

/**
 * The history Herald keeps with `options` (its own defaults, HERALD_HISTORY_SIZE and
 * HERALD_HISTORY_TTL_SECONDS, under the scenario's `heraldEnv`), read through Herald's own
 * config loader: Centrifuge keeps the same, so both sides store every message.
 */
function heraldHistory(options: StartOptions): { size: number; ttlSeconds: number } {
  const config = loadConfig({ ...process.env, ...HERALD.env(0, options) });
  return { size: config.historySize, ttlSeconds: config.historyTtlSeconds };
}

/** Where the runner builds the Centrifuge server (git-ignored). */
const CENTRIFUGE_BINARY = `${REPO_ROOT}bench/.build/centrifuge`;
/** Debian's Go packages (golang-github-centrifugal-centrifuge-dev and its dependencies). */
const DEBIAN_GOPATH = "/usr/share/gocode";

/**
 * Builds the Centrifuge server (`bench/centrifuge`, GOPATH mode on Debian's packages, offline);
 * undefined when built, else why not (no `go`, or the build's errors).
 */
export function buildCentrifuge(): string | undefined {
  try {
    execFileSync("go", ["build", "-o", CENTRIFUGE_BINARY, "./bench/centrifuge"], {
      cwd: REPO_ROOT,
      env: { ...process.env, GO111MODULE: "off", GOPATH: DEBIAN_GOPATH, GOPROXY: "off", GOFLAGS: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return undefined;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (failure.code === "ENOENT") return "`go` is not installed";
    return `go build failed: ${failure.stderr?.toString("utf8").trim() || failure.message}`;
  }
}

const SPECS: Record<TargetName, TargetSpec> = {
  herald: HERALD,
  // A second Herald in the same run, the reference of the grip-publish scenario.
  "herald-graphql": HERALD,
  limit: {
    start: nodeScript("bench/limit-server.ts"),
    readyPath: "/healthz",
    ready: "subscribed-event",
    subscriber: GRAPHQL_WS,
    env: referenceEnv,
    publish: (url) => ({ kind: "limit", url }),
  },
  peer: {
    start: nodeScript("bench/peer-server.ts"),
    readyPath: "/healthz",
    ready: "probe",
    subscriber: GRAPHQL_WS,
    env: referenceEnv,
    publish: (url) => ({ kind: "graphql", url, secret: DEV_APP.secret }),
  },
  "rest-baseline": {
    start: nodeScript("bench/rest-baseline.ts"),
    readyPath: "/healthz",
    ready: "probe",
    subscriber: GRAPHQL_WS,
    env: referenceEnv,
    publish: (url) => ({ kind: "pusher", url, appId: DEV_APP.id, key: DEV_APP.key, secret: DEV_APP.secret }),
  },
  centrifuge: {
    start: (label, env) => startBinary(label, CENTRIFUGE_BINARY, env),
    readyPath: "/healthz",
    // The reply to its subscribe command.
    ready: "subscribed-event",
    subscriber: { protocol: "centrifuge", path: "/connection/websocket" },
    env: (port, options) => {
      const history = heraldHistory(options);
      return {
        PORT: String(port),
        REDIS_URL: redisUrlOf(options),
        BENCH_REDIS_PREFIX: options.redisPrefix,
        HISTORY_SIZE: String(history.size),
        HISTORY_TTL_SECONDS: String(history.ttlSeconds),
      };
    },
    publish: (url) => ({ kind: "limit", url }),
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
      processes.push(spec.start(label, spec.env(port, options), options));
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
    subscribers: { protocol: spec.subscriber.protocol, wsUrls: webSocketUrls(urls, spec.subscriber.path) },
    publish: spec.publish(urls[0]!),
    pusher: { kind: "pusher", url: urls[0]!, appId: DEV_APP.id, key: DEV_APP.key, secret: DEV_APP.secret },
    grip: { kind: "grip", url: urls[0]!, serviceId: DEV_APP.id, secret: DEV_APP.secret },
    stop,
  };
}

/** `path` on every instance, as `ws://` URLs. */
export const webSocketUrls = (urls: readonly string[], path: string) => urls.map((url) => `${url.replace(/^http/, "ws")}${path}`);
