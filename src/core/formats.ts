import type { Limits } from "../config.ts";
import type { HttpResponseFormat, HttpStreamFormat, MessageFormats, WsMessageFormat } from "../engine/types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { isRecord } from "./validation.ts";

/**
 * GRIP formats (Fanout / Pushpin items): the rules every surface shares. A surface hands the
 * core the formats with camel-case names (`httpResponse`, `bodyBin`, …; the GRIP route maps
 * `http-response` and `http_response` to them); each rule throws a `BadRequest` naming the
 * field. Text stays text and bytes stay base64, so every engine carries them as JSON unchanged.
 */
export interface FormatsInput {
  readonly httpResponse?: unknown;
  readonly httpStream?: unknown;
  readonly wsMessage?: unknown;
}

const FORMAT_NAMES: Readonly<Record<keyof MessageFormats, string>> = {
  httpResponse: "http-response",
  httpStream: "http-stream",
  wsMessage: "ws-message",
};

// Strict base64 (RFC 4648 §4, padded): what the SDKs send; anything else would decode lossily.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// An HTTP header name (RFC 9110 token) and a value without CR, LF or NUL.
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[^\r\n\0]*$/;
/** Headers a held response may not set: the server frames the response itself. */
const FRAMING_HEADERS = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "trailer", "te"]);

export function validateFormats(input: unknown, limits: Limits): MessageFormats {
  if (!isRecord(input)) throw badFormat("formats must be an object");
  const unknown = Object.keys(input).filter((name) => !(name in FORMAT_NAMES));
  if (unknown.length > 0) {
    throw badFormat(`unknown format ${JSON.stringify(unknown[0])} (formats are http-response, http-stream and ws-message)`);
  }
  const { httpResponse, httpStream, wsMessage } = input as FormatsInput;
  const formats: { -readonly [K in keyof MessageFormats]: MessageFormats[K] } = {};
  if (httpResponse !== undefined) formats.httpResponse = validateHttpResponse(httpResponse, limits);
  if (httpStream !== undefined) formats.httpStream = validateHttpStream(httpStream);
  if (wsMessage !== undefined) formats.wsMessage = validateWsMessage(wsMessage);
  if (Object.keys(formats).length === 0) throw badFormat("an item needs at least one format (http-response, http-stream or ws-message)");
  return formats;
}

function validateHttpResponse(value: unknown, limits: Limits): HttpResponseFormat {
  const fields = formatFields(value, "http-response", ["code", "reason", "headers", "body", "bodyBin"]);
  const { reason, headers } = fields;
  // @fanoutio/grip types the code as a string ("404"); GRIP's JSON has a number. Both mean one.
  const code = typeof fields.code === "string" && /^\d{3}$/.test(fields.code) ? Number(fields.code) : (fields.code ?? 200);
  if (!Number.isInteger(code) || (code as number) < 100 || (code as number) > 599) {
    throw badFormat("http-response code must be an integer from 100 to 599");
  }
  if (reason !== undefined && (typeof reason !== "string" || !HEADER_VALUE.test(reason) || reason.length > 256)) {
    throw badFormat("http-response reason must be a string of at most 256 characters without line breaks");
  }
  let checked: Record<string, string>;
  try {
    checked = httpHeaders(headers, limits);
  } catch (error) {
    throw error instanceof HeraldError ? badFormat(`http-response headers: ${error.message}`) : error;
  }
  const content = contentOf(fields, "http-response", "body");
  return { code: code as number, ...(reason === undefined ? {} : { reason }), headers: checked, ...content };
}

function validateHttpStream(value: unknown): HttpStreamFormat {
  const fields = formatFields(value, "http-stream", ["content", "contentBin", "action"]);
  const action = actionOf(fields.action, "http-stream", ["send", "close", "hint"]);
  const content = contentOf(fields, "http-stream", "content", action !== "send");
  return { action, ...content };
}

function validateWsMessage(value: unknown): WsMessageFormat {
  const fields = formatFields(value, "ws-message", ["content", "contentBin", "action", "code"]);
  const action = actionOf(fields.action, "ws-message", ["send", "close"]);
  const content = contentOf(fields, "ws-message", "content", action === "close");
  const { code } = fields;
  if (code !== undefined) {
    if (action !== "close") throw badFormat("ws-message code is only for action close");
    // 1000 and the application range; 1005, 1006 and 1015 never go on the wire.
    if (!Number.isInteger(code) || (code as number) < 1000 || (code as number) > 4999 || [1004, 1005, 1006, 1015].includes(code as number)) {
      throw badFormat("ws-message code must be a WebSocket close code (1000-4999, not 1004-1006 or 1015)");
    }
  }
  return { action, ...content, ...(code === undefined ? {} : { code: code as number }) };
}

