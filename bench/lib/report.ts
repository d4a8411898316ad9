import type { CpuFigures, FanoutResult, LoadResult, QueueResult, RestResult } from "./jobs.ts";
import { offeredDeliveryRate, type Scenario } from "./scenarios.ts";
import { TARGET_LABELS, type TargetName } from "./targets.ts";

/** One target's outcome in one scenario: a result, or why there is none. */
export interface TargetRun {
  readonly target: TargetName;
  readonly result?: LoadResult;
  /** The target does not offer what the scenario needs (e.g. a route not built yet): "n/a". */
  readonly unavailable?: string;
  readonly error?: string;
  readonly seconds: number;
}

export interface ScenarioRun {
  readonly scenario: Scenario;
  readonly runs: readonly TargetRun[];
  /** Hash of Herald's src/ when the scenario started its servers. */
  readonly heraldSource: string;
}

interface Metric {
  readonly label: string;
  /** Whether a ratio above 1 is good for Herald; `none`: no ratio shown. */
  readonly better: "higher" | "lower" | "none";
  readonly headline?: boolean;
  value(result: LoadResult): number | undefined;
}

const delivery = (r: LoadResult) => (r.kind === "fanout" ? r.delivery : undefined);
const fanout = (r: LoadResult): FanoutResult | undefined => (r.kind === "fanout" ? r : undefined);
const rest = (r: LoadResult): RestResult | undefined => (r.kind === "rest" ? r : undefined);

const deliveryMetrics = (focus: "throughput" | "latency"): Metric[] => [
  { label: "deliveries / server CPU-s", better: "higher", headline: focus === "throughput", value: (r) => delivery(r)?.deliveriesPerCpuSecond },
  { label: "deliveries / s", better: "higher", value: (r) => delivery(r)?.deliveriesPerSecond },
  { label: "latency p50 ms", better: "lower", value: (r) => delivery(r)?.latencyMs.p50 },
  { label: "latency p99 ms", better: "lower", headline: focus === "latency", value: (r) => delivery(r)?.latencyMs.p99 },
  { label: "latency max ms", better: "lower", value: (r) => delivery(r)?.latencyMs.max },
  { label: "lost", better: "none", value: (r) => delivery(r)?.lost },
  { label: "server CPU-s (generator CPU-s)", better: "none", value: (r) => delivery(r)?.cpu.serverCpuSeconds },
];

const IDLE_METRICS: Metric[] = [
  { label: "RSS KB / connection", better: "lower", headline: true, value: (r) => fanout(r)?.memory.perConnectionKb },
  { label: "connect+subscribe ms p50", better: "lower", value: (r) => fanout(r)?.connect.perSubscriberMs.p50 },
  { label: "connect+subscribe ms p99", better: "lower", value: (r) => fanout(r)?.connect.perSubscriberMs.p99 },
  { label: "all subscribed in s", better: "lower", value: (r) => (r.kind === "fanout" ? r.connect.totalMs / 1000 : undefined) },
];

const REST_METRICS: Metric[] = [
  { label: "requests / s", better: "higher", headline: true, value: (r) => rest(r)?.requestsPerSecond },
  { label: "requests / server CPU-s", better: "higher", value: (r) => rest(r)?.requestsPerCpuSecond },
  { label: "latency p99 ms", better: "lower", value: (r) => rest(r)?.latencyMs.p99 },
];

const queue = (r: LoadResult): QueueResult | undefined => (r.kind === "queue" ? r : undefined);

