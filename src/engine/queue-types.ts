import { randomBytes } from "node:crypto";
import type { ChannelMessage } from "./types.ts";

/**
 * Durable pull queues: a queue belongs to one app and one channel, and from its creation on
 * every message published to that channel (on any instance) is appended to it, in the same
 * atomic step as the publish. A consumer pulls (and so removes) messages when it likes.
 *
 * Guarantees every engine gives:
 * - No loss: once `publish` resolved, the message is in every queue the channel had when it was
 *   appended; a queue created after a publish never holds that message.
 * - No duplicate: each message is appended once per queue and a pull removes what it returns,
 *   atomically, so two pulls (on any instances) never return the same message.
 * - Order: `pull` returns the highest `priority` first (1–9, absent = 5), then publish order
 *   (per channel, the order of the history offsets).
 * - Expiry: a message whose `expiresAt` has passed is never returned; a pull drops it.
 * - Bounded depth: past `maxDepth` messages the queue drops the least urgent one — among the
 *   lowest priority present, the oldest — and counts it in `dropped`. The publish succeeds.
 * - Idle TTL: a queue not created or pulled from for `idleTtlSeconds` is removed (with its
 *   messages); publishes do not keep it alive.
 * - Durable on Redis: queues and their messages survive the restart of every Herald instance.
 *   The memory engine keeps them in its process only.
 * - Isolation: an app sees only its own queues; a key of another app is unknown.
 */
export interface QueueRecord {
  /** The subscription key (Zato `sub_key`). */
  readonly key: string;
  readonly channel: string;
  /** ISO-8601. */
  readonly createdAt: string;
  /** Messages waiting (expired ones included until a pull drops them). */
  readonly depth: number;
  /** Messages dropped because the queue was full. */
  readonly dropped: number;
}

export interface QueueOptions {
  /** Messages one queue holds at most. */
  readonly maxDepth?: number;
  /** A queue unused (not created or pulled from) this long is removed. */
  readonly idleTtlSeconds?: number;
}

export interface PullResult {
  /** The queue after the pull. */
  readonly queue: QueueRecord;
  /** Highest priority first, then publish order. */
  readonly messages: ChannelMessage[];
}

export interface QueueStore {
  /** A new queue of `channel`, or "limit" when the app already has `maxQueues` (live) queues. */
  create(appId: string, channel: string, maxQueues: number): Promise<QueueRecord | "limit">;
  get(appId: string, key: string): Promise<QueueRecord | undefined>;
  /** The app's queues (of `channel` only, when given), oldest first. */
  list(appId: string, channel?: string): Promise<QueueRecord[]>;
  /** Removes the queue and its messages; false when there was none. */
  delete(appId: string, key: string): Promise<boolean>;
  /** Removes and returns up to `max` messages (see the guarantees); undefined for an unknown queue. */
  pull(appId: string, key: string, max: number): Promise<PullResult | undefined>;
}

/** Priority of a message as queues order it. */
export function priorityOf(message: ChannelMessage): number {
  return message.priority ?? DEFAULT_PRIORITY;
}

export const DEFAULT_PRIORITY = 5;

/** True when the message's `expiresAt` has passed at `now` (ms). */
export function isExpired(message: ChannelMessage, now: number): boolean {
  return message.expiresAt !== undefined && Date.parse(message.expiresAt) <= now;
}

/** A fresh subscription key: `hq.` and 128 random bits in hex. */
export function newQueueKey(): string {
  return `hq.${randomBytes(16).toString("hex")}`;
}
