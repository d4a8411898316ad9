import { HeraldError, httpStatusOf } from "../../errors.ts";
import type { RestResponse } from "../router.ts";

/**
 * The one mapper from Herald errors to GRIP publish answers: the HTTP status of the Herald code
 * and a plain-text reason, as Pushpin and Fastly answer (`400 …`). Anything that is not a
 * `HeraldError` is masked as `500 Internal server error`; the route logs those.
 */
export function gripErrorResponse(error: unknown): RestResponse {
  if (!(error instanceof HeraldError)) return internalError;
  const status = httpStatusOf(error.code);
  return status === 500 ? internalError : { status, body: `${error.message}\n` };
}

const internalError: RestResponse = { status: 500, body: "Internal server error\n" };
