import type { IncomingMessage } from "node:http";
import { createGraphQLError, createYoga, type GraphiQLOptions, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import { authenticate, credentialsFromHttp } from "../core/auth.ts";
import type { HeraldCore } from "../core/herald.ts";
import type { Caller } from "../core/types.ts";
import type { HeraldContext } from "../schema/context.ts";
import type { RateLimiter } from "../core/rate-limit.ts";
import { ResponseBudget } from "../core/response-budget.ts";
import { ErrorCode, HeraldError, httpStatusOf } from "../errors.ts";
import type { DocumentPolicy } from "./document-policy.ts";

/** What the WebSocket transport hands Yoga: the caller it authenticated at connection_init. */
export interface WsInitialContext {
  readonly caller?: Caller;
}

export type HeraldYoga = YogaServerInstance<WsInitialContext, HeraldContext>;

export interface YogaOptions {
  schema: GraphQLSchema;
  herald: HeraldCore;
  logger: Logger;
  /** The GraphQL surface's error mapper (`maskGraphQLError`), shared with the WebSocket transport. */
  maskError: (error: unknown) => Error;
  /** Largest GraphQL request body read (HERALD_MAX_REQUEST_BYTES). */
  maxRequestBytes: number;
  /** Bounds every document before it is parsed, validated or cached (document-policy.ts). */
  documents: DocumentPolicy;
  /** Bytes one answer may take (HERALD_MAX_RESPONSE_BYTES). */
  maxResponseBytes: number;
  /** Requests without valid credentials, by client address (HERALD_RATE_LIMIT_ANONYMOUS_PER_IP); none: unlimited. */
  anonymousLimiter?: RateLimiter | undefined;
  /** Origins browsers may call from (HERALD_CORS_ORIGINS; `*`: any), never with credentials. */
  corsOrigins: readonly string[];
  /** Pre-filled in GraphiQL's headers editor (the development app's key). */
  graphiqlHeaders?: Record<string, string> | undefined;
}

/**
 * GraphQL over HTTP (queries, mutations, SSE subscriptions) and GraphiQL at `/graphql`.
 * HTTP callers authenticate per request: `Authorization` for backends; subscribers, which cannot
 * set headers from an `EventSource`, give the key as `?key=` or `X-Herald-Key`.
 */
export function createHeraldYoga({
  schema,
  herald,
  logger,
  maskError,
  graphiqlHeaders,
  maxRequestBytes,
  documents,
  maxResponseBytes,
  anonymousLimiter,
  corsOrigins,
}: YogaOptions): HeraldYoga {
  return createYoga<WsInitialContext, HeraldContext>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    graphiql: {
      title: "Herald",
      subscriptionsProtocol: "SSE",
      ...(graphiqlHeaders ? { headers: JSON.stringify(graphiqlHeaders, null, 2) } : {}),
    },
    renderGraphiQL: offlineGraphiQL(),
    maskedErrors: { maskError },
    // Herald's credentials are headers, never cookies: no origin is allowed credentials.
    cors: { origin: [...corsOrigins], credentials: false, exposedHeaders: ["retry-after"] },
    // Yoga's own limit pipes every body through a TransformStream (an AbortController and a
    // DOMException per request, a large share of a publish's CPU); ours reads Content-Length.
    maxRequestBodySize: false,
    // Yoga's cache keeps 1,000 documents whatever their size, before any credential is checked;
    // the document policy parses, bounds and caches instead (by bytes, valid documents only).
    parserAndValidationCache: false,
    plugins: [
      ...(anonymousLimiter ? [useAnonymousRateLimit(herald, anonymousLimiter)] : []),
      useContentLengthLimit(maxRequestBytes),
      useGetParamsCheck(),
      documents.plugin,
    ],
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(" ")),
      info: (...args) => logger.info(args.map(String).join(" ")),
      warn: (...args) => logger.warn(args.map(String).join(" ")),
      // Yoga reports every error of a result here; expected ones (a HeraldError: bad input,
      // auth) are the client's business, unexpected ones are logged by the masking function.
      error: (...args) => logger.debug(args.map(String).join(" ")),
    },
    context: (initial): HeraldContext => {
      const budget = new ResponseBudget(maxResponseBytes);
      return { herald, caller: initial.caller ?? requestCaller(herald, initial.request), budget };
    },
  });
}

