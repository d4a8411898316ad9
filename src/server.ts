import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Config } from "./config.ts";
import { createHeraldCore, type HeraldCore } from "./core/herald.ts";
import { createEngine } from "./engine/index.ts";
import type { Engine } from "./engine/types.ts";
import { createLogger } from "./logger.ts";
import { useBackendlessApi } from "./rest/backendless/index.ts";
import { usePusherApi } from "./rest/pusher/index.ts";
import { useGripApi } from "./rest/grip/index.ts";
import { useZatoApi } from "./rest/zato/index.ts";
import { usePusherWebhooks } from "./rest/pusher/webhooks.ts";
import { useGoogleWatchApi } from "./rest/google/index.ts";
import { createRestRouter, type RestRoute } from "./rest/router.ts";
import { schema } from "./schema/index.ts";
import { maskGraphQLError } from "./transport/errors.ts";
import { rateLimiter } from "./core/rate-limit.ts";
import { consoleRoutes } from "./transport/console.ts";
import { createMetrics } from "./transport/metrics.ts";
import { createDocumentPolicy, documentLimitsOf } from "./transport/document-policy.ts";
import { createGraphqlHttp } from "./transport/graphql-http.ts";
import { useGraphqlWs } from "./transport/ws.ts";
import { useGripEndpoints } from "./transport/grip.ts";
import { usePusherWs } from "./transport/pusher-ws.ts";
import { createHeraldYoga } from "./transport/yoga.ts";
import { createWebhookDelivery } from "./webhooks/delivery.ts";

export interface HeraldDeps {
  logger?: Logger;
  /** An engine to use instead of the one `config` selects (tests share one). */
  engine?: Engine;
}

export interface Herald {
  readonly core: HeraldCore;
  readonly engine: Engine;
  readonly server: Server;
  /** Starts listening; resolves with the bound address (`port: 0` picks a free one). */
  listen(port?: number, host?: string): Promise<{ port: number; url: string }>;
  /**
   * Drains: stops accepting, completes every subscription, closes WebSockets with 1001,
   * waits up to `shutdownTimeoutMs` for HTTP requests in flight, then closes the engine.
   */
  close(): Promise<void>;
}

