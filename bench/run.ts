/**
 * `npm run bench [-- --quick] [-- --scenario broadcast,idle]`
 *
 * Runs each scenario against Herald and the reference servers in one run, prints a table of
 * Herald's figures and its ratios to them, and writes `bench/results/latest.{json,md}` (a quick
 * or partial run writes `latest-quick.*` / `latest-partial.*`: only a full run replaces the
 * figures the README quotes). Every
 * server and the load generator are child processes, killed by PID when the run ends.
 */
import { execFileSync, execSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { publishTimeLimitMs, type FanoutJob, type GeneratorMessage, type LoadJob, type LoadResult, type PublishPath, type QueueJob, type RestJob, type RestResult } from "./lib/jobs.ts";
import { forkGenerator, killChildrenOnExit, REPO_ROOT, stopAll } from "./lib/processes.ts";
import { createPublisher, REQUEST_TIMEOUT_MS } from "./lib/publisher.ts";
import {
  buildRows,
  headlineRatios,
  busyMachineWarning,
  busyMachineWarnings,
  checkCentrifugeTargets,
  checkTargets,
  formatChecks,
  markdownTable,
  summarize,
  textTable,
  type ScenarioRun,
  type TargetRun,
} from "./lib/report.ts";
import { chartCaption, headlineChart } from "./lib/chart.ts";
import { offeredDeliveryRate, scenarios, type FanoutScenario, type QueueScenario, type RestScenario, type Scenario } from "./lib/scenarios.ts";
import { buildCentrifuge, DEV_APP, startTarget, TARGET_LABELS, webSocketUrls, type RunningTarget, type TargetName } from "./lib/targets.ts";
import { formatWebhookPhase, runWebhookScenario, webhookScenario, type WebhookScenario } from "./webhook.ts";
import { clusterScenario, formatClusterPhase, runClusterScenario, type ClusterScenario } from "./cluster.ts";

const PROFILE_DIR_NAME = "bench/results/profiles";

const USAGE = `usage: npm run bench -- [--quick] [--scenario name[,name…]] [--target name[,name…]] [--profile]

  --quick            small sizes: a smoke run in under a minute
  --scenario <names> only these scenarios (${scenarios(false)
    .map((s) => s.name)
    .join(", ")}, webhook, cluster)
  --target <names>   only these servers (${Object.keys(TARGET_LABELS).join(", ")}, webhook); ratios need two
  --profile          write V8 CPU profiles of every server and generator to ${PROFILE_DIR_NAME}/

env: REDIS_URL (default redis://127.0.0.1:6379), BENCH_QUICK=1, BENCH_SCENARIO=<names>, BENCH_TARGET=<names>`;

const RESULTS_DIR = `${REPO_ROOT}bench/results`;
/** File descriptors beyond the sockets themselves (modules, Redis, HTTP agents, pipes). */
const FD_HEADROOM = 500;

interface Options {
  quick: boolean;
  /** Some scenarios or servers left out by `--scenario` / `--target`, or Centrifuge could not be built. */
  partial: boolean;
  scenarios: Scenario[];
  /** The outbound-webhook scenario (bench/webhook.ts), when selected. */
  webhook: WebhookScenario | undefined;
  /** The Redis Cluster scenario (bench/cluster.ts), when selected. */
  cluster: ClusterScenario | undefined;
  redisUrl: string;
  /** Extra `node` arguments of every child process. */
  nodeArgs: string[];
}

const TARGET_NAMES = Object.keys(TARGET_LABELS) as TargetName[];

/** `--x a,b --x c` or `BENCH_X=a,b` → [a, b, c]. */
const listOption = (values: string[] | undefined, env: string | undefined) =>
  (values ?? (env ? [env] : []))
    .flatMap((value) => value.split(","))
    .map((value) => value.trim())
    .filter(Boolean);

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean" },
      scenario: { type: "string", multiple: true },
      target: { type: "string", multiple: true },
      profile: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const fail = (message: string) => {
    console.error(`bench: ${message}\n\n${USAGE}`);
    process.exit(2);
  };
  const quick = values.quick ?? ["1", "true"].includes(process.env.BENCH_QUICK ?? "");
  const all = scenarios(quick);
  const names = listOption(values.scenario, process.env.BENCH_SCENARIO);
  const unknown = names.filter((n) => n !== "webhook" && n !== "cluster" && !all.some((s) => s.name === n || s.partOf === n));
  if (unknown.length > 0) fail(`unknown scenario ${unknown.join(", ")}`);
  const targets = listOption(values.target, process.env.BENCH_TARGET);
  const unknownTargets = targets.filter((t) => !TARGET_NAMES.includes(t as TargetName));
  if (unknownTargets.length > 0) fail(`unknown target ${unknownTargets.join(", ")}`);

  const selected = (names.length === 0 ? all : all.filter((s) => names.includes(s.name) || (s.partOf !== undefined && names.includes(s.partOf))))
    .map((s) => (targets.length === 0 ? s : { ...s, targets: s.targets.filter((t) => targets.includes(t)) }))
    .filter((s) => s.targets.length > 0);
  const webhook = (names.length === 0 || names.includes("webhook")) && (targets.length === 0 || targets.includes("herald")) ? webhookScenario(quick) : undefined;
  const cluster = (names.length === 0 || names.includes("cluster")) && (targets.length === 0 || targets.includes("herald")) ? clusterScenario(quick) : undefined;
  if (selected.length === 0 && !webhook && !cluster) fail("nothing to run: no selected scenario runs any selected target");
  return {
    quick,
    partial: names.length > 0 || targets.length > 0,
    scenarios: selected,
    webhook,
    cluster,
    redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    nodeArgs: values.profile ? ["--cpu-prof", `--cpu-prof-dir=${REPO_ROOT}${PROFILE_DIR_NAME}`] : [],
  };
}

