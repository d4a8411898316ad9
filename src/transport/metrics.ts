import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { HeraldCore } from "../core/herald.ts";
import type { Engine } from "../engine/types.ts";

/**
 * `/metrics`, Prometheus text, per instance (sum over instances for the service). Built on
 * prom-client's registry: its default process and Node.js series, and Herald's own, most of
 * them read from plain counters at scrape time (the core counts a delivery with one increment;
 * nothing of prom-client runs on the delivery path). Each series is listed in the README.
 */
export interface MetricsSources {
  core: HeraldCore;
  engine: Engine;
  /** The graphql-ws transport's slow-consumer closes. */
  slowConsumerDisconnects(): number;
  /** Backend POSTs the direct lane executed, or read and handed to Yoga. */
  graphqlHttpCounts(): { direct: number; handedToYoga: number };
  /** Series of other parts (GRIP, Pusher WebSocket, webhooks), read at every scrape. */
  extra?: readonly ExtraSeries[] | undefined;
}

/** A series another part of Herald counts itself: its values, read when `/metrics` is scraped. */
export interface ExtraSeries {
  readonly type: "counter" | "gauge";
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
  read(): { labels: Record<string, string>; value: number }[];
}

export interface HeraldMetrics {
  readonly registry: Registry;
  readonly contentType: string;
  render(): Promise<string>;
}

/** Buckets of the publish-to-delivery histogram, in seconds: 1 ms to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(sources: MetricsSources): HeraldMetrics {
  const { core, engine } = sources;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  /** A series read from plain numbers at scrape time (reset first: labels that went away go too). */
  const seriesOf = <L extends string>(type: "counter" | "gauge", name: string, help: string, labelNames: readonly L[], read: () => { labels: Record<L, string>; value: number }[]) => {
    const collect = function (this: Counter<L> | Gauge<L>) {
      this.reset();
      for (const { labels, value } of read()) (this instanceof Counter ? this.inc(labels, value) : this.set(labels, value));
    };
    const options = { name, help, labelNames: [...labelNames], registers: [registry] };
    return type === "counter" ? new Counter({ ...options, collect }) : new Gauge({ ...options, collect });
  };
  const counterOf = <L extends string>(name: string, help: string, labelNames: L[], read: () => { labels: Record<L, string>; value: number }[]) =>
    seriesOf("counter", name, help, labelNames, read);
  const connections = () => {
    const open = core.connectionStats();
    // Every app shows, idle ones at 0.
    for (const app of core.apps.all) if (!open.some((s) => s.app === app.id)) open.push({ app: app.id, transport: "ws", connections: 0, subscriptions: 0 });
    return open;
  };
  seriesOf("gauge", "herald_connections", "Open client connections on this instance, by app and transport (ws, sse, grip, pusher).", ["app", "transport"], () =>
    connections().map((s) => ({ labels: { app: s.app, transport: s.transport }, value: s.connections })),
  );
  seriesOf("gauge", "herald_subscriptions", "Channel subscriptions open on this instance, by app and transport.", ["app", "transport"], () =>
    core.connectionStats().map((s) => ({ labels: { app: s.app, transport: s.transport }, value: s.subscriptions })),
  );
  counterOf("herald_publishes_total", "Messages published through this instance, by app and surface (graphql, pusher, backendless, grip, zato, schedule); duplicates not counted.", ["app", "surface"], () =>
    core.stats.publishes(),
  );
  counterOf("herald_deliveries_total", "Messages delivered to subscriptions on this instance, by app and transport.", ["app", "transport"], () => core.stats.deliveries());
  counterOf("herald_errors_total", "Errors answered to clients (surface graphql or rest) or met in background work (engine), by code.", ["surface", "code"], () =>
    core.stats.errors(),
  );
  counterOf("herald_slow_consumer_disconnects_total", "WebSockets closed with 4032 because they read too slowly.", [], () => [
    { labels: {}, value: sources.slowConsumerDisconnects() },
  ]);
  counterOf("herald_graphql_http_requests_total", "GraphQL POSTs from backends, by who executed them: the direct lane, or Yoga after the lane read them.", ["path"], () => {
    const counts = sources.graphqlHttpCounts();
    return [
      { labels: { path: "direct" }, value: counts.direct },
      { labels: { path: "yoga" }, value: counts.handedToYoga },
    ];
  });
  counterOf("herald_redis_reconnects_total", "Times the connection to Redis came back after it dropped (Redis engine).", [], () => [
    { labels: {}, value: engine.stats?.reconnects ?? 0 },
  ]);
  seriesOf("gauge", "herald_process_resident_memory_bytes", "Resident set size of this process (also process_resident_memory_bytes).", [], () => [
    { labels: {}, value: process.memoryUsage.rss() },
  ]);
  const latency = new Histogram({
    name: "herald_publish_to_delivery_seconds",
    help: "Seconds from a message's publish to its subscriber's queue on this instance, by transport; one delivery in 64 is sampled.",
    labelNames: ["transport"],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  core.stats.onLatencySample = (transport, seconds) => latency.observe({ transport }, seconds);
  for (const series of sources.extra ?? []) seriesOf(series.type, series.name, series.help, series.labelNames ?? [], series.read);

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
  };
}
