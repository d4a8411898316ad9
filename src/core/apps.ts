import { createHash, timingSafeEqual } from "node:crypto";
import type { App } from "../config.ts";
import { ErrorCode, HeraldError } from "../errors.ts";

/** Looks apps up by id, key and secret; secrets are compared in constant time. */
export interface AppRegistry {
  readonly all: readonly App[];
  byId(id: string): App | undefined;
  byKey(key: string): App | undefined;
  /** The app whose secret this is (a backend's `Authorization: Bearer <secret>`). */
  bySecret(secret: string): App | undefined;
  /** True when `secret` is `app`'s secret, compared in constant time. */
  secretMatches(app: App, secret: string): boolean;
  /** The app a Fastly Fanout service id names: its id, or its `fanoutServiceId`. */
  byServiceId(serviceId: string): App | undefined;
  /** The app whose GRIP publish token this is: its secret, or its `fanoutToken` (constant time). */
  byPublishToken(token: string): App | undefined;
  /** The secrets a GRIP publisher may hold for `app`: its secret, and its `fanoutToken` when set. */
  publishKeys(app: App): readonly string[];
}

const digest = (text: string) => createHash("sha256").update(text).digest();

export function createAppRegistry(apps: readonly App[]): AppRegistry {
  const byId = new Map(apps.map((a) => [a.id, a]));
  const byKey = new Map(apps.map((a) => [a.key, a]));
  // Compare fixed-length digests so neither the secret's length nor its content leaks in timing.
  const secretDigests = apps.map((app) => ({ app, digest: digest(app.secret) }));
  const secretMatches = (app: App, secret: string) => timingSafeEqual(digest(app.secret), digest(secret));
  const byServiceId = new Map(apps.flatMap((a) => [[a.id, a] as const, ...(a.fanoutServiceId ? [[a.fanoutServiceId, a] as const] : [])]));
  const publishKeys = (app: App) => (app.fanoutToken === undefined ? [app.secret] : [app.secret, app.fanoutToken]);
  const tokenDigests = apps.flatMap((app) => publishKeys(app).map((key) => ({ app, digest: digest(key) })));
  return {
    all: apps,
    byId: (id) => byId.get(id),
    byKey: (key) => byKey.get(key),
    bySecret: (secret) => findByDigest(secretDigests, secret),
    secretMatches,
    byServiceId: (id) => byServiceId.get(id),
    byPublishToken: (token) => findByDigest(tokenDigests, token),
    publishKeys,
  };
}

/** The app whose secret digests to `text`'s; every entry is compared, so timing tells nothing. */
function findByDigest(entries: readonly { app: App; digest: Buffer }[], text: string): App | undefined {
  const given = digest(text);
  let found: App | undefined;
  for (const entry of entries) if (timingSafeEqual(entry.digest, given)) found = entry.app;
  return found;
}

/** Rejects a disabled app the same way on every surface. */
export function assertEnabled(app: App): App {
  if (!app.enabled) throw new HeraldError(ErrorCode.Forbidden, `App ${app.id} is disabled`);
  return app;
}

/** Stands in for an unknown app in a constant-time secret comparison; matches no secret a request can send. */
export const PLACEHOLDER_APP: App = Object.freeze({ id: "", key: "", secret: "\0no app\0", name: "", enabled: false });
