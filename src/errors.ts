/**
 * The one error type of Herald. Every rule in `core/` that rejects something throws a
 * `HeraldError` with a code from the closed `ErrorCode` enum; each surface (GraphQL, WebSocket
 * close codes, every REST vendor) maps the code to its own shape in one function whose default
 * branch logs, so a new code cannot slip through unmapped.
 */
export enum ErrorCode {
  /** No credentials, unknown app key, or a wrong secret. */
  Unauthenticated = "UNAUTHENTICATED",
  /** Credentials are valid but do not allow this (e.g. a subscriber key used to publish). */
  Forbidden = "FORBIDDEN",
  /** The input is malformed in a way no more specific code describes. */
  BadRequest = "BAD_REQUEST",
  InvalidChannelName = "INVALID_CHANNEL_NAME",
  InvalidEventName = "INVALID_EVENT_NAME",
  TooManyChannels = "TOO_MANY_CHANNELS",
  BatchTooLarge = "BATCH_TOO_LARGE",
  PayloadTooLarge = "PAYLOAD_TOO_LARGE",
  InvalidHeaders = "INVALID_HEADERS",
  InvalidSocketId = "INVALID_SOCKET_ID",
  InvalidMessageId = "INVALID_MESSAGE_ID",
  InvalidSelector = "INVALID_SELECTOR",
  /** A schedule's `publishAt` is not a time, or lies in the past. */
  InvalidPublishAt = "INVALID_PUBLISH_AT",
  /** A schedule's `repeatEvery` is not a whole number of seconds, or is below the configured minimum. */
  InvalidRepeatEvery = "INVALID_REPEAT_EVERY",
  /** A schedule's `repeatExpiresAt` is not a time, lies before `publishAt`, or comes without `repeatEvery`. */
  InvalidRepeatExpiresAt = "INVALID_REPEAT_EXPIRES_AT",
  /** The app has as many active schedules as `HERALD_MAX_SCHEDULES_PER_APP` allows. */
  TooManySchedules = "TOO_MANY_SCHEDULES",
  TooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS",
  /** A presence channel already has the maximum number of distinct users. */
  TooManyMembers = "TOO_MANY_MEMBERS",
  /** A presence member's user info is larger than allowed. */
  UserInfoTooLarge = "USER_INFO_TOO_LARGE",
  /** A user id is missing, not a string/number, or too long. */
  InvalidUserId = "INVALID_USER_ID",
  TooManyConnections = "TOO_MANY_CONNECTIONS",
  /** A configured rate limit (per app, or per address for anonymous requests) was reached. */
  RateLimited = "RATE_LIMITED",
  /** A subscriber did not keep up and its bounded queue overflowed. */
  SlowConsumer = "SLOW_CONSUMER",
  NotFound = "NOT_FOUND",
  /** The id is taken (a live watch channel has it). */
  Conflict = "CONFLICT",
  /** The app has as many live watch channels as `HERALD_MAX_WATCHES_PER_APP` allows. */
  TooManyWatches = "TOO_MANY_WATCHES",
  /** The engine (Redis) cannot be reached. */
  EngineUnavailable = "ENGINE_UNAVAILABLE",
  /** The server is shutting down and takes no new work. */
  ShuttingDown = "SHUTTING_DOWN",
  Internal = "INTERNAL_SERVER_ERROR",
}

/** HTTP status each code maps to on HTTP surfaces (GraphQL over HTTP and REST routes). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.Unauthenticated:
      return 401;
    case ErrorCode.Forbidden:
      return 403;
    case ErrorCode.BadRequest:
    case ErrorCode.InvalidChannelName:
    case ErrorCode.InvalidEventName:
    case ErrorCode.TooManyChannels:
    case ErrorCode.BatchTooLarge:
    case ErrorCode.InvalidHeaders:
    case ErrorCode.InvalidSocketId:
    case ErrorCode.InvalidMessageId:
    case ErrorCode.InvalidSelector:
    case ErrorCode.InvalidPublishAt:
    case ErrorCode.InvalidRepeatEvery:
    case ErrorCode.InvalidRepeatExpiresAt:
    case ErrorCode.UserInfoTooLarge:
    case ErrorCode.InvalidUserId:
      return 400;
    case ErrorCode.PayloadTooLarge:
      return 413;
    case ErrorCode.NotFound:
      return 404;
    case ErrorCode.Conflict:
      return 409;
    case ErrorCode.TooManySubscriptions:
    case ErrorCode.TooManyMembers:
    case ErrorCode.TooManyConnections:
    case ErrorCode.SlowConsumer:
    case ErrorCode.TooManySchedules:
    case ErrorCode.RateLimited:
    case ErrorCode.TooManyWatches:
      return 429;
    case ErrorCode.EngineUnavailable:
    case ErrorCode.ShuttingDown:
      return 503;
    case ErrorCode.Internal:
      return 500;
    default:
      // All new error codes must be explicitly described here (this line stops compiling);
      // at run time an unknown code is an internal error.
      code satisfies never;
      return 500;
  }
}

export class HeraldError extends Error {
  override readonly name = "HeraldError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra facts a client can act on, e.g. `{ limit: 100 }`; exposed in error extensions. */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

export function isHeraldError(error: unknown): error is HeraldError {
  return error instanceof HeraldError;
}
