/**
 * Zato pub/sub REST requests, parsed once into typed values. Only the shape is read here; the
 * rules (topic names, priority 1–9, expiration, payload size) are the core's, so a bad value
 * reaches the core as it was sent and comes back as a 400 naming it.
 * See https://zato.io/en/docs/3.2/pubsub/api/rest.html
 */
import { ErrorCode, HeraldError } from "../../errors.ts";
import type { RestRequest } from "../router.ts";

/** A publish option from the query (`?priority=`) or its `X-Zato-PubSub-…` header; the query wins. */
function option(request: RestRequest, name: string, header: string): string | undefined {
  const fromQuery = request.query.get(name);
  if (fromQuery !== null) return fromQuery;
  const value = request.headers[header];
  return Array.isArray(value) ? value[0] : value;
}

/** Digits become a number; anything else stays the text it was, for the core to refuse by name. */
function integerOf(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  return /^\d{1,15}$/.test(value.trim()) ? Number(value) : value;
}

/**
 * The MIME type Zato gives a message: `mime_type` when sent, else the request's Content-Type,
 * except curl's default form type (and none at all), which Zato reads as `text/json`.
 */
function mimeTypeOf(request: RestRequest): string {
  const given = option(request, "mime_type", "x-zato-pubsub-mime-type");
  if (given !== undefined) return given;
  const contentType = request.headers["content-type"];
  if (contentType === undefined || contentType === "" || /^application\/x-www-form-urlencoded\b/i.test(contentType)) return "text/json";
  return contentType;
}

export interface ZatoPublish {
  /** The raw body as text, byte for byte. */
  readonly data: string;
  readonly mimeType: string;
  readonly priority: unknown;
  /** Seconds. */
  readonly expiresIn: unknown;
  /** `msg_id`: an idempotency key when given. */
  readonly id: string | undefined;
}

export function parsePublish(request: RestRequest): ZatoPublish {
  if (request.rawBody.length === 0) throw new HeraldError(ErrorCode.BadRequest, "The request body is the message payload, and it is empty");
  const data = request.rawBody.toString("utf8");
  if (!Buffer.from(data, "utf8").equals(request.rawBody)) {
    throw new HeraldError(ErrorCode.BadRequest, "The payload is not UTF-8 text; encode binary data (base64) before publishing it");
  }
  return {
    data,
    mimeType: mimeTypeOf(request),
    priority: integerOf(option(request, "priority", "x-zato-pubsub-priority")),
    expiresIn: integerOf(option(request, "expiration", "x-zato-pubsub-expiration")),
    id: option(request, "msg_id", "x-zato-pubsub-msg-id"),
  };
}

/** The subscription key: the `X-Zato-PubSub-Key` header, or `?sub_key=` as older Zato clients send it. */
export function subKeyOf(request: RestRequest): string {
  const key = option(request, "sub_key", "x-zato-pubsub-key");
  if (key === undefined || key === "") throw new HeraldError(ErrorCode.BadRequest, "The subscription key is required: send it in the X-Zato-PubSub-Key header");
  return key;
}

/** `max` messages to return (query or `X-Zato-PubSub-Max`); absent: the core's default. */
export function maxOf(request: RestRequest): number | undefined {
  const value = option(request, "max", "x-zato-pubsub-max");
  if (value === undefined) return undefined;
  const max = integerOf(value);
  if (typeof max !== "number") throw new HeraldError(ErrorCode.BadRequest, `max must be a whole number, got ${JSON.stringify(value)}`);
  return max;
}

/** HTTP Basic `user:password` (Zato's producers and consumers authenticate with Basic). */
export function basicCredentials(request: RestRequest): { user: string; password: string } | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
