import type { Limits } from "../config.ts";
import { ErrorCode, HeraldError } from "../errors.ts";

/**
 * Nesting of JSON values, measured without recursion: a value nested deeper than the call stack
 * (JSON.parse builds one happily) would otherwise end as a RangeError in whatever walks it next
 * (JSON.stringify, a size check) — a 5xx instead of a clear refusal.
 */

/** Throws BAD_REQUEST when `value` nests arrays and objects deeper than `limits.maxJsonDepth`. */
export function validateJsonDepth(value: unknown, limits: Pick<Limits, "maxJsonDepth">, what = "Message data"): void {
  if (jsonDepthExceeds(value, limits.maxJsonDepth)) throw tooDeep(what, limits.maxJsonDepth);
}

/** Same bound over JSON text, before it is parsed: brackets outside strings, one pass over the bytes. */
export function validateJsonTextDepth(text: Uint8Array, limits: Pick<Limits, "maxJsonDepth">, what = "Request body"): void {
  if (jsonTextDepthExceeds(text, limits.maxJsonDepth)) throw tooDeep(what, limits.maxJsonDepth);
}

function tooDeep(what: string, max: number): HeraldError {
  return new HeraldError(ErrorCode.BadRequest, `${what} is nested more than ${max} levels deep (HERALD_MAX_JSON_DEPTH)`, {
    limit: max,
    setting: "HERALD_MAX_JSON_DEPTH",
  });
}

export function jsonDepthExceeds(value: unknown, maxDepth: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  // Depth-first with an explicit stack of [value, depth].
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > maxDepth) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

export function jsonTextDepthExceeds(text: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const byte = text[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}
