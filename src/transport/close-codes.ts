import { CloseCode as GraphQLWsCloseCode } from "graphql-ws";
import type { Logger } from "pino";
import { ErrorCode, isHeraldError } from "../errors.ts";

/**
 * WebSocket close codes Herald sends, beside graphql-ws's own (4400 bad request,
 * 4401 unauthorized, 4408 init timeout, 4409 duplicate subscriber, 4500 internal error).
 */
export enum HeraldCloseCode {
  /** Server shutting down (SIGTERM): reconnect, another instance will take you. */
  GoingAway = 1001,
  /** Unknown app key, disabled app, missing key, or an invalid `connectionParams.token`. */
  Forbidden = GraphQLWsCloseCode.Forbidden,
  /** The app reached `HERALD_MAX_CONNECTIONS_PER_APP` on this instance. */
  TooManyConnections = 4029,
  /** The client did not answer pings; the connection was presumed dead. */
  PingTimeout = 4030,
  /** The app's backend terminated this user's connections (terminateUserConnections). */
  Terminated = 4031,
  /** The client read too slowly: its unsent data passed `HERALD_MAX_SOCKET_BUFFER_BYTES`. */
  SlowConsumer = 4032,
}

/**
 * How a connection refused at `connection_init` is closed: the WebSocket surface's one mapper
 * of Herald's errors. Only what opening a connection can throw has its own code; anything else
 * is a bug here, logged, and closed as graphql-ws closes on an internal error.
 */
export function closeFor(error: unknown, logger: Pick<Logger, "error">): { code: number; reason: string } {
  if (isHeraldError(error)) {
    switch (error.code) {
      case ErrorCode.Unauthenticated:
      case ErrorCode.Forbidden:
        return { code: HeraldCloseCode.Forbidden, reason: "Forbidden" };
      case ErrorCode.TooManyConnections:
        return { code: HeraldCloseCode.TooManyConnections, reason: "Too many connections" };
      case ErrorCode.ShuttingDown:
        return { code: HeraldCloseCode.GoingAway, reason: "Server shutting down" };
      default:
        // Every other code comes from a rule no connection_init reaches: describe it here if one does.
        break;
    }
  }
  logger.error({ err: error }, "unexpected error while opening a WebSocket connection");
  return { code: GraphQLWsCloseCode.InternalServerError, reason: "Internal server error" };
}