/** Pull queues: what queues add to a publish (against a plain one in the same run), pulling, and Redis memory. */
const QUEUE_METRICS: Metric[] = [
  { label: "publish server CPU-µs, 100 queues", better: "lower", headline: true, value: (r) => queue(r)?.queued.serverCpuMicros },
  { label: "publish server CPU-µs, no queue", better: "lower", value: (r) => queue(r)?.plain.serverCpuMicros },
  { label: "publish Redis CPU-µs, 100 queues", better: "lower", value: (r) => queue(r)?.queued.redisCpuMicros },
  { label: "publish Redis CPU-µs, no queue", better: "lower", value: (r) => queue(r)?.plain.redisCpuMicros },
  { label: "pulled messages / s", better: "higher", value: (r) => queue(r)?.drain.perSecond },
  { label: "pulled messages / server CPU-s", better: "higher", value: (r) => queue(r) && 1e6 / queue(r)!.drain.serverCpuMicros },
  { label: "Redis bytes / queued message", better: "lower", value: (r) => queue(r)?.redisBytesPerQueuedMessage },
  { label: "publishes / s while pulling", better: "higher", value: (r) => queue(r)?.steady.perSecond },
  { label: "lost, duplicated", better: "none", value: (r) => queue(r) && queue(r)!.lost + queue(r)!.duplicates },
];

const backpressure = (r: LoadResult) => delivery(r)?.backpressure;

/** Slow consumers: the server's memory (the headline), who was dropped, and everyone else's latency. */
const BACKPRESSURE_METRICS: Metric[] = [
  {
    label: "server RSS growth MB",
    better: "lower",
    headline: true,
    value: (r) => {
      const b = backpressure(r);
      return b && (b.rssPeakKb - b.rssStartKb) / 1024;
    },
  },
  { label: "slow subscribers dropped", better: "none", value: (r) => backpressure(r)?.dropped },
  { label: "others' latency p99 ms, all reading", better: "lower", value: (r) => backpressure(r)?.latencyAllReadingMs.p99 },
  { label: "others' latency p99 ms, slow stopped", better: "lower", value: (r) => backpressure(r)?.latencySlowStoppedMs.p99 },
  { label: "others' latency max ms, slow stopped", better: "lower", value: (r) => backpressure(r)?.latencySlowStoppedMs.max },
  { label: "lost (of the others)", better: "none", value: (r) => delivery(r)?.lost },
  { label: "server CPU-s (generator CPU-s)", better: "none", value: (r) => delivery(r)?.cpu.serverCpuSeconds },
];

function metricsOf(scenario: Scenario): Metric[] {
  if (scenario.kind === "rest") return REST_METRICS;
  if (scenario.kind === "queue") return QUEUE_METRICS;
  if (scenario.focus === "backpressure") return BACKPRESSURE_METRICS;
  return scenario.focus === "memory" ? IDLE_METRICS : deliveryMetrics(scenario.focus);
}

/** Shown after a metric's label: which way is better. */
const BETTER_ARROWS: Record<Metric["better"], string> = { higher: " ↑", lower: " ↓", none: "" };

/** The reference Herald is divided by in the "limit" column: the bare handler for REST. */
const referenceOf = (scenario: Scenario): TargetName => scenario.reference ?? (scenario.kind === "rest" ? "rest-baseline" : "limit");

export interface Row {
  readonly scenario: string;
  readonly metric: string;
  readonly headline: boolean;
  readonly cells: readonly string[];
}

