import { createGraphQLError, createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import { authenticate, credentialsFromHttp } from "../core/auth.ts";
import type { HeraldCore } from "../core/herald.ts";
import type { Caller } from "../core/types.ts";
import type { HeraldContext } from "../schema/context.ts";
import { ErrorCode } from "../errors.ts";

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
  /** Pre-filled in GraphiQL's headers editor (the development app's key). */
  graphiqlHeaders?: Record<string, string> | undefined;
}

/**
 * GraphQL over HTTP (queries, mutations, SSE subscriptions) and GraphiQL at `/graphql`.
 * HTTP callers authenticate per request: `Authorization` for backends; subscribers, which cannot
 * set headers from an `EventSource`, give the key as `?key=` or `X-Herald-Key`.
 */
export function createHeraldYoga({ schema, herald, logger, maskError, graphiqlHeaders, maxRequestBytes }: YogaOptions): HeraldYoga {
  return createYoga<WsInitialContext, HeraldContext>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    graphiql: {
      title: "Herald",
      subscriptionsProtocol: "SSE",
      ...(graphiqlHeaders ? { headers: JSON.stringify(graphiqlHeaders, null, 2) } : {}),
    },
    maskedErrors: { maskError },
    // Yoga's own limit pipes every body through a TransformStream (an AbortController and a
    // DOMException per request, a large share of a publish's CPU); ours reads Content-Length.
    maxRequestBodySize: false,
    plugins: [useContentLengthLimit(maxRequestBytes)],
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(" ")),
      info: (...args) => logger.info(args.map(String).join(" ")),
      warn: (...args) => logger.warn(args.map(String).join(" ")),
      // Yoga reports every error of a result here; expected ones (a HeraldError: bad input,
      // auth) are the client's business, unexpected ones are logged by the masking function.
      error: (...args) => logger.debug(args.map(String).join(" ")),
    },
    context: (initial): HeraldContext => {
      if (initial.caller) return { herald, caller: initial.caller };
      const request = initial.request;
      const key = request.headers.get("x-herald-key") ?? new URL(request.url).searchParams.get("key");
      return { herald, caller: httpCaller(herald, request.headers.get("authorization"), key) };
    },
  });
}

/** Who an HTTP request is: its `Authorization` (backends), or its app key (subscribers). */
export function httpCaller(herald: HeraldCore, authorization: string | null | undefined, key: string | null | undefined): Caller {
  return authenticate(herald.apps, credentialsFromHttp(authorization, key));
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
