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
  /** Extra collectors of other transports (GRIP…), called at every scrape. */
  more?: ((registry: Registry) => void) | undefined;
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

  new Gauge({
    name: "herald_connections",
    help: "Open client connections on this instance, by app and transport (ws, sse, grip).",
    labelNames: ["app", "transport"],
    registers: [registry],
    collect() {
      this.reset();
      for (const app of core.apps.all) this.set({ app: app.id, transport: "ws" }, 0);
      for (const s of core.connectionStats()) this.set({ app: s.app, transport: s.transport }, s.connections);
    },
  });
  new Gauge({
    name: "herald_subscriptions",
    help: "Channel subscriptions open on this instance, by app and transport.",
    labelNames: ["app", "transport"],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of core.connectionStats()) this.set({ app: s.app, transport: s.transport }, s.subscriptions);
    },
  });
  const counterOf = <L extends string>(name: string, help: string, labelNames: L[], read: () => { labels: Record<L, string>; value: number }[]) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const { labels, value } of read()) this.inc(labels, value);
      },
    });
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
  new Gauge({
    name: "herald_process_resident_memory_bytes",
    help: "Resident set size of this process (also process_resident_memory_bytes).",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  const latency = new Histogram({
    name: "herald_publish_to_delivery_seconds",
    help: "Seconds from a message's publish to its subscriber's queue on this instance, by transport; one delivery in 64 is sampled.",
    labelNames: ["transport"],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  core.stats.onLatencySample = (transport, seconds) => latency.observe({ transport }, seconds);
  sources.more?.(registry);

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
  };
}
