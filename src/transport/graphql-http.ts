import type { IncomingMessage, ServerResponse } from "node:http";
import { getOperationAST, type ExecutionResult } from "graphql";
import { processRegularResult } from "graphql-yoga";
import type { HeraldCore } from "../core/herald.ts";
import { isRecord } from "../core/validation.ts";
import { readBody } from "./read-body.ts";
import type { DocumentPolicy } from "./document-policy.ts";
import { httpCaller, type HeraldYoga } from "./yoga.ts";

/**
 * GraphQL over HTTP for backends, without the Fetch API layer in between.
 *
 * A backend's `POST /graphql` (JSON body, JSON response, no `Origin`: no CORS) is the hot path of
 * every GraphQL publish, and Yoga spends most of its time on it turning Node's request into a
 * Fetch `Request` and the result into a `Response`. This lane reads the body itself and runs the
 * request through Yoga's own envelop — the same plugins, parse/validate cache, context and error
 * masking as every other request — and writes the result as Yoga would (a result with errors
 * goes through Yoga's result processor, so its status and body are Yoga's).
 *
 * Whatever is not that plain case goes to Yoga untouched: GET, SSE and multipart, browsers,
 * batches, other content types, unusual parameters, and any document that does not parse or
 * validate (nothing has run yet, so Yoga answers it from the buffered body). A test sends every
 * kind of request both ways and compares the answers.
 */
export interface GraphqlHttpOptions {
  yoga: HeraldYoga;
  herald: HeraldCore;
  /** Larger bodies are left to Yoga, which refuses them with 413. */
  maxRequestBytes: number;
  /** The bounds every document passes before anything parses or caches it (shared with Yoga). */
  documents: DocumentPolicy;
  /** A request that failed outside GraphQL (its client got a 500). */
  onError?: (error: unknown) => void;
}

export interface GraphqlHttpHandler {
  /** Serves the request and returns true, or returns false (nothing read) for Yoga to serve. */
  (req: IncomingMessage, res: ServerResponse): boolean;
  /** Requests the lane executed itself, and those it read but handed to Yoga. */
  readonly counts: { readonly direct: number; readonly handedToYoga: number };
}

interface Params {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
  extensions?: Record<string, unknown> | null;
}

type Accepted = "application/json" | "application/graphql-response+json";

export function createGraphqlHttp({ yoga, herald, maxRequestBytes, documents, onError = () => {} }: GraphqlHttpOptions): GraphqlHttpHandler {
  const endpoint = yoga.graphqlEndpoint;
  const counts = { direct: 0, handedToYoga: 0 };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST" || req.url !== endpoint) return false;
    const headers = req.headers;
    if (headers.origin !== undefined || !isJson(headers["content-type"])) return false;
    const accepted = acceptedType(headers.accept);
    if (!accepted) return false;
    const length = headers["content-length"];
    if (length === undefined || !/^\d+$/.test(length) || Number(length) > maxRequestBytes) return false;
    serve(req, res, accepted).catch((error: unknown) => {
      // Not a GraphQL error (those are results): reading the body, or Yoga's fallback, failed.
      onError(error);
      if (res.writableEnded) return;
      if (res.headersSent) return void res.destroy();
      res.writeHead(500, { "Content-Type": "application/json; charset=utf-8" });
      res.end(JSON.stringify({ errors: [{ message: "Unexpected error." }] }));
    });
    return true;
  };
  return Object.assign(handler, { counts });

  async function serve(req: IncomingMessage, res: ServerResponse, accepted: Accepted) {
    const body = await readBody(req, maxRequestBytes);
    const params = body && paramsOf(body);
    if (!params) return fallback(req, res, body ?? Buffer.alloc(0));

    const headers = req.headers;
    const caller = httpCaller(herald, headers.authorization, keyHeader(headers["x-herald-key"]));
    // Anonymous callers are Yoga's, which rate-limits them before their document is looked at.
    // A document over a bound or not valid goes to Yoga before anything of Yoga's has seen it:
    // Yoga's hooks shape the error from the HTTP request (it asks the same policy, which remembers).
    if (caller.role === "anonymous" || !documents.validDocument(params.query)) return fallback(req, res, body);
    const enveloped = yoga.getEnveloped({ caller, params });
    // Through Yoga's hooks (the document policy answers from what it just found): the document
    // parses; a rule a plugin adds could still refuse it, and Yoga then says so.
    const document = enveloped.parse(params.query);
    if (enveloped.validate(enveloped.schema, document).length > 0) return fallback(req, res, body);
    const operationName = params.operationName ?? undefined;
    const operation = getOperationAST(document, operationName);
    if (!operation || operation.operation === "subscription") return fallback(req, res, body);

    const result = (await enveloped.execute({
      schema: enveloped.schema,
      document,
      contextValue: await enveloped.contextFactory(),
      variableValues: params.variables ?? undefined,
      operationName,
    })) as ExecutionResult;

    counts.direct++;
    if (result.errors === undefined && result.extensions === undefined) {
      const json = JSON.stringify(result);
      res.writeHead(200, { "Content-Type": `${accepted}; charset=utf-8`, "content-length": Buffer.byteLength(json) });
      res.end(json);
      return;
    }
    await writeResponse(res, await processRegularResult(result, yoga.fetchAPI, accepted));
  }

  /** Yoga answers from the buffered body, as if it had read the request itself. */
  async function fallback(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    counts.handedToYoga++;
    const headers = new yoga.fetchAPI.Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    const request = new yoga.fetchAPI.Request(`http://${req.headers.host ?? "localhost"}${req.url}`, { method: "POST", headers, body: body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer });
    const response = await yoga.fetch(request);
    await writeResponse(res, response);
  }
}

async function writeResponse(res: ServerResponse, response: Response) {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  headers["content-length"] = String(body.length);
  res.writeHead(response.status, response.statusText || undefined, headers);
  res.end(body);
}

/** `application/json` (any charset), as Yoga requires of a POST body. */
function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return type === "application/json";
}

/** The response type for the plain `Accept` values backends send; anything else is Yoga's to negotiate. */
function acceptedType(accept: string | undefined): Accepted | undefined {
  if (accept === undefined) return "application/json";
  const type = accept.split(";", 1)[0]!.trim().toLowerCase();
  if (accept.includes(",")) return undefined;
  if (type === "" || type === "*/*" || type === "application/json") return "application/json";
  if (type === "application/graphql-response+json") return "application/graphql-response+json";
  return undefined;
}

function keyHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The request's parameters if they are exactly what Yoga accepts without a word; else undefined. */
function paramsOf(body: Buffer): Params | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value.query !== "string") return undefined;
  for (const key in value) {
    const field = value[key];
    switch (key) {
      case "query":
        break;
      case "operationName":
        if (field != null && typeof field !== "string") return undefined;
        break;
      case "variables":
      case "extensions":
        if (field != null && !isRecord(field)) return undefined;
        break;
      default:
        return undefined;
    }
  }
  return value as unknown as Params;
}
