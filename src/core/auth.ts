import type { AppRegistry } from "./apps.ts";
import type { Caller } from "./types.ts";

/** Credentials as a surface found them, before anything is checked. */
export interface Credentials {
  /** `Authorization: Bearer <secret>`. */
  readonly bearer?: string | undefined;
  /** `Authorization: Basic base64(key:secret)`. */
  readonly basic?: { readonly key: string; readonly secret: string } | undefined;
  /** The public app key (`connectionParams.key`, `?key=`, `X-Herald-Key`). */
  readonly key?: string | undefined;
}

/**
 * Who is calling. A secret makes a backend; a key alone makes a subscriber. Wrong credentials
 * make an anonymous caller that remembers why, so the error names the actual problem.
 */
export function authenticate(apps: AppRegistry, credentials: Credentials): Caller {
  if (credentials.bearer !== undefined) {
    const app = apps.bySecret(credentials.bearer);
    return app ? { role: "backend", app } : { role: "anonymous", problem: "Invalid app secret" };
  }
  if (credentials.basic !== undefined) {
    const app = apps.byKey(credentials.basic.key);
    if (!app || !apps.secretMatches(app, credentials.basic.secret)) return { role: "anonymous", problem: "Invalid app key or secret" };
    return { role: "backend", app };
  }
  if (credentials.key !== undefined) {
    const app = apps.byKey(credentials.key);
    return app ? { role: "subscriber", app } : { role: "anonymous", problem: "Unknown app key" };
  }
  return { role: "anonymous" };
}

/** Reads `Authorization` (Bearer or Basic) and the key header/parameter of an HTTP request. */
export function credentialsFromHttp(authorization: string | null | undefined, key: string | null | undefined): Credentials {
  const match = /^(Bearer|Basic)\s+(\S+)\s*$/i.exec(authorization ?? "");
  const keyPart = key ? { key } : {};
  if (!match) return keyPart;
  const [, scheme, value] = match as unknown as [string, string, string];
  if (scheme.toLowerCase() === "bearer") return { ...keyPart, bearer: value };
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return { ...keyPart, basic: { key: decoded, secret: "" } };
  return { ...keyPart, basic: { key: decoded.slice(0, colon), secret: decoded.slice(colon + 1) } };
}
