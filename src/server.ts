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
import { createRestRouter, type RestRoute } from "./rest/router.ts";
import { schema } from "./schema/index.ts";
import { maskGraphQLError } from "./transport/errors.ts";
import { rateLimiter } from "./core/rate-limit.ts";
import { consoleRoutes } from "./transport/console.ts";
import { createDocumentPolicy, documentLimitsOf } from "./transport/document-policy.ts";
import { createGraphqlHttp } from "./transport/graphql-http.ts";
import { useGraphqlWs } from "./transport/ws.ts";
import { usePusherWs } from "./transport/pusher-ws.ts";
import { createHeraldYoga } from "./transport/yoga.ts";

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
  const engine = deps.engine ?? (await createEngine(config, (error) => logger.error({ err: error }, "engine error")));
  const core = createHeraldCore({ config, engine, onError: (error) => logger.error({ err: error }, "background work failed") });
  await core.start();
  // The GraphQL surface's one error mapper, for HTTP, SSE and WebSocket alike.
  const maskError = maskGraphQLError(logger);
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
  const restRoutes: RestRoute[] = [...usePusherApi({ core, config }), ...useBackendlessApi({ core })];
  const rest = createRestRouter(restRoutes, {
    maxBodyBytes: config.maxRequestBytes,
    maxJsonDepth: config.limits.maxJsonDepth,
    onServerError: (error, route) => logger.error({ err: error, route: `${route.method} ${route.path}` }, "REST route failed"),
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
    "/metrics": (_req, res) => {
      const lines = [
        "# HELP herald_connections Open client connections (WebSocket and SSE) on this instance.",
        "# TYPE herald_connections gauge",
        ...config.apps.map((app) => `herald_connections{app="${app.id}"} ${core.connectionCount(app.id)}`),
        "# HELP herald_slow_consumer_disconnects_total WebSockets closed with 4032 because they read too slowly.",
        "# TYPE herald_slow_consumer_disconnects_total counter",
        `herald_slow_consumer_disconnects_total ${ws.slowConsumerDisconnects}`,
        "# HELP herald_pusher_slow_consumer_disconnects_total Pusher WebSockets (/app/:key) closed with 4100 because they read too slowly.",
        "# TYPE herald_pusher_slow_consumer_disconnects_total counter",
        `herald_pusher_slow_consumer_disconnects_total ${pusherWs.slowConsumerDisconnects}`,
        "# HELP herald_graphql_http_requests_total GraphQL POSTs from backends, by who executed them: the direct lane, or Yoga after the lane read them.",
        "# TYPE herald_graphql_http_requests_total counter",
        `herald_graphql_http_requests_total{path="direct"} ${graphqlHttp.counts.direct}`,
        `herald_graphql_http_requests_total{path="yoga"} ${graphqlHttp.counts.handedToYoga}`,
        "# HELP herald_process_resident_memory_bytes Resident set size of this process.",
        "# TYPE herald_process_resident_memory_bytes gauge",
        `herald_process_resident_memory_bytes ${process.memoryUsage.rss()}`,
      ];
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(lines.join("\n") + "\n");
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
    server,
    yoga,
    herald: core,
    logger,
    maskError,
    connectionInitTimeoutMs: config.connectionInitTimeoutMs,
    maxSocketBufferBytes: config.maxSocketBufferBytes,
    maxMessageBytes: config.maxWebSocketMessageBytes,
    documents,
    servedElsewhere: pusherWs.handles,
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
        await Promise.all([ws.close(), pusherWs.close()]);
        // Wait for requests in flight, then drop the keep-alive connections left idle.
        const deadline = Date.now() + config.shutdownTimeoutMs;
        while (inFlight > 0 && Date.now() < deadline) await delay(20);
        if (inFlight > 0) logger.warn({ inFlight }, "shutdown timeout: closing connections with requests in flight");
        server.closeAllConnections();
        await stopped;
        await coreClosed; // scheduled runs in flight are published before the engine goes
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
