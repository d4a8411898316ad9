import { CloseCode as GraphQLWsCloseCode } from "graphql-ws";

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
