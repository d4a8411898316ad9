import type { z } from "zod";
import { ErrorCode, HeraldError } from "../errors.ts";

/**
 * Request parsing every REST vendor shares: the raw body as JSON, query parameters, each read
 * with a zod schema; any problem is a `BadRequest` naming it (each vendor shapes the answer).
 */

/** Parses the raw body as JSON, then with `schema`. */
export function parseJsonBody<S extends z.ZodTypeAny>(schema: S, rawBody: Buffer): z.output<S> {
  return parseWith(schema, parseJson(rawBody), "body");
}

/** Parses query parameters with `schema`. */
export function parseQuery<S extends z.ZodTypeAny>(schema: S, query: URLSearchParams): z.output<S> {
  return parseWith(schema, Object.fromEntries(query), "query");
}

export function parseJson(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString("utf8"));
  } catch (error) {
    throw new HeraldError(ErrorCode.BadRequest, `Invalid JSON body: ${(error as Error).message}`);
  }
}

/** `value` read with `schema`; the first issue names where (`body`, `query`, or the field's path). */
export function parseWith<S extends z.ZodTypeAny>(schema: S, value: unknown, where: "body" | "query"): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const at = issue.path.length > 0 ? issue.path.join(".") : where;
  throw new HeraldError(ErrorCode.BadRequest, `Invalid request ${where}: ${at}: ${issue.message}`);
}
