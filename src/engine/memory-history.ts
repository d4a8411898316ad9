import { messageLimit, newEpoch, withoutPosition } from "./channel-message.ts";
import type { ChannelMessage, HistoryOptions, HistoryResult, MessageStatusRecord } from "./types.ts";

export interface MemoryHistoryOptions {
  /** Messages kept per channel. */
  historySize?: number;
  /** A channel's history is dropped this long after its last publish. */
  historyTtlSeconds?: number;
  /** Message statuses kept at most; past it the oldest stored is forgotten before its TTL. */
  maxStatuses?: number;
  now?: () => number;
}

export interface MemoryHistory {
  /** Appends the message to its channel's stream; returns it with its `offset` and `epoch`. */
  append(appId: string, message: ChannelMessage): ChannelMessage;
  read(appId: string, channel: string, options: HistoryOptions): HistoryResult;
  claim(appId: string, id: string, windowSeconds: number): boolean;
  putStatus(appId: string, record: MessageStatusRecord, ttlSeconds: number): void;
  getStatus(appId: string, id: string): MessageStatusRecord | undefined;
  clear(): void;
}

/** One channel's stream: offsets 1…`offset` were appended; the last `historySize` are in `ring`. */
interface Stream {
  readonly epoch: string;
  offset: number;
  /** Offset n sits at index (n - 1) % historySize. */
  readonly ring: ChannelMessage[];
  expiresAt: number;
}

/** Sweeps of expired streams, claims and statuses run at most this often (they also expire when read). */
const SWEEP_INTERVAL_MS = 1_000;

/**
 * History, message-id claims and message statuses of the memory engine: a ring buffer per
 * channel, and records per id, each with a TTL and swept once expired. Statuses are also bounded
 * by count: one is kept per published message for a day by default, which at a steady 100
 * messages a second would fill the heap long before the first expired.
 */
export function createMemoryHistory(options: MemoryHistoryOptions = {}): MemoryHistory {
  const { historySize = 100, historyTtlSeconds = 600, maxStatuses = 100_000, now = Date.now } = options;
  const ttlMs = historyTtlSeconds * 1000;
  /** `${appId}\0${channel}` → stream. */
  const streams = new Map<string, Stream>();
  /** `${appId}\0${id}` → when the claim ends. */
  const claims = new Map<string, number>();
  /** `${appId}\0${id}` → the message's status, and when it is forgotten; oldest stored first. */
  const statuses = new Map<string, { record: MessageStatusRecord; expiresAt: number }>();
  const keyOf = (appId: string, name: string) => `${appId}\0${name}`;
  let nextSweep = 0;

  function sweep(at: number) {
    if (at < nextSweep) return;
    nextSweep = at + SWEEP_INTERVAL_MS;
    for (const [key, stream] of streams) if (stream.expiresAt <= at) streams.delete(key);
    for (const [key, until] of claims) if (until <= at) claims.delete(key);
    for (const [key, status] of statuses) if (status.expiresAt <= at) statuses.delete(key);
  }

  /** The channel's live stream; a new epoch at offset 0 when it has none (or it expired). */
  function streamOf(key: string, at: number): Stream {
    let stream = streams.get(key);
    if (!stream || stream.expiresAt <= at) {
      stream = { epoch: newEpoch(), offset: 0, ring: [], expiresAt: at + ttlMs };
      streams.set(key, stream);
    }
    return stream;
  }

  /** Messages with offsets from…to (inclusive), all retained. */
  function slice(stream: Stream, from: number, to: number): ChannelMessage[] {
    const messages: ChannelMessage[] = [];
    for (let offset = from; offset <= to; offset++) messages.push(stream.ring[(offset - 1) % historySize]!);
    return messages;
  }

  return {
    append(appId, message) {
      const at = now();
      sweep(at);
      const stream = streamOf(keyOf(appId, message.channel), at);
      const offset = ++stream.offset;
      const appended: ChannelMessage = { ...withoutPosition(message), offset, epoch: stream.epoch };
      if (historySize > 0) stream.ring[(offset - 1) % historySize] = appended; // 0 keeps none
      stream.expiresAt = at + ttlMs;
      return appended;
    },

    read(appId, channel, { since, limit }) {
      const at = now();
      sweep(at);
      const stream = streamOf(keyOf(appId, channel), at);
      const count = messageLimit(limit);
      const position = { offset: stream.offset, epoch: stream.epoch };
      const oldest = Math.max(1, stream.offset - historySize + 1);
      if (!since) {
        const from = Math.max(oldest, stream.offset - count + 1);
        return { messages: slice(stream, from, stream.offset), ...position, recoverable: true };
      }
      const recoverable =
        historySize > 0 && // keeping none, no position can be served: messages may have passed unkept
        since.epoch === stream.epoch &&
        Number.isSafeInteger(since.offset) &&
        since.offset >= 0 &&
        since.offset <= stream.offset &&
        (since.offset === stream.offset || since.offset + 1 >= oldest);
      if (!recoverable) return { messages: [], ...position, recoverable };
      const to = Math.min(stream.offset, since.offset + count);
      return { messages: slice(stream, since.offset + 1, to), ...position, recoverable };
    },

    claim(appId, id, windowSeconds) {
      const at = now();
      sweep(at);
      const key = keyOf(appId, id);
      const until = claims.get(key);
      if (until !== undefined && until > at) return false;
      claims.set(key, at + Math.max(1, Math.ceil(windowSeconds)) * 1000);
      return true;
    },

    putStatus(appId, record, ttlSeconds) {
      const at = now();
      sweep(at);
      const key = keyOf(appId, record.id);
      // Deleted first so that a status stored again counts as the newest.
      statuses.delete(key);
      statuses.set(key, { record, expiresAt: at + ttlSeconds * 1000 });
      // One over at most (the map only grows by one here); a Map iterates in insertion order.
      if (statuses.size > maxStatuses) statuses.delete(statuses.keys().next().value!);
    },

    getStatus(appId, id) {
      const status = statuses.get(keyOf(appId, id));
      return status && status.expiresAt > now() ? status.record : undefined;
    },

    clear() {
      streams.clear();
      claims.clear();
      statuses.clear();
    },
  };
}