function formatFields(value: unknown, name: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isRecord(value)) throw badFormat(`${name} must be an object`);
  for (const field of Object.keys(value)) {
    if (!allowed.includes(field)) throw badFormat(`${name} has an unknown field ${JSON.stringify(hyphenated(field))}`);
  }
  return value;
}

function actionOf<A extends string>(value: unknown, name: string, allowed: readonly A[]): A {
  if (value === undefined) return allowed[0]!;
  if (typeof value !== "string" || !allowed.includes(value as A)) throw badFormat(`${name} action must be one of ${allowed.join(", ")}`);
  return value as A;
}

/** `body` / `body-bin` (or `content` / `content-bin`): at most one, text or strict base64. */
function contentOf(fields: Record<string, unknown>, name: string, text: "body" | "content", optional = true): Record<string, string> {
  const bin = `${text}Bin`;
  const textValue = fields[text];
  const binValue = fields[bin];
  if (textValue !== undefined && binValue !== undefined) throw badFormat(`${name} has both ${text} and ${text}-bin: give one`);
  if (textValue !== undefined) {
    if (typeof textValue !== "string") throw badFormat(`${name} ${text} must be a string`);
    return { [text]: textValue };
  }
  if (binValue !== undefined) {
    if (typeof binValue !== "string" || !BASE64.test(binValue)) throw badFormat(`${name} ${text}-bin must be base64`);
    return { [bin]: binValue };
  }
  if (!optional) throw badFormat(`${name} needs ${text} or ${text}-bin`);
  return {};
}

function httpHeaders(headers: unknown, limits: Limits): Record<string, string> {
  if (headers === undefined || headers === null) return {};
  if (!isRecord(headers)) throw new HeraldError(ErrorCode.BadRequest, "must be an object of string values");
  const entries = Object.entries(headers);
  if (entries.length > limits.maxHeaders) throw new HeraldError(ErrorCode.BadRequest, `at most ${limits.maxHeaders} headers are allowed`);
  for (const [name, value] of entries) {
    if (!HTTP_TOKEN.test(name) || name.length > 128) throw new HeraldError(ErrorCode.BadRequest, `invalid header name ${JSON.stringify(name)}`);
    if (FRAMING_HEADERS.has(name.toLowerCase())) throw new HeraldError(ErrorCode.BadRequest, `${name} is set by the server, not by an item`);
    if (typeof value !== "string" || !HEADER_VALUE.test(value)) {
      throw new HeraldError(ErrorCode.BadRequest, `header ${name} must be a string without line breaks`);
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

const hyphenated = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const badFormat = (message: string) => new HeraldError(ErrorCode.BadRequest, `Invalid format: ${message}`);

/** Bytes of text or base64 content. */
export function bytesOf(text: string | undefined, base64: string | undefined): Buffer {
  if (base64 !== undefined) return Buffer.from(base64, "base64");
  return Buffer.from(text ?? "", "utf8");
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The content as text: the text given, or the bytes decoded as UTF-8 (null when they are not UTF-8). */
export function textOf(text: string | undefined, base64: string | undefined): string | null {
  if (base64 === undefined) return text ?? "";
  try {
    return strictUtf8.decode(Buffer.from(base64, "base64"));
  } catch {
    return null;
  }
}

/**
 * A GRIP item's `data`: the `ws-message` content, else the `http-stream` content, else the
 * `http-response` body (the first that carries content), parsed as JSON when it is JSON text,
 * else the string; null when that content is bytes that are not UTF-8 text.
 */
export function dataOfFormats(formats: MessageFormats): unknown {
  const { wsMessage, httpStream, httpResponse } = formats;
  const text =
    wsMessage && wsMessage.action === "send"
      ? textOf(wsMessage.content, wsMessage.contentBin)
      : httpStream && httpStream.action === "send"
        ? textOf(httpStream.content, httpStream.contentBin)
        : httpResponse
          ? textOf(httpResponse.body, httpResponse.bodyBin)
          : null;
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Bytes the formats carry, for the payload limit: every content, header and reason. */
export function formatsSize(formats: MessageFormats): number {
  let bytes = 0;
  const { httpResponse, httpStream, wsMessage } = formats;
  if (httpResponse) {
    bytes += contentSize(httpResponse.body, httpResponse.bodyBin) + Buffer.byteLength(httpResponse.reason ?? "");
    for (const [name, value] of Object.entries(httpResponse.headers)) bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  }
  if (httpStream) bytes += contentSize(httpStream.content, httpStream.contentBin);
  if (wsMessage) bytes += contentSize(wsMessage.content, wsMessage.contentBin);
  return bytes;
}

const contentSize = (text: string | undefined, base64: string | undefined) =>
  base64 !== undefined ? Math.floor((base64.length * 3) / 4) : Buffer.byteLength(text ?? "");

/** The content's bytes in base64: as given for `*-bin`, else the text's UTF-8. */
export function base64Of(text: string | undefined, base64: string | undefined): string {
  return base64 ?? Buffer.from(text ?? "", "utf8").toString("base64");
}