/**
 * Builds the Centrifuge server (Go); without Go, or when the build fails, says so and runs every
 * scenario without it (a run without it is partial: it replaces none of the quoted figures).
 */
function skipCentrifugeUnlessBuilt(options: Options) {
  console.log("Building the Centrifuge server (go build ./bench/centrifuge)");
  const problem = buildCentrifuge();
  if (problem === undefined) return;
  console.log(`  ! no Centrifuge in this run: ${problem.split("\n").join("\n    ")}\n    (bench/README.md, "Centrifuge (issue 21)", lists the packages it needs)`);
  options.partial = true;
  options.scenarios = options.scenarios
    .map((s) => ({ ...s, targets: s.targets.filter((t) => t !== "centrifuge") }))
    .filter((s) => s.targets.length > 0);
  if (options.scenarios.length === 0 && !options.webhook && !options.cluster) {
    console.error("bench: nothing left to run without Centrifuge");
    process.exit(1);
  }
}

/** Both the generator and each server hold one descriptor per connection. */
function checkFileDescriptorLimit(selected: Scenario[]) {
  const needed = Math.max(...selected.map((s) => (s.kind === "fanout" ? s.subscribers : s.kind === "rest" ? s.concurrency : s.consumers))) + FD_HEADROOM;
  // Node raises its soft limit to the hard one at startup; children inherit what we have now.
  const limit = Number(execSync("ulimit -n", { encoding: "utf8", shell: "/bin/sh" }).trim());
  if (Number.isFinite(limit) && limit < needed) {
    console.error(
      `bench: the open-file limit is ${limit}, this run needs about ${needed} per process.\n` +
        `Raise it in your shell first, e.g. \`ulimit -n ${Math.max(needed, 20_000)}\` (the hard limit may need ` +
        `/etc/security/limits.conf or --ulimit nofile for a container), or run with --quick.`,
    );
    process.exit(1);
  }
}

