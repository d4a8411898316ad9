import { createGraphQLError, createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import { authenticate, credentialsFromHttp } from "../core/auth.ts";
import type { HeraldCore } from "../core/herald.ts";
import type { Caller } from "../core/types.ts";
import type { HeraldContext } from "../schema/context.ts";
import { ResponseBudget } from "../core/response-budget.ts";
import { ErrorCode } from "../errors.ts";
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
  /** Pre-filled in GraphiQL's headers editor (the development app's key). */
  graphiqlHeaders?: Record<string, string> | undefined;
}

/**
 * GraphQL over HTTP (queries, mutations, SSE subscriptions) and GraphiQL at `/graphql`.
 * HTTP callers authenticate per request: `Authorization` for backends; subscribers, which cannot
 * set headers from an `EventSource`, give the key as `?key=` or `X-Herald-Key`.
 */
export function createHeraldYoga({ schema, herald, logger, maskError, graphiqlHeaders, maxRequestBytes, documents, maxResponseBytes }: YogaOptions): HeraldYoga {
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
    // Yoga's cache keeps 1,000 documents whatever their size, before any credential is checked;
    // the document policy parses, bounds and caches instead (by bytes, valid documents only).
    parserAndValidationCache: false,
    plugins: [useContentLengthLimit(maxRequestBytes), useGetParamsCheck(), documents.plugin],
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
      if (initial.caller) return { herald, caller: initial.caller, budget };
      const request = initial.request;
      const key = request.headers.get("x-herald-key") ?? new URL(request.url).searchParams.get("key");
      return { herald, caller: httpCaller(herald, request.headers.get("authorization"), key), budget };
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
