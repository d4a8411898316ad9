import { randomBytes } from "node:crypto";
import type { ChannelMessage } from "./types.ts";

/** Checks a message that crossed a process boundary (pub/sub payload, stored history entry). */
export function isChannelMessage(value: unknown): value is ChannelMessage {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.id === "string" &&
    typeof m.channel === "string" &&
    typeof m.event === "string" &&
    typeof m.publishedAt === "string" &&
    typeof m.headers === "object" &&
    m.headers !== null &&
    (m.offset === undefined || typeof m.offset === "number") &&
    (m.epoch === undefined || typeof m.epoch === "string")
  );
}

/** The message without `offset` and `epoch`: only the engine sets them, on publish. */
export function withoutPosition(message: ChannelMessage): ChannelMessage {
  if (message.offset === undefined && message.epoch === undefined) return message;
  const { offset: _offset, epoch: _epoch, ...rest } = message;
  return rest;
}

/** A new stream generation: 48 random bits in hex and a base-36 counter (JSON-safe, so Lua can splice it in). */
// An epoch must differ from every earlier epoch of the channel: a random per-process part and a
// counter do, without asking the system for entropy on every publish (offered to Redis with each
// append, it is used only when a channel starts a new generation).
const epochPrefix = randomBytes(6).toString("hex");
let epochCounter = 0;
export function newEpoch(): string {
  return `${epochPrefix}${(++epochCounter).toString(36)}`;
}

/** A history `limit` as a count of messages: an integer from 0 to 2^31 - 1 (NaN counts as 0). */
export function messageLimit(limit: number): number {
  return Number.isNaN(limit) ? 0 : Math.min(2 ** 31 - 1, Math.max(0, Math.floor(limit)));
}
