import { HeraldError, httpStatusOf } from "../errors.ts";
import type { RestResponse } from "./router.ts";

/**
 * Error answers of the vendors that answer in plain text with the HTTP status of the failure
 * (Pusher: `400 Invalid channel name …`; Pushpin and Fastly: the same, newline-terminated).
 * Anything that is not a `HeraldError` is masked as `500 Internal server error`; the route
 * logs those.
 */
export function plainTextErrorResponse(lineEnd = ""): (error: unknown) => RestResponse {
  const internalError: RestResponse = { status: 500, body: `Internal server error${lineEnd}` };
  return (error) => {
    if (!(error instanceof HeraldError)) return internalError;
    const status = httpStatusOf(error.code);
    return status === 500 ? internalError : { status, body: `${error.message}${lineEnd}` };
  };
}
