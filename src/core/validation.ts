import type { Limits } from "../config.ts";
import { ErrorCode, HeraldError } from "../errors.ts";

/** Input rules shared by every surface; each throws a `HeraldError` naming what is wrong. */

const CHANNEL_NAME = /^[A-Za-z0-9_\-=@,.;:/#]+$/;
const HEADER_NAME = /^[A-Za-z_$][A-Za-z0-9_$.\-]*$/;
const SOCKET_ID = /^\d+\.\d+$/;
// Printable ASCII without spaces: safe in URLs, logs and Redis keys.
const MESSAGE_ID = /^[\x21-\x7e]+$/;

export function validateChannelName(name: unknown, limits: Limits): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new HeraldError(ErrorCode.InvalidChannelName, "Channel name must be a non-empty string");
  }
  if (name.length > limits.maxChannelNameLength) {
    throw new HeraldError(
      ErrorCode.InvalidChannelName,
      `Channel name is longer than ${limits.maxChannelNameLength} characters`,
      { limit: limits.maxChannelNameLength },
    );
  }
  if (!CHANNEL_NAME.test(name)) {
    throw new HeraldError(
      ErrorCode.InvalidChannelName,
      `Invalid channel name ${JSON.stringify(name)}: allowed characters are A-Z a-z 0-9 _ - = @ , . ; : / #`,
    );
  }
  return name;
}

export function validateChannelList(channels: readonly unknown[], limits: Limits): string[] {
  if (channels.length === 0) throw new HeraldError(ErrorCode.BadRequest, "At least one channel is required");
  if (channels.length > limits.maxChannelsPerPublish) {
    throw new HeraldError(
      ErrorCode.TooManyChannels,
      `A message may be published to at most ${limits.maxChannelsPerPublish} channels, got ${channels.length}`,
      { limit: limits.maxChannelsPerPublish },
    );
  }
  const names = channels.map((c) => validateChannelName(c, limits));
  return [...new Set(names)];
}

export function validateEventName(name: unknown, limits: Limits): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new HeraldError(ErrorCode.InvalidEventName, "Event name must be a non-empty string");
  }
  if (name.length > limits.maxEventNameLength) {
    throw new HeraldError(ErrorCode.InvalidEventName, `Event name is longer than ${limits.maxEventNameLength} characters`, {
      limit: limits.maxEventNameLength,
    });
  }
  if (name.startsWith("herald:")) {
    throw new HeraldError(ErrorCode.InvalidEventName, 'Event names starting with "herald:" are reserved');
  }
  if (/[\x00-\x1f\x7f]/.test(name)) {
    throw new HeraldError(ErrorCode.InvalidEventName, "Event name must not contain control characters");
  }
  return name;
}

export function validateHeaders(headers: unknown, limits: Limits): Record<string, string> {
  if (headers === undefined || headers === null) return {};
  if (typeof headers !== "object" || Array.isArray(headers)) {
    throw new HeraldError(ErrorCode.InvalidHeaders, "Headers must be an object of string values");
  }
  const entries = Object.entries(headers);
  if (entries.length > limits.maxHeaders) {
    throw new HeraldError(ErrorCode.InvalidHeaders, `At most ${limits.maxHeaders} headers are allowed`, { limit: limits.maxHeaders });
  }
  const result: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (!HEADER_NAME.test(name) || name.length > 128) {
      throw new HeraldError(ErrorCode.InvalidHeaders, `Invalid header name ${JSON.stringify(name)}`);
    }
    if (typeof value !== "string") {
      throw new HeraldError(ErrorCode.InvalidHeaders, `Header ${name} must be a string`);
    }
    if (value.length > limits.maxHeaderValueLength) {
      throw new HeraldError(
        ErrorCode.InvalidHeaders,
        `Header ${name} is longer than ${limits.maxHeaderValueLength} characters (HERALD_MAX_HEADER_VALUE_LENGTH)`,
        { limit: limits.maxHeaderValueLength, setting: "HERALD_MAX_HEADER_VALUE_LENGTH" },
      );
    }
    result[name] = value;
  }
  return result;
}

/**
 * Size of what a message carries: a string `data` by its UTF-8 bytes (so Pusher's "10 KiB of
 * data" means exactly that), any other value by its JSON, plus each header's name and value.
 */
export function validatePayloadSize(data: unknown, headers: Record<string, string>, maxBytes: number, dataBytes?: number): void {
  // `dataBytes`: what the content weighs when it is not `data` (a GRIP item's formats, which `data` repeats).
  let bytes = dataBytes ?? (typeof data === "string" ? Buffer.byteLength(data) : Buffer.byteLength(JSON.stringify(data ?? null)));
  for (const [name, value] of Object.entries(headers)) bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  if (bytes > maxBytes) {
    throw new HeraldError(ErrorCode.PayloadTooLarge, `Message is ${bytes} bytes, over the limit of ${maxBytes} bytes`, {
      limit: maxBytes,
      size: bytes,
    });
  }
}

/** A message's `publisherId`: absent, or a string of at most `maxPublisherIdLength` characters. */
export function validatePublisherId(id: unknown, limits: Limits): string | undefined {
  if (id == null) return undefined;
  if (typeof id !== "string" || id.length > limits.maxPublisherIdLength) {
    throw new HeraldError(ErrorCode.BadRequest, `publisherId must be a string of at most ${limits.maxPublisherIdLength} characters`, {
      limit: limits.maxPublisherIdLength,
    });
  }
  return id;
}

export function validateMessageId(id: unknown, limits: Limits): string {
  if (typeof id !== "string" || id.length === 0 || id.length > limits.maxMessageIdLength || !MESSAGE_ID.test(id)) {
    throw new HeraldError(
      ErrorCode.InvalidMessageId,
      `Message id must be 1-${limits.maxMessageIdLength} printable ASCII characters without spaces`,
      { limit: limits.maxMessageIdLength },
    );
  }
  return id;
}

export function validateSocketId(socketId: unknown): string {
  if (typeof socketId !== "string" || !SOCKET_ID.test(socketId) || socketId.length > 64) {
    throw new HeraldError(ErrorCode.InvalidSocketId, `Invalid socket id ${JSON.stringify(socketId)}: expected digits.digits`);
  }
  return socketId;
}

/** A plain JSON object (not null, not an array): what a parsed body or token payload must be. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
