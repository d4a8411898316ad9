import { ErrorCode, HeraldError, httpStatusOf } from "../../errors.ts";
import type { RestResponse } from "../router.ts";

/**
 * Backendless error codes. The first four are Backendless' own for its Messaging API; every
 * other rejection gets a Herald code in the 59xx range, which Backendless' messaging codes do not
 * use. The README lists them all.
 */
export enum BackendlessCode {
  /** Invalid `repeatExpiresAt` in the delivery options. */
  InvalidRepeatExpiresAt = 5003,
  /** No permission to publish: missing or wrong credentials, or a disabled app. */
  NoPermission = 5007,
  /** Invalid `publishAt` in the delivery options. */
  InvalidPublishAt = 5030,
  /** The message has already been cancelled, has finished, or does not exist. */
  NotCancellable = 5040,
  // Herald's own codes.
  BadRequest = 5901,
  InvalidChannelName = 5902,
  InvalidEventName = 5903,
  TooManyChannels = 5904,
  BatchTooLarge = 5905,
  PayloadTooLarge = 5906,
  InvalidHeaders = 5907,
  InvalidSocketId = 5908,
  InvalidMessageId = 5909,
  InvalidSelector = 5910,
  InvalidRepeatEvery = 5911,
  TooManySchedules = 5912,
  TooManySubscriptions = 5913,
  TooManyConnections = 5914,
  SlowConsumer = 5915,
  TooManyMembers = 5916,
  UserInfoTooLarge = 5917,
  InvalidUserId = 5918,
  RateLimited = 5919,
  EngineUnavailable = 5950,
  ShuttingDown = 5951,
  Internal = 5999,
}

/**
 * The one mapper from Herald errors to Backendless' error responses: `{ message, code }` with the
 * HTTP status of the Herald code. Anything that is not a `HeraldError` is masked as an internal
 * error; the route logs those.
 */
export function backendlessErrorResponse(error: unknown): RestResponse {
  if (!(error instanceof HeraldError) || error.code === ErrorCode.Internal) {
    return { status: 500, body: { message: "Internal server error", code: BackendlessCode.Internal } };
  }
  return { status: httpStatusOf(error.code), body: { message: error.message, code: backendlessCodeOf(error.code) } };
}

export function backendlessCodeOf(code: ErrorCode): BackendlessCode {
  switch (code) {
    case ErrorCode.Unauthenticated:
    case ErrorCode.Forbidden:
      return BackendlessCode.NoPermission;
    case ErrorCode.InvalidPublishAt:
      return BackendlessCode.InvalidPublishAt;
    case ErrorCode.InvalidRepeatExpiresAt:
      return BackendlessCode.InvalidRepeatExpiresAt;
    case ErrorCode.NotFound:
      return BackendlessCode.NotCancellable;
    case ErrorCode.BadRequest:
      return BackendlessCode.BadRequest;
    case ErrorCode.InvalidChannelName:
      return BackendlessCode.InvalidChannelName;
    case ErrorCode.InvalidEventName:
      return BackendlessCode.InvalidEventName;
    case ErrorCode.TooManyChannels:
      return BackendlessCode.TooManyChannels;
    case ErrorCode.BatchTooLarge:
      return BackendlessCode.BatchTooLarge;
    case ErrorCode.PayloadTooLarge:
      return BackendlessCode.PayloadTooLarge;
    case ErrorCode.InvalidHeaders:
      return BackendlessCode.InvalidHeaders;
    case ErrorCode.InvalidSocketId:
      return BackendlessCode.InvalidSocketId;
    case ErrorCode.InvalidMessageId:
      return BackendlessCode.InvalidMessageId;
    case ErrorCode.InvalidSelector:
      return BackendlessCode.InvalidSelector;
    case ErrorCode.InvalidRepeatEvery:
      return BackendlessCode.InvalidRepeatEvery;
    case ErrorCode.TooManySchedules:
      return BackendlessCode.TooManySchedules;
    case ErrorCode.TooManySubscriptions:
      return BackendlessCode.TooManySubscriptions;
    case ErrorCode.TooManyConnections:
      return BackendlessCode.TooManyConnections;
    case ErrorCode.SlowConsumer:
      return BackendlessCode.SlowConsumer;
    case ErrorCode.TooManyMembers:
      return BackendlessCode.TooManyMembers;
    case ErrorCode.UserInfoTooLarge:
      return BackendlessCode.UserInfoTooLarge;
    case ErrorCode.InvalidUserId:
      return BackendlessCode.InvalidUserId;
    case ErrorCode.RateLimited:
      return BackendlessCode.RateLimited;
    // Watch channels only; no Backendless route can meet them.
    case ErrorCode.Conflict:
    case ErrorCode.TooManyWatches:
      return BackendlessCode.BadRequest;
    case ErrorCode.EngineUnavailable:
      return BackendlessCode.EngineUnavailable;
    case ErrorCode.ShuttingDown:
      return BackendlessCode.ShuttingDown;
    case ErrorCode.Internal:
      return BackendlessCode.Internal;
    default:
      // All new error codes must be explicitly described here (this line stops compiling);
      // at run time an unmapped code is an internal error.
      code satisfies never;
      return BackendlessCode.Internal;
  }
}