export function formatNumber(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return "∞";
  const abs = Math.abs(value);
  if (abs >= 10_000) return `${(value / 1000).toFixed(abs >= 100_000 ? 0 : 1)}k`;
  if (abs >= 100 || Number.isInteger(value)) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

const formatRatio = (value: number | undefined) =>
  value === undefined || !Number.isFinite(value) ? "–" : `${value.toFixed(value >= 10 ? 1 : 2)}×`;

function cellOf(run: TargetRun | undefined, metric: Metric): string {
  if (!run) return "";
  if (run.unavailable) return "n/a";
  if (!run.result) return "error";
  const text = formatNumber(metric.value(run.result));
  if (metric.label.includes("generator CPU")) {
    const generator = delivery(run.result)?.cpu.generatorCpuSeconds;
    return `${text} (${formatNumber(generator)})`;
  }
  return text;
}

/** Herald's value over a reference's, when both exist and the ratio means something. */
function ratioOf(scenarioRun: ScenarioRun, reference: TargetName, metric: Metric): number | undefined {
  if (metric.better === "none") return undefined;
  const value = (target: TargetName) => {
    const result = scenarioRun.runs.find((r) => r.target === target)?.result;
    return result ? metric.value(result) : undefined;
  };
  const herald = value("herald");
  const other = value(reference);
  return herald === undefined || other === undefined || other === 0 ? undefined : herald / other;
}

/** A scenario's headline figure as ratios: Herald ÷ the limit (or bare handler), ÷ the peer, ÷ Centrifuge. */
export interface HeadlineRatio {
  readonly scenario: string;
  readonly metric: string;
  readonly better: "higher" | "lower";
  readonly reference: string;
  readonly vsReference: number | undefined;
  readonly vsPeer: number | undefined;
  /** Absent in results written before the Centrifuge target existed. */
  readonly vsCentrifuge?: number | undefined;
}

/** Herald ÷ `target` when the scenario ran it. */
const ratioIfRun = (scenarioRun: ScenarioRun, target: TargetName, metric: Metric) =>
  scenarioRun.scenario.targets.includes(target) ? ratioOf(scenarioRun, target, metric) : undefined;

export function headlineRatios(scenarioRuns: readonly ScenarioRun[]): HeadlineRatio[] {
  return scenarioRuns.flatMap((scenarioRun) => {
    const { scenario } = scenarioRun;
    const metric = metricsOf(scenario).find((m) => m.headline);
    if (!metric || metric.better === "none") return [];
    const reference = referenceOf(scenario);
    return [
      {
        scenario: scenario.name,
        metric: metric.label,
        better: metric.better,
        reference: TARGET_LABELS[reference],
        vsReference: ratioIfRun(scenarioRun, reference, metric),
        vsPeer: ratioIfRun(scenarioRun, "peer", metric),
        vsCentrifuge: ratioIfRun(scenarioRun, "centrifuge", metric),
      },
    ];
  });
}

export function buildRows(scenarioRuns: readonly ScenarioRun[]): Row[] {
  const rows: Row[] = [];
  for (const scenarioRun of scenarioRuns) {
    const { scenario } = scenarioRun;
    const runOf = (target: TargetName) => scenarioRun.runs.find((r) => r.target === target);
    // The columns after Herald's: its reference (limit, bare handler), the peer, Centrifuge; blank where the scenario did not run one.
    const others = [referenceOf(scenario), "peer", "centrifuge"] as const;
    for (const metric of metricsOf(scenario)) {
      rows.push({
        scenario: scenario.name,
        metric: `${metric.headline ? "★ " : ""}${metric.label}${BETTER_ARROWS[metric.better]}`,
        headline: metric.headline ?? false,
        cells: [
          cellOf(runOf("herald"), metric),
          ...others.map((t) => (scenario.targets.includes(t) ? cellOf(runOf(t), metric) : "")),
          ...others.map((t) => (scenario.targets.includes(t) ? formatRatio(ratioOf(scenarioRun, t, metric)) : "")),
        ],
      });
    }
  }
  return rows;
}

const HEADER = ["scenario", "metric", "Herald", "limit", "peer", "Centrifuge", "Herald÷limit", "Herald÷peer", "Herald÷Centrifuge"];

export function textTable(rows: readonly Row[]): string {
  const lines = [HEADER, ...rows.map((r) => [r.scenario, r.metric, ...r.cells])];
  const widths = HEADER.map((_, c) => Math.max(...lines.map((line) => line[c]!.length)));
  const render = (line: readonly string[]) => line.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  const out = [render(HEADER), widths.map((w) => "-".repeat(w)).join("  ")];
  let previous = "";
  for (const row of rows) {
    if (previous && row.scenario !== previous) out.push("");
    out.push(render([row.scenario === previous ? "" : row.scenario, row.metric, ...row.cells]));
    previous = row.scenario;
  }
  return out.join("\n");
}

export function markdownTable(rows: readonly Row[]): string {
  const out = [`| ${HEADER.join(" | ")} |`, `|${HEADER.map((_, c) => (c < 2 ? "---" : "---:")).join("|")}|`];
  let previous = "";
  for (const row of rows) {
    const metric = row.headline ? `**${row.metric}**` : row.metric;
    const cells = row.headline ? row.cells.map((c) => (c ? `**${c}**` : c)) : row.cells;
    out.push(`| ${[row.scenario === previous ? "" : row.scenario, metric, ...cells].join(" | ")} |`);
    previous = row.scenario;
  }
  return out.join("\n");
}

/** Issue 6's targets, checked against this run. */
export interface TargetCheck {
  readonly goal: string;
  /** undefined: the run has no figure for it (scenario skipped, n/a, or failed). */
  readonly met: boolean | undefined;
  readonly actual: string;
}

const PER_CPU_SECOND = deliveryMetrics("throughput")[0]!;
const P99 = deliveryMetrics("latency").find((m) => m.label === "latency p99 ms")!;

/** Herald ÷ `reference` in the scenario `name` of the run, if both ran. */
function ratioIn(scenarioRuns: readonly ScenarioRun[], name: string, metric: Metric, reference: TargetName): number | undefined {
  const run = scenarioRuns.find((s) => s.scenario.name === name);
  return run ? ratioOf(run, reference, metric) : undefined;
}

const atLeast = (value: number | undefined, goal: number): Omit<TargetCheck, "goal"> =>
  value === undefined ? { met: undefined, actual: "–" } : { met: value >= goal, actual: `${value.toFixed(2)}×` };

export function checkTargets(scenarioRuns: readonly ScenarioRun[]): TargetCheck[] {
  const find = (name: string) => scenarioRuns.find((s) => s.scenario.name === name);
  const resultOf = (name: string, target: TargetName) => find(name)?.runs.find((r) => r.target === target)?.result;
  const ratio = (name: string, metric: Metric, reference: TargetName) => ratioIn(scenarioRuns, name, metric, reference);

  const deliveryOf = (name: string, target: TargetName) => {
    const result = resultOf(name, target);
    return result && delivery(result);
  };
  const idle = resultOf("idle", "herald");
  const idleKb = idle && fanout(idle)?.memory.perConnectionKb;
  return [
    { goal: "broadcast: deliveries per server CPU-second ≥ 0.7 × limit", ...atLeast(ratio("broadcast", PER_CPU_SECOND, "limit"), 0.7) },
    { goal: "spread: deliveries per server CPU-second ≥ 0.7 × limit", ...atLeast(ratio("spread", PER_CPU_SECOND, "limit"), 0.7) },
    broadcastLatencyCheck(find("broadcast")?.scenario, deliveryOf("broadcast", "herald"), deliveryOf("broadcast", "limit")),
    {
      goal: "idle: ≤ 12 KB RSS per connection",
      met: idleKb === undefined || Number.isNaN(idleKb) ? undefined : idleKb <= 12,
      actual: idleKb === undefined ? "–" : `${formatNumber(idleKb)} KB`,
    },
    { goal: "REST publish: requests/s ≥ 0.8 × bare handler", ...atLeast(ratio("rest", REST_METRICS[0]!, "rest-baseline"), 0.8) },
    {
      goal: "grip-publish: deliveries per server CPU-second ≥ 0.9 × Herald's GraphQL publish",
      ...atLeast(ratio("grip-publish", PER_CPU_SECOND, "herald-graphql"), 0.9),
    },
  ];
}

/**
 * Issue 21's targets against Centrifuge in the same run: per server CPU-second at least as many
 * deliveries as Centrifuge in spread and spread-single on either engine, a broadcast p99 no
 * higher than its, and at most half its memory per idle connection.
 */
export function checkCentrifugeTargets(scenarioRuns: readonly ScenarioRun[]): TargetCheck[] {
  const find = (name: string) => scenarioRuns.find((s) => s.scenario.name === name);
  /** Herald's and Centrifuge's figures and their ratio, against a ceiling on the ratio. */
  const atMost = (name: string, metric: Metric, goal: number, unit: string): Omit<TargetCheck, "goal"> => {
    const run = find(name);
    const ratio = run && ratioOf(run, "centrifuge", metric);
    if (!run || ratio === undefined) return { met: undefined, actual: "–" };
    const value = (target: TargetName) => {
      const result = run.runs.find((r) => r.target === target)?.result;
      return formatNumber(result && metric.value(result));
    };
    return { met: ratio <= goal, actual: `${value("herald")} ${unit} vs ${value("centrifuge")} ${unit} (${ratio.toFixed(2)}×)` };
  };
  const perCpuSecond = ["spread", "spread-memory", "spread-single", "spread-single-memory"].map((name) => ({
    goal: `${name}: deliveries per server CPU-second ≥ 1.0 × Centrifuge`,
    ...atLeast(ratioIn(scenarioRuns, name, PER_CPU_SECOND, "centrifuge"), 1),
  }));
  return [
    ...perCpuSecond,
    { goal: "broadcast: latency p99 ≤ Centrifuge's", ...atMost("broadcast", P99, 1, "ms") },
    { goal: "idle: RSS per connection ≤ 0.5 × Centrifuge's", ...atMost("idle", IDLE_METRICS[0]!, 0.5, "KB") },
  ];
}

/**
 * The p99 target holds at 100k deliveries/s offered; smaller (quick) runs cannot tell. The limit
 * server's figures of the same run go alongside: on a machine where it cannot hold 50 ms at that
 * rate either, the target is out of any server's reach there.
 */
function broadcastLatencyCheck(scenario: Scenario | undefined, figures: FanoutResult["delivery"], limit: FanoutResult["delivery"]): TargetCheck {
  const goal = "broadcast at 100k deliveries/s: p99 ≤ 50 ms, nothing lost";
  if (!scenario || scenario.kind !== "fanout" || !figures) return { goal, met: undefined, actual: "–" };
  const at = (f: NonNullable<FanoutResult["delivery"]>) => `p99 ${formatNumber(f.latencyMs.p99)} ms, lost ${f.lost}, at ${formatNumber(f.deliveriesPerSecond)}/s`;
  const actual = limit ? `${at(figures)} (limit: ${at(limit)})` : at(figures);
  const offered = offeredDeliveryRate(scenario);
  if (offered < 100_000) return { goal, met: undefined, actual: `${actual} (only ${formatNumber(offered)}/s offered: not judged)` };
  return { goal, met: figures.latencyMs.p99 <= 50 && figures.lost === 0, actual };
}

/** The checks as lines (text) or a table (Markdown) headed `target (issue N)`. */
export function formatChecks(checks: readonly TargetCheck[], markdown: boolean, issue = 6): string {
  const mark = (met: boolean | undefined) => (met === undefined ? "–" : met ? "✓" : "✗");
  if (markdown) {
    return [`| target (issue ${issue}) | this run | met |`, "|---|---|:---:|", ...checks.map((c) => `| ${c.goal} | ${c.actual} | ${mark(c.met)} |`)].join("\n");
  }
  return checks.map((c) => `  ${mark(c.met)} ${c.goal}: ${c.actual}`).join("\n");
}

/** Other processes using more than this share of a core meanwhile make a measurement suspect. */
const BUSY_MACHINE_SHARE = 0.2;

/** A warning when the rest of the machine was busy during a run's measurement, else undefined. */
export function busyMachineWarning(run: TargetRun): string | undefined {
  const r = run.result;
  const cpu = r?.kind === "rest" ? r.cpu : r?.kind === "queue" ? r.queued.cpu : r?.delivery?.cpu;
  if (!cpu || cpu.otherCpuSeconds <= BUSY_MACHINE_SHARE * cpu.wallSeconds) return undefined;
  const share = Math.round((100 * cpu.otherCpuSeconds) / cpu.wallSeconds);
  return `other processes used ${cpu.otherCpuSeconds.toFixed(1)} CPU-s (${share} % of a core) during the measurement: figures are skewed, rerun on a quiet machine`;
}

/** Every busy-machine warning of the run, as "scenario / server: warning". */
export function busyMachineWarnings(scenarioRuns: readonly ScenarioRun[]): string[] {
  return scenarioRuns.flatMap(({ scenario, runs }) =>
    runs.flatMap((run) => {
      const warning = busyMachineWarning(run);
      return warning ? [`${scenario.name} / ${TARGET_LABELS[run.target]}: ${warning}`] : [];
    }),
  );
}

/** One line per target run, printed as the run goes. */
export function summarize(run: TargetRun): string {
  const label = TARGET_LABELS[run.target].padEnd(12);
  const took = `(${run.seconds.toFixed(1)} s)`;
  if (run.unavailable) return `${label} n/a: ${run.unavailable} ${took}`;
  if (!run.result) return `${label} error: ${run.error?.split("\n", 1)[0]} ${took}`;
  const r = run.result;
  if (r.kind === "rest") {
    const rounds = r.roundsRequestsPerSecond ? ` (rounds: ${r.roundsRequestsPerSecond.map(formatNumber).join(", ")} req/s)` : "";
    return `${label} ${formatNumber(r.requestsPerSecond)} req/s, ${formatNumber(r.requestsPerCpuSecond)} req/CPU-s, p99 ${formatNumber(r.latencyMs.p99)} ms, ${cpuText(r.cpu)} ${took}${rounds}`;
  }
  if (r.kind === "queue") {
    return (
      `${label} publish ${formatNumber(r.plain.serverCpuMicros)} → ${formatNumber(r.queued.serverCpuMicros)} server CPU-µs ` +
      `(Redis ${formatNumber(r.plain.redisCpuMicros)} → ${formatNumber(r.queued.redisCpuMicros)}) without → with ${r.queues} queues, ` +
      `${formatNumber(r.queued.perSecond)} publishes/s; pulled ${formatNumber(r.drain.perSecond)} messages/s in ${r.pullRequests} pulls; ` +
      `${formatNumber(r.redisBytesPerQueuedMessage)} Redis bytes/queued message; while pulling ${formatNumber(r.steady.perSecond)} publishes/s; ` +
      `lost ${r.lost}, duplicated ${r.duplicates}; ${cpuText(r.queued.cpu)} ${took}`
    );
  }
  if (!r.delivery) {
    return `${label} ${formatNumber(r.memory.perConnectionKb)} KB/connection, connect p50 ${formatNumber(r.connect.perSubscriberMs.p50)} ms, ${r.connect.failed} failed ${took}`;
  }
  const d = r.delivery;
  const b = d.backpressure;
  const slow = b
    ? `; slow ${b.slowSubscribers}: ${b.dropped} dropped ${JSON.stringify(b.closeCodes)}, RSS +${formatNumber((b.rssPeakKb - b.rssStartKb) / 1024)} MB, ` +
      `others' p99 ${formatNumber(b.latencyAllReadingMs.p99)} ms all reading → ${formatNumber(b.latencySlowStoppedMs.p99)} ms slow stopped`
    : "";
  return (
    `${label} ${formatNumber(d.deliveriesPerCpuSecond)} deliveries/CPU-s, ${formatNumber(d.deliveriesPerSecond)}/s ` +
    `(${formatNumber(d.achievedPublishRate)} publishes/s), ` +
    `p50 ${formatNumber(d.latencyMs.p50)} / p99 ${formatNumber(d.latencyMs.p99)} ms, lost ${d.lost}, ` +
    `${cpuText(d.cpu)}${slow} ${took}`
  );
}

/** Where the CPU of a measured window went: the server's (and its kernel share) against everyone else's. */
function cpuText(cpu: CpuFigures): string {
  return (
    `CPU s: server ${cpu.serverCpuSeconds.toFixed(1)} (kernel ${cpu.serverSystemCpuSeconds.toFixed(1)}), generator ${cpu.generatorCpuSeconds.toFixed(1)}, ` +
    `redis ${cpu.redisCpuSeconds.toFixed(1)}, other ${cpu.otherCpuSeconds.toFixed(1)}`
  );
}

/** A figure rounded to a whole number with thousands separators; "–" when there is none. */
export const wholeNumber = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
