/**
 * The credentials GRIP and Fastly Fanout publishers send, checked against Herald's apps:
 * - `Fastly-Key: <token>` (the `fastly` client) and `Authorization: Bearer <token>` (a GRIP
 *   `key` without `control_iss`): the token is an app's secret or its `fanoutToken`;
 * - `Authorization: Bearer <JWT>` (a GRIP `control_iss` and `key`): HS256, signed with the app's
 *   secret or `fanoutToken`, `iss` the app's id, key or `fanoutServiceId`, `exp` required;
 * - `Authorization: Basic <user:pass>` (a GRIP URI's user info): the user is the app's id, key or
 *   `fanoutServiceId`, the password its secret or `fanoutToken`.
 * Secrets are compared in constant time.
 */
import type { App } from "../../config.ts";
import type { AppRegistry } from "../../core/apps.ts";
import { unverifiedJwtPayload, verifyHs256Jwt } from "../../core/auth-tokens.ts";
import { credentialsFromHttp } from "../../core/auth.ts";
import { ErrorCode, HeraldError } from "../../errors.ts";
import type { RestRequest } from "../router.ts";

/** The app whose credentials `request` carries; UNAUTHENTICATED when they are missing or wrong. */
export function authenticateGripPublisher(apps: AppRegistry, request: RestRequest): App {
  const fastlyKey = request.headers["fastly-key"];
  if (typeof fastlyKey === "string" && fastlyKey !== "") return byToken(apps, fastlyKey);
  const authorization = request.headers.authorization;
  const credentials = credentialsFromHttp(authorization, undefined);
  if (credentials.bearer !== undefined) {
    const claims = unverifiedJwtPayload(credentials.bearer);
    return claims ? byJwt(apps, credentials.bearer, claims) : byToken(apps, credentials.bearer);
  }
  if (credentials.basic !== undefined) {
    const { key: user, secret: pass } = credentials.basic;
    const app = named(apps, user);
    // Compare even for an unknown user, so timing does not tell the two apart.
    const matches = keyMatches(apps, app, pass);
    if (!app || !matches) throw unauthenticated("Invalid Basic credentials: the user is the app id or key, the password its secret");
    return app;
  }
  throw unauthenticated(
    authorization ? "Unsupported Authorization scheme" : "Missing credentials: send Fastly-Key, Authorization: Bearer <token or JWT>, or Basic",
  );
}

function byToken(apps: AppRegistry, token: string): App {
  const app = apps.byPublishToken(token);
  if (!app) throw unauthenticated("Invalid token");
  return app;
}

function byJwt(apps: AppRegistry, token: string, claims: Record<string, unknown>): App {
  const app = typeof claims.iss === "string" ? named(apps, claims.iss) : undefined;
  if (!app) throw unauthenticated("Invalid JWT: its iss must be the app id or key");
  if (claims.exp === undefined) throw unauthenticated("Invalid JWT: exp is required");
  let reason = "";
  for (const key of apps.publishKeys(app)) {
    const check = verifyHs256Jwt(key, token);
    if (check.ok) return app;
    reason = check.reason;
  }
  throw unauthenticated(`Invalid JWT: ${reason}`);
}

/** The app an `iss` or Basic user names: its id, its key, or its Fanout service id. */
function named(apps: AppRegistry, name: string): App | undefined {
  return apps.byServiceId(name) ?? apps.byKey(name);
}

function keyMatches(apps: AppRegistry, app: App | undefined, key: string): boolean {
  const candidate = apps.byPublishToken(key);
  return app !== undefined && candidate === app;
}

const unauthenticated = (message: string) => new HeraldError(ErrorCode.Unauthenticated, message);
