import { HeraldError, httpStatusOf } from "../../errors.ts";
import type { RestResponse } from "../router.ts";

/**
 * The one mapper from Herald errors to Pusher's error responses: a status and a plain-text
 * body, as Pusher answers (`400 Invalid channel name …`). Anything that is not a `HeraldError`
 * is masked as `500 Internal server error`; the route logs those.
 */
export function pusherErrorResponse(error: unknown): RestResponse {
  if (!(error instanceof HeraldError)) return internalError;
  // Pusher answers with the plain HTTP status of the failure, which is exactly httpStatusOf's.
  const status = httpStatusOf(error.code);
  return status === 500 ? internalError : { status, body: error.message };
}

const internalError: RestResponse = { status: 500, body: "Internal server error" };
