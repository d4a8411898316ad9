import { ErrorCode, HeraldError, httpStatusOf } from "../../errors.ts";
import type { RestResponse } from "../router.ts";

/**
 * The one mapper from Herald errors to Zato's error responses: `{"status":"ZATO_ERROR","msg":…}`
 * with the HTTP status of the Herald code (401 credentials, 404 unknown sub_key, 400 bad input,
 * 413 too large, 429 limits, 503 engine unavailable; `httpStatusOf` names every code). Anything
 * that is not a `HeraldError` is masked as an internal error; the router logs those.
 */
export function zatoErrorResponse(error: unknown): RestResponse {
  if (!(error instanceof HeraldError) || error.code === ErrorCode.Internal) {
    return { status: 500, body: { status: "ZATO_ERROR", msg: "Internal server error" } };
  }
  const status = httpStatusOf(error.code);
  // Basic is the scheme Zato's REST clients answer a challenge with.
  const headers = status === 401 ? { "www-authenticate": 'Basic realm="Herald"' } : undefined;
  return { status, ...(headers ? { headers } : {}), body: { status: "ZATO_ERROR", msg: error.message } };
}
