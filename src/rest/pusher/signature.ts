/**
 * Pusher HTTP API request signatures (server to server). Every request carries `auth_key`,
 * `auth_timestamp`, `auth_version=1.0`, `body_md5` (when there is a body) and `auth_signature`,
 * the hex HMAC-SHA256 of `METHOD\npath\nsorted-query` under the app secret.
 * See https://pusher.com/docs/channels/library_auth_reference/rest-api/#authentication
 */
import { createHash, createHmac } from "node:crypto";
import { timingSafeStringEqual } from "../../core/pusher-auth.ts";
import { ErrorCode, HeraldError } from "../../errors.ts";

export interface SignedRequest {
  method: string;
  /** The request path (as the router normalized it), without the query string. */
  path: string;
  query: URLSearchParams;
  rawBody: Buffer;
}

export interface SignatureApp {
  id: string;
  key: string;
  secret: string;
}

export interface SignatureOptions {
  /** How far `auth_timestamp` may be from server time, either way (Pusher uses 600). */
  maxClockSkewSeconds: number;
  /** Server clock in milliseconds; tests pin it. */
  now?: () => number;
}

/**
 * Keys lower-cased and sorted, values joined as decoded and not re-encoded: that is what Pusher's
 * server libraries sign, and what its SDKs send (they do not URL-encode values either).
 */
export function pusherStringToSign(method: string, path: string, query: URLSearchParams): string {
  const params = [...query]
    .map(([key, value]) => [key.toLowerCase(), value] as const)
    .filter(([key]) => key !== "auth_signature")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`);
  return `${method.toUpperCase()}\n${path}\n${params.join("&")}`;
}

export function signPusherRequest(secret: string, method: string, path: string, query: URLSearchParams): string {
  return hmacHex(secret, pusherStringToSign(method, path, query));
}

const hmacHex = (secret: string, text: string) => createHmac("sha256", secret).update(text, "utf8").digest("hex");

/**
 * Checks a Pusher-signed request and returns its app (what `findApp` found for its key). Does
 * not check the app id in the path: the route does, since only it knows where the id sits.
 */
export function verifyPusherRequest<A extends SignatureApp>(
  req: SignedRequest,
  findApp: (key: string) => A | undefined,
  { maxClockSkewSeconds, now = Date.now }: SignatureOptions,
): A {
  const { query } = req;
  const authKey = required(query, "auth_key");
  const authTimestamp = required(query, "auth_timestamp");
  const authSignature = required(query, "auth_signature");

  const version = query.get("auth_version");
  if (version !== null && version !== "1.0") {
    throw unauthenticated(`Unsupported auth_version: ${JSON.stringify(version)} (only 1.0 is supported)`);
  }

  const app = findApp(authKey);
  if (!app) throw unauthenticated("Unknown auth_key");

  if (!/^\d+$/.test(authTimestamp)) {
    throw unauthenticated(`Invalid auth_timestamp: ${JSON.stringify(authTimestamp)} is not a number of seconds`);
  }
  const serverTime = Math.floor(now() / 1000);
  if (Math.abs(serverTime - Number(authTimestamp)) > maxClockSkewSeconds) {
    throw unauthenticated(
      `Timestamp expired: Given timestamp (${authTimestamp}) not within ${maxClockSkewSeconds}s of server time (${serverTime})`,
    );
  }

  // The signature covers body_md5, so a matching MD5 ties the body to the signature too.
  const bodyMd5 = query.get("body_md5");
  if (req.rawBody.length > 0 && bodyMd5 === null) throw unauthenticated("Missing body_md5");
  if (bodyMd5 !== null && bodyMd5 !== createHash("md5").update(req.rawBody).digest("hex")) {
    throw unauthenticated("body_md5 does not match the request body");
  }

  const stringToSign = pusherStringToSign(req.method, req.path, query);
  if (!timingSafeStringEqual(authSignature, hmacHex(app.secret, stringToSign))) {
    throw unauthenticated(
      `Invalid signature: you should have sent HmacSHA256Hex(${JSON.stringify(stringToSign)}, your_secret_key), but you sent ${JSON.stringify(authSignature)}`,
    );
  }
  return app;
}

function required(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (value === null || value === "") throw unauthenticated(`Missing ${name}`);
  return value;
}

function unauthenticated(message: string): HeraldError {
  return new HeraldError(ErrorCode.Unauthenticated, message);
}