function fanoutJob(scenario: FanoutScenario, target: RunningTarget, options: Options): FanoutJob {
  const { quick } = options;
  return {
    kind: "fanout",
    // Pusher scenarios: Herald's subscribers speak the Pusher protocol; the limit's stay on graphql-ws.
    ...(scenario.pusherWs && target.name === "herald"
      ? { protocol: "pusher" as const, wsUrls: webSocketUrls(target.urls, `/app/${DEV_APP.key}?protocol=7`) }
      : target.subscribers),
    appKey: DEV_APP.key,
    publish: publishPathOf(scenario, target, target.publish),
    ready: target.ready,
    serverPids: target.pids,
    subscribers: scenario.subscribers,
    channels: scenario.channels,
    channelPrefix: `bench-${scenario.name}-`,
    channelsPerPublish: scenario.channelsPerPublish,
    messages: scenario.messages,
    publishRate: scenario.publishRate,
    slowSubscribers: scenario.slowSubscribers ?? 0,
    payloadBytes: scenario.payloadBytes ?? 0,
    connectConcurrency: 100,
    settleMs: quick ? 300 : 2_000,
    warmupMessages: quick ? 5 : 20,
    connectTimeoutMs: quick ? 20_000 : 60_000,
    drainTimeoutMs: quick ? 10_000 : 60_000,
    stallTimeoutMs: quick ? 2_000 : 5_000,
    redisUrl: options.redisUrl,
  };
}

function restJob(scenario: RestScenario, target: RunningTarget, options: Options): RestJob {
  return {
    kind: "rest",
    publish: restPathOf(scenario, target),
    serverPids: target.pids,
    channel: `bench-${scenario.name}`,
    concurrency: scenario.concurrency,
    warmupMs: scenario.warmupMs,
    durationMs: scenario.durationMs,
    redisUrl: options.redisUrl,
  };
}

/** Upper bound of one generator run: the sum of its phases' own deadlines, plus slack. */
function hardTimeoutMs(job: LoadJob): number {
  const slack = REQUEST_TIMEOUT_MS + 15_000;
  if (job.kind === "rest") return job.warmupMs + job.durationMs + slack;
  // plain, queued and steady publishing, the drain and the steady phase's drain
  if (job.kind === "queue") return 3 * publishTimeLimitMs(job) + 2 * job.drainTimeoutMs + slack;
  // connect, settle, warm-up (bounded like connecting), publish, drain
  return job.connectTimeoutMs + job.settleMs + job.connectTimeoutMs + publishTimeLimitMs(job) + job.drainTimeoutMs + slack;
}