/** The composition root: config in, a ready-to-listen server out. */
export async function createHerald(config: Config, deps: HeraldDeps = {}): Promise<Herald> {
  const logger = deps.logger ?? createLogger(config);
  let countEngineError = () => {};
  const engine =
    deps.engine ??
    (await createEngine(config, (error) => {
      countEngineError();
      logger.error({ err: error }, "engine error");
    }));
  // Outbound notifications (watch channels, Pusher webhooks): every instance delivers.
  const webhooks = createWebhookDelivery({
    store: engine.webhooks,
    apps: config.apps,
    config: config.webhooks,
    onError: (error) => logger.error({ err: error }, "webhook delivery failed"),
  });
  const pusherWebhooks = usePusherWebhooks({
    delivery: webhooks,
    batchMs: config.webhooks.pusherBatchMs,
    onError: (error) => logger.error({ err: error }, "Pusher webhook failed"),
  });
  const core = createHeraldCore({
    config,
    engine,
    webhooks,
    onLifecycleEvent: pusherWebhooks.emit,
    onError: (error) => logger.error({ err: error }, "background work failed"),
  });
  await core.start();
  webhooks.start();
  // The GraphQL surface's one error mapper, for HTTP, SSE and WebSocket alike.
  countEngineError = () => core.stats.countError("engine", "INTERNAL_SERVER_ERROR");
  const maskError = maskGraphQLError(logger, (code) => core.stats.countError("graphql", code));
  // One set of document bounds for every GraphQL lane.
  const documents = createDocumentPolicy(schema, documentLimitsOf(config));
  const yoga = createHeraldYoga({
    schema,
    herald: core,
    logger,
    maskError,
    graphiqlHeaders: config.developmentApp ? { "X-Herald-Key": config.apps[0]!.key } : undefined,
    maxRequestBytes: config.maxRequestBytes,
    documents,
    maxResponseBytes: config.graphql.maxResponseBytes,
    corsOrigins: config.corsOrigins,
    anonymousLimiter: rateLimiter({
      perSecond: config.graphql.anonymousRatePerIp,
      setting: "HERALD_RATE_LIMIT_ANONYMOUS_PER_IP",
      what: "requests without credentials per address",
    }),
  });

  const graphqlHttp = createGraphqlHttp({
    yoga,
    herald: core,
    documents,
    maxRequestBytes: config.maxRequestBytes,
    onError: (error) => logger.error({ err: error }, "GraphQL request failed"),
  });

  // Each REST vendor contributes its routes; they call the same core as the resolvers.
  const restRoutes: RestRoute[] = [
    ...usePusherApi({ core, config }),
    ...useBackendlessApi({ core }),
    ...useGripApi({ core, config }),
    ...useZatoApi({ core }),
    ...useGoogleWatchApi({ core }),
  ];
  const rest = createRestRouter(restRoutes, {
    maxBodyBytes: config.maxRequestBytes,
    maxJsonDepth: config.limits.maxJsonDepth,
    onServerError: (error, route) => logger.error({ err: error, route: `${route.method} ${route.path}` }, "REST route failed"),
    onError: (code) => core.stats.countError("rest", code),
  });

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void> | void> = {
    ...consoleRoutes(),
    "/healthz": (_req, res) => sendJson(res, 200, { status: "ok" }),
    "/readyz": async (_req, res) => {
      if (closing) return sendJson(res, 503, { status: "shutting down" });
      try {
        await withTimeout(engine.ping(), 2_000);
        sendJson(res, 200, { status: "ready", engine: engine.kind });
      } catch {
        sendJson(res, 503, { status: "engine unreachable", engine: engine.kind });
      }
    },
    // Prometheus text format; per instance (sum over instances for the service).
    "/metrics": async (_req, res) => {
      const text = await metrics.render();
      res.writeHead(200, { "content-type": metrics.contentType });
      res.end(text);
    },
  };

  let inFlight = 0;
  const server = createServer((req, res) => {
    inFlight++;
    res.once("close", () => inFlight--);
    const path = (req.url ?? "/").split("?", 1)[0]!;
    const route = routes[path];
    if (route) {
      Promise.resolve(route(req, res)).catch((error) => {
        logger.error({ err: error }, "route failed");
        if (!res.headersSent) sendJson(res, 500, { error: "Internal server error" });
      });
      return;
    }
    // The GraphQL lane first: it declines in O(1), and every GraphQL publish passes here.
    if (graphqlHttp(req, res)) return;
    if (rest(req, res)) return;
    if (grip.handle(req, res)) return;
    void yoga(req, res);
  });
  // The Pusher Channels WebSocket protocol at /app/:key, for pusher-js frontends.
  const pusherWs = usePusherWs({
    server,
    herald: core,
    logger,
    ...config.pusherWs,
    maxClientEventBytes: config.pusher.maxPayloadBytes,
    maxSocketBufferBytes: config.maxSocketBufferBytes,
    maxMessageBytes: config.maxWebSocketMessageBytes,
  });
  const ws = useGraphqlWs({
    yoga,
    herald: core,
    logger,
    maskError,
    connectionInitTimeoutMs: config.connectionInitTimeoutMs,
    maxSocketBufferBytes: config.maxSocketBufferBytes,
    maxMessageBytes: config.maxWebSocketMessageBytes,
    documents,
  });
  const grip = useGripEndpoints({
    herald: core,
    logger,
    config: config.grip,
    maxSocketBufferBytes: config.maxSocketBufferBytes,
    maxMessageBytes: config.maxWebSocketMessageBytes,
  });
  const metrics = createMetrics({
    core,
    engine,
    slowConsumerDisconnects: () => ws.slowConsumerDisconnects,
    graphqlHttpCounts: () => graphqlHttp.counts,
    extra: [
      {
        type: "gauge",
        name: "herald_grip_subscribers",
        help: "GRIP subscriber endpoints open now on this instance (/grip/stream, /grip/poll, /grip/ws).",
        labelNames: ["endpoint"],
        read: () => Object.entries(grip.open).map(([endpoint, count]) => ({ labels: { endpoint }, value: count })),
      },
      {
        type: "counter",
        name: "herald_grip_slow_consumer_disconnects_total",
        help: "GRIP subscribers dropped because they read too slowly.",
        read: () => [{ labels: {}, value: grip.slowConsumerDisconnects }],
      },
      {
        type: "counter",
        name: "herald_pusher_slow_consumer_disconnects_total",
        help: "Pusher WebSockets (/app/:key) closed with 4100 because they read too slowly.",
        read: () => [{ labels: {}, value: pusherWs.slowConsumerDisconnects }],
      },
      {
        type: "counter",
        name: "herald_webhook_deliveries_total",
        help: "Outbound notification attempts on this instance, by outcome (retried: failed and tried again later).",
        labelNames: ["outcome"],
        read: () => (["delivered", "retried", "failed"] as const).map((outcome) => ({ labels: { outcome }, value: webhooks.counts[outcome] })),
      },
    ],
  });
  server.on("upgrade", (req, socket, head) => {
    // The Pusher transport listens for its own upgrades (/app/:key).
    if (pusherWs.handles((req.url ?? "/").split("?", 1)[0]!)) return;
    if (grip.upgrade(req, socket, head)) return;
    ws.handleUpgrade(req, socket, head);
  });

  let closing = false;
  let closed: Promise<void> | undefined;
  return {
    core,
    engine,
    server,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address() as AddressInfo;
          const shownHost = host === "0.0.0.0" || host === "::" ? "localhost" : host;
          resolve({ port: address.port, url: `http://${shownHost}:${address.port}` });
        });
      });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const coreClosed = core.close(); // completes every subscription at once: SSE responses end
        grip.close();
        await Promise.all([ws.close(), pusherWs.close()]);
        // Wait for requests in flight, then drop the keep-alive connections left idle.
        const deadline = Date.now() + config.shutdownTimeoutMs;
        while (inFlight > 0 && Date.now() < deadline) await delay(20);
        if (inFlight > 0) logger.warn({ inFlight }, "shutdown timeout: closing connections with requests in flight");
        server.closeAllConnections();
        await stopped;
        await coreClosed; // scheduled runs in flight are published before the engine goes
        await pusherWebhooks.close(); // what is batched is stored
        await webhooks.close(); // attempts in flight end (each within the timeout); the rest stay stored
        if (!deps.engine) await engine.close();
      })();
      return closed;
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, delay(ms).then(() => Promise.reject(new Error("timeout")))]);
}
