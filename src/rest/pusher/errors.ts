import { ErrorCode, HeraldError } from "../../errors.ts";
import type { RestResponse } from "../router.ts";

/**
 * The one mapper from Herald errors to Pusher's error responses: a status and a plain-text
 * body, as Pusher answers (`400 Invalid channel name …`). Anything that is not a `HeraldError`
 * is masked as `500 Internal server error`; the route logs those.
 */
export function pusherErrorResponse(error: unknown): RestResponse {
  if (!(error instanceof HeraldError)) return internalError;
  const status = pusherStatusOf(error.code);
  return status === 500 ? internalError : { status, body: error.message };
}

const internalError: RestResponse = { status: 500, body: "Internal server error" };

function pusherStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.Unauthenticated:
      return 401;
    case ErrorCode.Forbidden:
      return 403; // a disabled app
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
    // Subscriber-side limits: no Pusher route raises them, but they are limits, not faults.
    case ErrorCode.TooManySubscriptions:
    case ErrorCode.TooManyMembers:
    case ErrorCode.TooManyConnections:
    case ErrorCode.SlowConsumer:
    case ErrorCode.TooManySchedules:
      return 429;
    case ErrorCode.EngineUnavailable:
    case ErrorCode.ShuttingDown:
      return 503;
    case ErrorCode.Internal:
      return 500;
    default:
      // All new error codes must be explicitly described here (this line stops compiling);
      // at run time an unmapped code is an internal error, and the route logs it.
      code satisfies never;
      return 500;
  }
}