/** Forks the generator for one job and waits for its result, killing it past the deadline. */
async function runGenerator(job: LoadJob, options: Options): Promise<LoadResult> {
  const generator = forkGenerator(options.nodeArgs);
  const timeoutMs = hardTimeoutMs(job);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<LoadResult>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`load generator timed out after ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      generator.child.on("message", (message: GeneratorMessage) => {
        if (message.type === "progress") console.log(`      · ${message.text}`);
        else if (message.type === "result") resolve(message.result);
        else reject(new Error(message.error));
      });
      void generator.exited.then(({ code, signal }) =>
        reject(new Error(`load generator exited (${code ?? signal}) without a result:\n${generator.output()}`)),
      );
      generator.child.send(job);
    });
  } finally {
    clearTimeout(timer);
    // It exits by itself after the result (and writes its profile); only a laggard is killed.
    await Promise.race([generator.exited, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    await generator.stop(1_000);
  }
}

/** The path a target publishes through in `scenario`: Herald's GRIP route where the scenario says so. */
function publishPathOf(scenario: Scenario, target: RunningTarget, usual: PublishPath): PublishPath {
  return scenario.heraldPublish === "grip" && target.name === "herald" ? target.grip : usual;
}

/** The route a REST scenario's closed loop posts to: a Pusher route, or (`route: publish`) the fan-out publish path. */
function restPathOf(scenario: RestScenario, target: RunningTarget): PublishPath {
  return publishPathOf(scenario, target, scenario.route === "publish" ? target.publish : target.pusher);
}

/** Herald's REST route may not exist yet: one request tells. */
async function restRouteProblem(path: PublishPath): Promise<string | undefined> {
  let problem = "";
  const publisher = createPublisher(path, { maxSockets: 1, onProblem: (text) => (problem = text) });
  const outcome = await publisher.publish(["bench-probe"], -1);
  publisher.close();
  if (outcome.ok) return undefined;
  return outcome.status === 404 ? `${path.kind} publish route not found (404)` : problem || `status ${outcome.status}`;
}

async function runScenario(scenario: Scenario, options: Options, runPrefix: string): Promise<ScenarioRun> {
  const heraldSource = heraldSourceFingerprint();
  const instances = scenario.kind === "fanout" ? scenario.instances : 1;
  const subscribers = scenario.kind === "fanout" ? scenario.subscribers : 0;
  // All targets start together (idle servers cost nothing), then run one at a time.
  const started = await Promise.allSettled(
    scenario.targets.map((name) =>
      startTarget(name, {
        instances,
        redisUrl: options.redisUrl,
        redisPrefix: `${runPrefix}${scenario.name}:${name}:`,
        subscribers,
        nodeArgs: options.nodeArgs,
        heraldEnv: scenario.heraldEnv,
        engine: scenario.kind === "fanout" ? scenario.engine : undefined,
      }),
    ),
  );
  const rounds = scenario.kind === "rest" ? scenario.rounds : 1;
  /** Per target, its run of every round. */
  const roundRuns: TargetRun[][] = scenario.targets.map(() => []);
  try {
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) console.log(`    round ${round} of ${rounds}`);
      for (const [i, name] of scenario.targets.entries()) {
        const startedAt = performance.now();
        const outcome = started[i]!;
        const seconds = () => (performance.now() - startedAt) / 1000;
        let run: TargetRun;
        if (outcome.status === "rejected") {
          run = { target: name, error: `could not start: ${(outcome.reason as Error).message}`, seconds: seconds() };
        } else {
          run = await runTarget(scenario, outcome.value, options).then(
            (result): TargetRun => ({ target: name, ...result, seconds: seconds() }),
            (error: Error): TargetRun => ({ target: name, error: error.message, seconds: seconds() }),
          );
          if (round === rounds) await outcome.value.stop();
        }
        console.log(`    ${summarize(run)}`);
        if (run.error?.includes("\n")) console.log(indent(run.error.split("\n").slice(1).join("\n"), 8));
        for (const note of run.result?.notes ?? []) console.log(`      ! ${note}`);
        const busy = busyMachineWarning(run);
        if (busy) console.log(`      ! ${busy}`);
        roundRuns[i]!.push(run);
      }
    }
  } finally {
    await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.stop() : undefined)));
  }
  const runs = pickRound(roundRuns, scenario.targets);
  if (rounds > 1) for (const run of runs) console.log(`    picked ${summarize(run)}`);
  return { scenario, runs, heraldSource };
}

/**
 * Every target's runs of every round as one run per target, all from one round: the round
 * whose Herald ÷ reference requests/s is the median of the rounds' (paired, so both figures
 * come from the same few seconds of the machine), or for a lone target its median round. Every
 * round's requests/s is listed; a target with a failed round is reported by that round.
 */
function pickRound(roundRuns: readonly TargetRun[][], targets: readonly TargetName[]): TargetRun[] {
  const rps = (run: TargetRun) => (run.result as RestResult).requestsPerSecond;
  if (roundRuns.every((runs) => runs.length === 1)) return roundRuns.map((runs) => runs[0]!);
  const failed = roundRuns.map((runs) => runs.find((run) => run.result?.kind !== "rest"));
  const herald = targets.indexOf("herald");
  const reference = targets.findIndex((name) => name !== "herald");
  const median = (values: number[]) => values.slice().sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
  let round: (target: number) => number;
  if (herald >= 0 && reference >= 0 && !failed[herald] && !failed[reference]) {
    const ratios = roundRuns[herald]!.map((run, i) => rps(run) / rps(roundRuns[reference]![i]!));
    const chosen = ratios.indexOf(median(ratios));
    round = () => chosen;
  } else {
    round = (target) => roundRuns[target]!.findIndex((run) => rps(run) === median(roundRuns[target]!.map(rps)));
  }
  return roundRuns.map((runs, target) => {
    if (failed[target]) return failed[target]!;
    const picked = runs[round(target)]!;
    const seconds = runs.reduce((sum, run) => sum + run.seconds, 0);
    return { ...picked, seconds, result: { ...(picked.result as RestResult), roundsRequestsPerSecond: runs.map(rps) } };
  });
}

function queueJob(scenario: QueueScenario, target: RunningTarget, options: Options): QueueJob {
  return {
    kind: "queue",
    graphqlUrl: `${target.urls[0]}/graphql`,
    secret: DEV_APP.secret,
    publish: target.publish,
    serverPids: target.pids,
    channel: `bench-${scenario.name}`,
    queues: scenario.queues,
    messages: scenario.messages,
    publishRate: scenario.publishRate,
    pullBatch: scenario.pullBatch,
    consumers: scenario.consumers,
    drainTimeoutMs: options.quick ? 30_000 : 120_000,
    redisUrl: options.redisUrl,
  };
}

async function runTarget(scenario: Scenario, target: RunningTarget, options: Options): Promise<Pick<TargetRun, "result" | "unavailable">> {
  if (scenario.kind === "fanout") return { result: await runGenerator(fanoutJob(scenario, target, options), options) };
  if (scenario.kind === "queue") return { result: await runGenerator(queueJob(scenario, target, options), options) };
  if (target.name === "herald") {
    const unavailable = await restRouteProblem(restPathOf(scenario, target));
    if (unavailable) return { unavailable };
  }
  return { result: await runGenerator(restJob(scenario, target, options), options) };
}

const indent = (text: string, spaces: number) =>
  text
    .split("\n")
    .map((line) => " ".repeat(spaces) + line)
    .join("\n");

function describe(scenario: Scenario): string {
  if (scenario.kind === "rest") {
    const rounds = scenario.rounds > 1 ? `, ${scenario.rounds} rounds per server interleaved with the other's, the round with the median Herald ÷ bare ratio` : "";
    return `${scenario.description}; ${scenario.concurrency} connections for ${scenario.durationMs / 1000} s${rounds}`;
  }
  if (scenario.kind === "queue") {
    return `${scenario.description}; ${scenario.messages.toLocaleString("en-US")} publishes per phase at ${scenario.publishRate}/s, ${scenario.consumers} pulls in flight`;
  }
  const shape = `${scenario.subscribers.toLocaleString("en-US")} subscribers over ${scenario.channels} channel(s)` +
    (scenario.instances > 1 ? ` on ${scenario.instances} instances` : "") +
    (scenario.slowSubscribers ? ` (${scenario.slowSubscribers} of them slow)` : "");
  if (scenario.messages === 0) return `${scenario.description}; ${shape}`;
  return (
    `${scenario.description}; ${shape}, ${scenario.messages.toLocaleString("en-US")} publishes × ${scenario.channelsPerPublish} channel(s) at ` +
    `${scenario.publishRate}/s (${Math.round(offeredDeliveryRate(scenario)).toLocaleString("en-US")} deliveries/s offered)`
  );
}

