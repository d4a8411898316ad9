import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, HeraldError } from "../errors.ts";
import { validateJsonTextDepth } from "../core/json-depth.ts";
import { readBody } from "../transport/read-body.ts";

/**
 * The little HTTP layer every REST vendor adapter plugs into: a route is a method, a path
 * pattern with `:params`, a handler from a parsed request to a response, and the vendor's error
 * shape. The router matches, reads the body (bounded), answers whatever a route throws with
 * that route's error shape, and writes.
 */
export interface RestRequest {
  readonly method: string;
  /** The path as Node's URL parser normalizes it (dot segments resolved), without the query string; signatures are computed over it. */
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage["headers"];
  /** The exact bytes of the body (Pusher's body_md5 is over them). */
  readonly rawBody: Buffer;
}

export interface RestResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Serialized as JSON unless it is a string (sent as is). */
  readonly body?: unknown;
}

/** A root field of the GraphQL schema, e.g. `Mutation.publish`. */
export type GraphQLTwin = `${"Query" | "Mutation"}.${string}`;

export interface RestRoute {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /**
   * E.g. `/apps/:appId/events`; a `:name` segment matches one non-empty path segment, and a last
   * `*name` segment everything after the slash before it (slashes included; not a trailing one).
   */
  readonly path: string;
  handle(request: RestRequest): Promise<RestResponse>;
  /**
   * The GraphQL fields that call the same core function (a test checks they exist); none for a
   * route that only answers the vendor's SDK (e.g. Backendless' app info).
   */
  readonly twins: readonly GraphQLTwin[];
  /** The vendor's answer, in its own shape, for anything thrown (a `HeraldError` or not). */
  errorResponse(error: unknown): RestResponse;
}

export interface RestRouterOptions {
  /** Bodies larger than this are refused (PAYLOAD_TOO_LARGE) before the route sees them. */
  maxBodyBytes: number;
  /** JSON bodies nesting deeper than this are refused (BAD_REQUEST) before the route parses them. */
  maxJsonDepth: number;
  /** A failure answered with a 5xx: for the log. */
  onServerError(error: unknown, route: RestRoute): void;
  /** Every failure answered, by Herald's error code (for `/metrics`). */
  onError?(code: string): void;
}

interface CompiledRoute {
  route: RestRoute;
  pattern: RegExp;
  names: string[];
}

export type RestHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Returns a handler that serves a matching route and returns true, or returns false. */
export function createRestRouter(routes: readonly RestRoute[], options: RestRouterOptions): RestHandler {
  const compiled: CompiledRoute[] = routes.map((route) => {
    const names: string[] = [];
    const source = route.path
      .split("/")
      .map((segment) => {
        if (segment.startsWith("*")) {
          names.push(segment.slice(1));
          return "(.+?)";
        }
        if (!segment.startsWith(":")) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        names.push(segment.slice(1));
        return "([^/]+)";
      })
      .join("/");
    return { route, pattern: new RegExp(`^${source}/?$`), names };
  });

  const byMethod = new Map<string, CompiledRoute[]>();
  for (const entry of compiled) byMethod.set(entry.route.method, [...(byMethod.get(entry.route.method) ?? []), entry]);

  return (req, res) => {
    const candidates = byMethod.get(req.method ?? "");
    if (!candidates) return false;
    const url = new URL(req.url ?? "/", "http://herald.local");
    for (const { route, pattern, names } of candidates) {
      const match = pattern.exec(url.pathname);
      if (!match) continue;
      const params: Record<string, string> = {};
      try {
        names.forEach((name, i) => (params[name] = decodeURIComponent(match[i + 1]!)));
      } catch {
        continue; // a malformed %-escape matches no route
      }
      void serve(route, params, url, req, res);
      return true;
    }
    return false;
  };

  async function serve(route: RestRoute, params: Record<string, string>, url: URL, req: IncomingMessage, res: ServerResponse) {
    let response: RestResponse;
    try {
      const rawBody = await readBody(req, options.maxBodyBytes);
      if (rawBody === undefined) {
        throw new HeraldError(ErrorCode.PayloadTooLarge, `Request body is larger than ${options.maxBodyBytes} bytes`, { limit: options.maxBodyBytes });
      }
      validateJsonTextDepth(rawBody, { maxJsonDepth: options.maxJsonDepth });
      response = await route.handle({ method: req.method!, path: url.pathname, params, query: url.searchParams, headers: req.headers, rawBody });
    } catch (error) {
      response = route.errorResponse(error);
      options.onError?.(error instanceof HeraldError ? error.code : ErrorCode.Internal);
      if (response.status >= 500) options.onServerError(error, route);
      // A rate-limited caller learns when to retry, whatever the vendor's body says.
      const retryAfter = error instanceof HeraldError ? error.details.retryAfterSeconds : undefined;
      if (retryAfter !== undefined) response = { ...response, headers: { ...response.headers, "retry-after": String(retryAfter) } };
    }
    const isText = typeof response.body === "string";
    const body = response.body === undefined ? "" : isText ? (response.body as string) : JSON.stringify(response.body);
    // With its length stated the body goes out as is (not chunked), headers and body in one write.
    res.writeHead(response.status, {
      "content-type": isText ? "text/plain; charset=utf-8" : "application/json",
      "content-length": String(Buffer.byteLength(body)),
      ...response.headers,
    });
    res.end(body);
  }
}
