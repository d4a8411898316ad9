import { createYoga, type YogaServerInstance } from "graphql-yoga";
import type { GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import { authenticate, credentialsFromHttp } from "../core/auth.ts";
import type { HeraldCore } from "../core/herald.ts";
import type { Caller } from "../core/types.ts";
import type { HeraldContext } from "../schema/context.ts";
import { maskGraphQLError } from "./errors.ts";

/** What the WebSocket transport hands Yoga: the caller it authenticated at connection_init. */
export interface WsInitialContext {
  readonly caller?: Caller;
}

export type HeraldYoga = YogaServerInstance<WsInitialContext, HeraldContext>;

export interface YogaOptions {
  schema: GraphQLSchema;
  herald: HeraldCore;
  logger: Logger;
  /** Pre-filled in GraphiQL's headers editor (the development app's key). */
  graphiqlHeaders?: Record<string, string> | undefined;
}

/**
 * GraphQL over HTTP (queries, mutations, SSE subscriptions) and GraphiQL at `/graphql`.
 * HTTP callers authenticate per request: `Authorization` for backends; subscribers, which cannot
 * set headers from an `EventSource`, give the key as `?key=` or `X-Herald-Key`.
 */
export function createHeraldYoga({ schema, herald, logger, graphiqlHeaders }: YogaOptions): HeraldYoga {
  return createYoga<WsInitialContext, HeraldContext>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    graphiql: {
      title: "Herald",
      subscriptionsProtocol: "SSE",
      ...(graphiqlHeaders ? { headers: JSON.stringify(graphiqlHeaders, null, 2) } : {}),
    },
    maskedErrors: { maskError: maskGraphQLError(logger) },
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
      return { herald, caller: authenticate(herald.apps, credentialsFromHttp(request.headers.get("authorization"), key)) };
    },
  });
}