async function machineInfo(redis: Redis) {
  const redisVersion = /^redis_version:(.+)$/m.exec(await redis.info("server"))?.[1]?.trim();
  const git = (args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    } catch {
      return undefined;
    }
  };
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis: redisVersion,
    commit: git(["rev-parse", "--short", "HEAD"]),
    /** Herald's own code (src/) differs from the commit. */
    uncommittedChanges: (git(["status", "--porcelain", "--", "src"]) ?? "") !== "",
  };
}

/**
 * A hash of Herald's source (`src/`), taken as each scenario starts its servers: others may edit
 * src/ during a run, and scenarios that measured different code must say so.
 */
function heraldSourceFingerprint(): string {
  const hash = createHash("sha256");
  const files = readdirSync(`${REPO_ROOT}src`, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).sort();
  for (const file of files) hash.update(file).update(readFileSync(`${REPO_ROOT}src/${file}`));
  return hash.digest("hex").slice(0, 12);
}

/** Removes every Redis key this run created (only under its own unique prefix). */
async function removeRunKeys(redis: Redis, runPrefix: string) {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${runPrefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
}

function sourceChangeWarnings(scenarioRuns: readonly ScenarioRun[]): string[] {
  const versions = new Set(scenarioRuns.map((s) => s.heraldSource));
  if (versions.size <= 1) return [];
  const list = scenarioRuns.map((s) => `${s.scenario.name} ${s.heraldSource}`).join(", ");
  return [`Herald's source (src/) changed during the run, so scenarios measured different code: ${list}`];
}

async function main() {
  const options = parseOptions();
  const runPrefix = `herald-bench:${randomBytes(4).toString("hex")}:`;
  const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  killChildrenOnExit(() => removeRunKeys(redis, runPrefix));
  if (options.nodeArgs.length > 0) {
    mkdirSync(`${REPO_ROOT}${PROFILE_DIR_NAME}`, { recursive: true });
    writeFileSync(`${REPO_ROOT}${PROFILE_DIR_NAME}/.gitignore`, "*\n");
  }
  if (options.scenarios.length > 0) checkFileDescriptorLimit(options.scenarios);
  console.log("Building (npm run build): servers run compiled, as `npm start` runs Herald");
  execFileSync("npm", ["run", "-s", "build"], { cwd: REPO_ROOT, stdio: "inherit" });
  if (options.scenarios.some((s) => s.targets.includes("centrifuge"))) skipCentrifugeUnlessBuilt(options);

  try {
    await redis.connect();
  } catch (error) {
    console.error(`bench: cannot reach Redis at ${options.redisUrl} (${(error as Error).message}); set REDIS_URL`);
    process.exit(1);
  }
  const machine = await machineInfo(redis);
  console.log(
    `Herald benchmark (${options.quick ? "quick" : "full"}): ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, ` +
      `redis ${machine.redis}, Redis prefix ${runPrefix}`,
  );

  const startedAt = new Date();
  const scenarioRuns: ScenarioRun[] = [];
  let webhookRun: Awaited<ReturnType<typeof runWebhookScenario>> | undefined;
  let clusterRun: Awaited<ReturnType<typeof runClusterScenario>> | undefined;
  try {
    for (const scenario of options.scenarios) {
      console.log(`\n▸ ${scenario.name}: ${describe(scenario)}`);
      scenarioRuns.push(await runScenario(scenario, options, runPrefix));
    }
    if (options.webhook) {
      const w = options.webhook;
      console.log(
        `\n▸ webhook: ${w.description}; ${w.watches} watches, ${w.messages} publishes at ${w.publishRate}/s ` +
          `(${(w.watches * w.publishRate).toLocaleString("en-US")} notifications/s offered), then again with ${w.failingWatches} receivers answering 500`,
      );
      webhookRun = await runWebhookScenario(w, { redisUrl: options.redisUrl, redisPrefix: `${runPrefix}webhook:`, nodeArgs: options.nodeArgs });
      for (const phase of webhookRun.phases) console.log(`    ${formatWebhookPhase(phase)}`);
    }
    if (options.cluster) {
      const c = options.cluster;
      console.log(
        `\n▸ cluster: ${c.description}; ${c.channels.toLocaleString("en-US")} channels × ${c.subscribersPerChannel} subscriber(s), ` +
          `${c.messages.toLocaleString("en-US")} publishes at ${c.publishRate}/s, alternating between the instances`,
      );
      clusterRun = await runClusterScenario(c, { redisUrl: options.redisUrl, redisPrefix: `${runPrefix}cluster:`, nodeArgs: options.nodeArgs });
      for (const phase of clusterRun?.phases ?? []) console.log(`    ${formatClusterPhase(phase)}`);
      const [one, sharded] = clusterRun?.phases ?? [];
      if (one && sharded) {
        console.log(
          `    cluster ÷ one Redis: ${(sharded.deliveriesPerServerCpuSecond / one.deliveriesPerServerCpuSecond).toFixed(2)}× deliveries per server CPU-s, ` +
            `${(sharded.redisCpuMicrosPerMessage / one.redisCpuMicrosPerMessage).toFixed(2)}× Redis CPU per message (all masters together)`,
        );
      }
    }
  } finally {
    await stopAll();
    await removeRunKeys(redis, runPrefix).catch((error) => console.error(`bench: could not remove Redis keys: ${error.message}`));
    redis.disconnect();
  }

  const rows = buildRows(scenarioRuns);
  const checks = checkTargets(scenarioRuns);
  const centrifugeChecks = checkCentrifugeTargets(scenarioRuns);
  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  console.log(`\n${textTable(rows)}\n\nTargets (issue 6):\n${formatChecks(checks, false)}\n`);
  console.log(`Targets against Centrifuge (issue 21):\n${formatChecks(centrifugeChecks, false)}\n`);
  console.log(`Ratios are Herald ÷ reference (REST: the bare handler in the limit column); finished in ${seconds.toFixed(0)} s.`);
  const warnings = [...sourceChangeWarnings(scenarioRuns), ...busyMachineWarnings(scenarioRuns)];
  if (warnings.length > 0) console.log(`\n⚠ Read these figures with care:\n${warnings.map((w) => `  ${w}`).join("\n")}`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  if (options.nodeArgs.length > 0) console.log(`CPU profiles in ${PROFILE_DIR_NAME}/ (open them in Chrome DevTools or speedscope)`);
  const report = {
    generatedAt: startedAt.toISOString(),
    mode: options.quick ? "quick" : "full",
    durationSeconds: seconds,
    machine,
    scenarios: scenarioRuns.map(({ scenario, runs, heraldSource }) => ({ ...scenario, heraldSource, runs })),
    table: rows,
    targets: checks,
    centrifugeTargets: centrifugeChecks,
    warnings,
    ...(webhookRun ? { webhook: webhookRun } : {}),
    ...(clusterRun ? { cluster: clusterRun } : {}),
  };
  // A smoke or partial run must not replace the figures the README quotes.
  const name = options.quick ? "latest-quick" : options.partial ? "latest-partial" : "latest";
  writeFileSync(`${RESULTS_DIR}/${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
  const webhookMd = webhookRun ? `\n**webhook**:\n${webhookRun.phases.map((p) => `- ${formatWebhookPhase(p)}`).join("\n")}\n` : "";
  const clusterMd = clusterRun ? `\n**cluster**:\n${clusterRun.phases.map((p) => `- ${formatClusterPhase(p)}`).join("\n")}\n` : "";
  writeFileSync(`${RESULTS_DIR}/${name}.md`, markdown(scenarioRuns, rows, [checks, centrifugeChecks], warnings, machine, options, startedAt) + webhookMd + clusterMd);
  writeFileSync(`${RESULTS_DIR}/${name}.svg`, headlineChart(headlineRatios(scenarioRuns), chartCaption(machine, options, startedAt)));
  console.log(`Wrote bench/results/${name}.json, ${name}.md and ${name}.svg`);
}

function markdown(
  scenarioRuns: ScenarioRun[],
  rows: ReturnType<typeof buildRows>,
  [checks, centrifugeChecks]: [ReturnType<typeof checkTargets>, ReturnType<typeof checkCentrifugeTargets>],
  warnings: string[],
  machine: Awaited<ReturnType<typeof machineInfo>>,
  options: Options,
  startedAt: Date,
): string {
  const scenarioList = scenarioRuns.map(({ scenario }) => `- **${scenario.name}**: ${describe(scenario)}`).join("\n");
  const SOURCES: Partial<Record<TargetName, string>> = {
    limit: "limit-server.ts",
    peer: "peer-server.ts",
    "rest-baseline": "rest-baseline.ts",
    centrifuge: "centrifuge/main.go",
  };
  const references = Object.entries(SOURCES)
    .map(([name, source]) => `${TARGET_LABELS[name as TargetName]} (\`bench/${source}\`)`)
    .join(", ");
  const warningList = warnings.length === 0 ? "" : `\n> **Read these figures with care:**\n${warnings.map((w) => `> - ${w}`).join("\n")}\n`;
  return `<!-- generated by \`npm run bench${options.quick ? " -- --quick" : ""}\` on ${startedAt.toISOString()}; do not edit by hand -->
${markdownTable(rows)}

${formatChecks(checks, true)}

${formatChecks(centrifugeChecks, true, 21)}
${warningList}
Measured on ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, Redis ${machine.redis}` +
    `${machine.commit ? `, commit ${machine.commit}${machine.uncommittedChanges ? " (src/ with uncommitted changes)" : ""}` : ""}` +
    `${options.quick ? " — **quick run: small sizes, not comparable to the targets**" : ""}. ` +
    `References: ${references}. Ratios are Herald ÷ reference; ★ marks each scenario's headline figure. ` +
    `Reproduce with \`npm run bench\` (see \`bench/README.md\`).

${scenarioList}
`;
}

main().catch((error) => {
  console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
}).finally(() => {
  // The exit hook kills whatever is left; keep-alive sockets must not hold the runner open.
  process.exit();
});
