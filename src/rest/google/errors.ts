import { ErrorCode, HeraldError, httpStatusOf } from "../../errors.ts";
import type { RestResponse } from "../router.ts";

/**
 * The one mapper from Herald errors to Google's JSON error shape,
 * `{"error":{"code","message","errors":[{"domain","reason","message"}]}}`, with the HTTP status
 * of the Herald code. Anything that is not a `HeraldError` is masked; the route logs those.
 */
export function googleErrorResponse(error: unknown): RestResponse {
  if (!(error instanceof HeraldError) || error.code === ErrorCode.Internal) return shape(500, "internalError", "Internal error");
  const status = httpStatusOf(error.code);
  return status === 500 ? shape(500, "internalError", "Internal error") : shape(status, reasonOf(error.code), error.message);
}

function shape(code: number, reason: string, message: string): RestResponse {
  return { status: code, body: { error: { code, message, errors: [{ domain: "global", reason, message }] } } };
}

/** Google's `reason` words. */
function reasonOf(code: ErrorCode): string {
  switch (code) {
    case ErrorCode.Unauthenticated:
      return "authError";
    case ErrorCode.Forbidden:
      return "forbidden";
    case ErrorCode.NotFound:
      return "notFound";
    case ErrorCode.Conflict:
      return "channelIdNotUnique";
    case ErrorCode.PayloadTooLarge:
      return "uploadTooLarge";
    case ErrorCode.RateLimited:
    case ErrorCode.TooManyWatches:
      return "rateLimitExceeded";
    case ErrorCode.EngineUnavailable:
    case ErrorCode.ShuttingDown:
      return "backendError";
    default:
      return httpStatusOf(code) === 400 ? "invalid" : "backendError";
  }
}
