import { createHmac, timingSafeEqual } from "node:crypto";
import { isRecord } from "./validation.ts";

/**
 * Subscriber tokens: JWTs (HS256) a backend mints with its app secret to say who a subscriber
 * is and which private or presence channels it may join.
 *
 * ```ts
 * import { signSubscriberToken } from "herald/auth";
 * const token = signSubscriberToken(APP_SECRET, {
 *   sub: "user-42",                        // the user id everywhere in Herald
 *   info: { name: "Ada" },                 // shown to presence members
 *   channels: ["private-orders-42", "presence-room-*"], // names, or prefix* patterns
 *   expiresInSeconds: 3600,
 * });
 * // client: createClient({ url, connectionParams: { key, token } })
 * ```
 */
export interface SubscriberClaims {
  /** The user id. */
  readonly sub?: string | undefined;
  /** User info shown in presence (any JSON). */
  readonly info?: unknown;
  /** Channel names or `prefix*` patterns this token opens. */
  readonly channels?: readonly string[] | undefined;
  /** Expiry, seconds since the epoch. */
  readonly exp?: number | undefined;
}

export function signSubscriberToken(
  secret: string,
  claims: Omit<SubscriberClaims, "exp"> & { expiresInSeconds?: number; exp?: number },
  now: () => number = Date.now,
): string {
  const { expiresInSeconds, ...rest } = claims;
  const payload: Record<string, unknown> = { ...rest, iat: Math.floor(now() / 1000) };
  if (expiresInSeconds !== undefined) payload.exp = Math.floor(now() / 1000) + expiresInSeconds;
  const head = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = base64url(JSON.stringify(payload));
  return `${head}.${body}.${hmac(secret, `${head}.${body}`).toString("base64url")}`;
}

export type TokenCheck = { ok: true; claims: SubscriberClaims } | { ok: false; reason: string };

/** A JWT whose HS256 signature, expiry and not-before passed: its payload, unchecked otherwise. */
export type JwtCheck = { ok: true; payload: Record<string, unknown> } | { ok: false; reason: string };

/**
 * Verifies an HS256 JWT signed with `secret`: algorithm, signature (constant time), `exp` and
 * `nbf` when present (numbers of seconds); never throws. Claim meanings are the caller's.
 */
export function verifyHs256Jwt(secret: string, token: unknown, now: () => number = Date.now): JwtCheck {
  if (typeof token !== "string" || token.length > 8192) return { ok: false, reason: "token must be a JWT string" };
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "token is not a JWT" };
  const [head, body, signature] = parts as [string, string, string];
  const header = parseJson(head);
  if (!isRecord(header) || header.alg !== "HS256") return { ok: false, reason: "token must be signed with HS256" };
  const expected = hmac(secret, `${head}.${body}`);
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: "token signature is invalid (signed with another app's secret?)" };
  }
  const payload = parseJson(body);
  if (!isRecord(payload)) return { ok: false, reason: "token payload is not an object" };
  const { exp, nbf } = payload;
  const seconds = now() / 1000;
  if (exp !== undefined && (typeof exp !== "number" || exp <= seconds)) return { ok: false, reason: "token has expired" };
  if (nbf !== undefined && (typeof nbf !== "number" || nbf > seconds)) return { ok: false, reason: "token is not valid yet" };
  return { ok: true, payload };
}

/** The payload of a JWT, without verifying anything (to learn its `iss` before choosing a key). */
export function unverifiedJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || token.length > 8192) return undefined;
  const header = parseJson(parts[0]!);
  const payload = parseJson(parts[1]!);
  return isRecord(header) && isRecord(payload) ? payload : undefined;
}

/** Verifies signature (constant time), algorithm, expiry and claim shapes; never throws. */
export function verifySubscriberToken(secret: string, token: unknown, now: () => number = Date.now): TokenCheck {
  const check = verifyHs256Jwt(secret, token, now);
  if (!check.ok) return check;
  const { sub, info, channels, exp } = check.payload;
  if (sub !== undefined && typeof sub !== "string") return { ok: false, reason: "token sub must be a string" };
  if (channels !== undefined && (!Array.isArray(channels) || !channels.every((c) => typeof c === "string"))) {
    return { ok: false, reason: "token channels must be a list of strings" };
  }
  return { ok: true, claims: { sub, info, channels: channels as string[] | undefined, exp: exp as number | undefined } };
}

/** True when one of the token's `channels` entries is `channel` or a `prefix*` matching it. */
export function tokenAllowsChannel(claims: SubscriberClaims, channel: string): boolean {
  return (claims.channels ?? []).some((pattern) =>
    pattern.endsWith("*") ? channel.startsWith(pattern.slice(0, -1)) : pattern === channel,
  );
}

const base64url = (text: string) => Buffer.from(text).toString("base64url");
const hmac = (secret: string, data: string) => createHmac("sha256", secret).update(data).digest();

function parseJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}
