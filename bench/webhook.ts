/**
 * The `webhook` scenario: watch channels on one channel, messages published at a steady rate,
 * every notification received by an HTTP receiver in this process. Reports notifications per
 * second and per server CPU-second, and the latency from publish to receipt; then the same with
 * some receivers answering 500, to show what a failing receiver costs the others.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { processCpuSeconds, sum } from "./lib/proc-stats.ts";
import { DEV_APP, startTarget } from "./lib/targets.ts";
import { wholeNumber } from "./lib/report.ts";

export interface WebhookScenario {
  readonly name: "webhook";
  readonly description: string;
  readonly watches: number;
  readonly messages: number;
  readonly publishRate: number;
  /** Watches whose receiver answers 500 in the second phase. */
  readonly failingWatches: number;
}

export function webhookScenario(quick: boolean): WebhookScenario {
  return {
    name: "webhook",
    description: "watch channels on one channel, each notified of every message (Redis engine, one instance)",
    watches: quick ? 20 : 100,
    messages: quick ? 100 : 1_000,
    publishRate: quick ? 50 : 200,
    failingWatches: quick ? 2 : 10,
  };
}

export interface WebhookPhase {
  readonly label: string;
  readonly expected: number;
  readonly received: number;
  readonly notificationsPerSecond: number;
  readonly serverCpuSeconds: number;
  readonly notificationsPerCpuSecond: number;
  readonly latencyMs: { p50: number; p99: number; max: number };
  readonly publishPerSecond: number;
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

export async function runWebhookScenario(scenario: WebhookScenario, options: { redisUrl: string; redisPrefix: string; nodeArgs: readonly string[] }) {
  /** Receipts of healthy watches' `exists` notifications: [publish time, receive time]. */
  let receipts: number[] = [];
  let lastReceipt = 0;
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const failing = req.url!.startsWith("/fail");
      res.writeHead(failing ? 500 : 200).end();
      if (failing || req.headers["x-goog-resource-state"] !== "exists") return;
      const { t } = JSON.parse(Buffer.concat(chunks).toString()) as { t: number };
      const now = performance.now();
      receipts.push(now - t);
      lastReceipt = now;
    });
  });
  receiver.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const target = await startTarget("herald", {
    instances: 1,
    redisUrl: options.redisUrl,
    redisPrefix: options.redisPrefix,
    subscribers: 0,
    nodeArgs: options.nodeArgs,
    heraldEnv: { HERALD_WEBHOOK_ALLOW_PRIVATE: "1", HERALD_WEBHOOK_MAX_CONCURRENCY_PER_ADDRESS: "64", HERALD_RATE_LIMIT_BACKEND_PER_APP: "0" },
  });
  const url = target.urls[0]!;
  const auth = { "content-type": "application/json", authorization: `Bearer ${DEV_APP.secret}` };
  const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: "POST", headers: auth, body: JSON.stringify(body) });

  async function phase(label: string, failing: number, messages = scenario.messages): Promise<WebhookPhase> {
    const channel = `bench-webhook-${label}`;
    const created: { id: string; resourceId: string }[] = [];
    for (let i = 0; i < scenario.watches; i++) {
      const path = i < failing ? `/fail/${i}` : `/ok/${i}`;
      const response = await post(`/channels/${channel}/watch`, { id: `${label}-${i}`, type: "web_hook", address: `${receiverUrl}${path}` });
      if (!response.ok) throw new Error(`watch: ${response.status} ${await response.text()}`);
      created.push((await response.json()) as { id: string; resourceId: string });
    }
    await new Promise((r) => setTimeout(r, 1_000)); // the syncs go out
    receipts = [];
    const healthy = scenario.watches - failing;
    const expected = healthy * messages;
    const cpuBefore = sum(target.pids.map(processCpuSeconds));
    const started = performance.now();
    const interval = 1000 / scenario.publishRate;
    const inFlight = new Set<Promise<unknown>>();
    for (let seq = 0; seq < messages; seq++) {
      const due = started + seq * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (inFlight.size >= 64) await Promise.race(inFlight);
      const request: Promise<unknown> = post("/graphql", {
        query: "mutation($input: PublishInput!) { publish(input: $input) { id } }",
        variables: { input: { channels: [channel], data: { t: performance.now(), seq } } },
      })
        .then((r) => r.text())
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
    await Promise.all(inFlight);
    const published = performance.now();
    // Drain: until every notification arrived, nothing arrived for 5 s, or 60 s passed.
    const drainUntil = published + 60_000;
    while (receipts.length < expected && performance.now() < drainUntil && performance.now() - Math.max(lastReceipt, published) < 5_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const cpu = sum(target.pids.map(processCpuSeconds)) - cpuBefore;
    const seconds = (Math.max(lastReceipt, published) - started) / 1000;
    const sorted = receipts.slice().sort((a, b) => a - b);
    for (const w of created) await post("/channels/stop", { id: w.id, resourceId: w.resourceId });
    return {
      label,
      expected,
      received: receipts.length,
      notificationsPerSecond: receipts.length / seconds,
      serverCpuSeconds: cpu,
      notificationsPerCpuSecond: receipts.length / cpu,
      latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN },
      publishPerSecond: messages / ((published - started) / 1000),
    };
  }

  try {
    // Not reported: JIT, sockets and scripts warm up (the first phase would carry that cost).
    await phase("warm-up", 0, Math.ceil(scenario.messages / 5));
    const phases = [await phase("all-ok", 0), await phase(`${scenario.failingWatches}-failing`, scenario.failingWatches)];
    return { scenario, phases };
  } finally {
    await target.stop();
    receiver.closeAllConnections();
    receiver.close();
  }
}

export function formatWebhookPhase(p: WebhookPhase): string {
  const n = wholeNumber;
  return (
    `${p.label}: ${n(p.received)}/${n(p.expected)} notifications to healthy receivers, ${n(p.notificationsPerSecond)}/s, ` +
    `${n(p.notificationsPerCpuSecond)} per server CPU-s (${p.serverCpuSeconds.toFixed(1)} CPU-s), ` +
    `latency p50 ${n(p.latencyMs.p50)} ms, p99 ${n(p.latencyMs.p99)} ms, max ${n(p.latencyMs.max)} ms; publish ${n(p.publishPerSecond)}/s`
  );
}