/** Who an HTTP request is: its `Authorization` (backends), or its app key (subscribers). */
export function httpCaller(herald: HeraldCore, authorization: string | null | undefined, key: string | null | undefined): Caller {
  return authenticate(herald.apps, credentialsFromHttp(authorization, key));
}

/**
 * GraphiQL with its scripts, styles and editor workers inlined (`@graphql-yoga/render-graphiql`)
 * instead of Yoga's default page, which loads them from unpkg.com and stays blank offline. The
 * 9 MB module is loaded on the first visit, and each server builds its page once: its options
 * never change.
 */
function offlineGraphiQL(): (options: GraphiQLOptions) => Promise<string> {
  let page: Promise<string> | undefined;
  return (options) => (page ??= import("@graphql-yoga/render-graphiql").then(({ renderGraphiQL }) => renderGraphiQL(options)));
}

/** Who an HTTP request to Yoga is, from its headers or `?key=`. */
function requestCaller(herald: HeraldCore, request: Request): Caller {
  const key = request.headers.get("x-herald-key") ?? new URL(request.url).searchParams.get("key");
  return httpCaller(herald, request.headers.get("authorization"), key);
}

/**
 * Requests without valid credentials (wrong ones included) take a token of their client
 * address's bucket before anything reads their body: that is all an anonymous caller can spend.
 * The address is the TCP peer's; behind a proxy every client shares the proxy's.
 */
function useAnonymousRateLimit(herald: HeraldCore, limiter: RateLimiter): Plugin<Record<string, never>, { req?: IncomingMessage }> {
  return {
    onRequestParse({ request, serverContext }) {
      if (requestCaller(herald, request).role !== "anonymous") return;
      try {
        limiter.take(serverContext.req?.socket.remoteAddress ?? "unknown");
      } catch (error) {
        if (!(error instanceof HeraldError)) throw error;
        throw createGraphQLError(error.message, {
          extensions: {
            ...error.details,
            code: error.code,
            http: { status: httpStatusOf(error.code), headers: { "retry-after": String(error.details.retryAfterSeconds) } },
          },
        });
      }
    },
  };
}

/**
 * Bounds GraphQL request bodies by their Content-Length, which Node's HTTP parser holds the body
 * to. A body without one (chunked) is refused with 411: every GraphQL client sends it.
 */
function useContentLengthLimit(maxBytes: number): Plugin {
  const refuse = (status: number, message: string) =>
    createGraphQLError(message, { extensions: { http: { status }, code: status === 413 ? ErrorCode.PayloadTooLarge : ErrorCode.BadRequest } });
  return {
    onRequestParse({ request }) {
      if (request.method !== "POST") return;
      const length = request.headers.get("content-length");
      if (length === null) throw refuse(411, "Content-Length is required");
      if (!/^\d+$/.test(length)) throw refuse(400, "Content-Length header is invalid");
      if (Number(length) > maxBytes) throw refuse(413, `Request body is larger than ${maxBytes} bytes`);
    },
  };
}

/**
 * A GET's `variables` and `extensions` must be JSON objects: Yoga's own parse of them fails with
 * a SyntaxError it masks as INTERNAL_SERVER_ERROR.
 */
function useGetParamsCheck(): Plugin {
  return {
    onRequestParse({ request }) {
      if (request.method !== "GET") return;
      const params = new URL(request.url).searchParams;
      for (const name of ["variables", "extensions"]) {
        const text = params.get(name);
        if (text === null || text === "") continue;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          throw createGraphQLError(`${name} is not valid JSON`, { extensions: { http: { status: 400 }, code: ErrorCode.BadRequest } });
        }
        if (value !== null && (typeof value !== "object" || Array.isArray(value))) {
          throw createGraphQLError(`${name} must be a JSON object`, { extensions: { http: { status: 400 }, code: ErrorCode.BadRequest } });
        }
      }
    },
  };
}
