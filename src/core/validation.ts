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

/** Longest expiry a message may ask for: ten years, in seconds. */
const MAX_EXPIRY_SECONDS = 10 * 365 * 24 * 3600;
/** A content type as RFC 6838 spells one, parameters allowed: printable ASCII. */
const MIME_TYPE = /^[\x20-\x7e]{1,200}$/;

/** A message's priority: absent, or a whole number from 1 to 9 (higher is pulled first). */
export function validatePriority(priority: unknown): number | undefined {
  if (priority == null) return undefined;
  if (typeof priority !== "number" || !Number.isInteger(priority) || priority < 1 || priority > 9) {
    throw new HeraldError(ErrorCode.BadRequest, `priority must be a whole number from 1 to 9, got ${JSON.stringify(priority)}`);
  }
  return priority;
}

/** A message's content type: absent, or 1-200 printable ASCII characters. */
export function validateMimeType(mimeType: unknown): string | undefined {
  if (mimeType == null) return undefined;
  if (typeof mimeType !== "string" || !MIME_TYPE.test(mimeType)) {
    throw new HeraldError(ErrorCode.BadRequest, "mimeType must be 1-200 printable ASCII characters");
  }
  return mimeType;
}

/** When a message expires: `expiresIn` seconds after it is published, or at `expiresAt`; not both. */
export interface Expiry {
  readonly expiresIn?: number | undefined;
  /** Milliseconds since the epoch. */
  readonly expiresAt?: number | undefined;
}

export function validateExpiry(expiresIn: unknown, expiresAt: unknown, now: number): Expiry {
  if (expiresIn != null && expiresAt != null) throw new HeraldError(ErrorCode.BadRequest, "Give expiresIn or expiresAt, not both");
  if (expiresIn != null) {
    if (typeof expiresIn !== "number" || !Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_EXPIRY_SECONDS) {
      throw new HeraldError(ErrorCode.BadRequest, `expiresIn must be a whole number of seconds from 1 to ${MAX_EXPIRY_SECONDS}, got ${JSON.stringify(expiresIn)}`);
    }
    return { expiresIn };
  }
  if (expiresAt != null) {
    if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) throw new HeraldError(ErrorCode.BadRequest, "expiresAt is not a valid time");
    if (expiresAt.getTime() <= now) {
      throw new HeraldError(ErrorCode.BadRequest, `expiresAt ${expiresAt.toISOString()} is not in the future (server time ${new Date(now).toISOString()})`);
    }
    return { expiresAt: expiresAt.getTime() };
  }
  return {};
}
