/**
 * The engine contract: what `core/` needs from a broker and a store. Two implementations sit
 * side by side — `memory.ts` (one process) and `redis.ts` (any number of instances on one Redis)
 * — and one contract test suite (`test/engine-contract.test.ts`, `test/engine-history-contract.test.ts`)
 * runs against both.
 *
 * Guarantees every engine gives:
 * - Ordering: messages a caller publishes to one channel, in one `publish` call or in calls it
 *   awaited one after another, reach every subscriber of that channel in that order. Across
 *   callers and instances, every subscriber of a channel receives its history messages in offset
 *   order, the order in which they were appended.
 * - Offsets: each message appended to a channel's history gets the next offset (1, 2, 3, … with
 *   no gap) and the stream's `epoch`; the subscriber receives the message with both, and
 *   `history` returns it with the same fields. Assigning the offset, appending and fanning out
 *   are one atomic step, so a reader that subscribes first and then reads `history` misses
 *   nothing in between: it gets every later offset live. It must drop live offsets it already
 *   has for as long as they come, not only while draining a buffer: on Redis, live messages
 *   travel on another connection and may arrive after `history` already returned them.
 *   Messages published with `history: false` get no offset and are only fanned out.
 * - Bounded history: a channel keeps its last `historySize` messages, for `historyTtlSeconds`
 *   after its last publish; then the whole stream expires.
 * - Epochs: the epoch changes whenever the stream's history is lost (expired, or the store lost
 *   it); offsets then restart at 1. Within one epoch an offset names one message forever.
 *   A channel that has no stream gets a fresh epoch at offset 0 when it is first read, kept
 *   until it expires, so a position read before the first publish stays resumable.
 * - Recoverable: `history(since)` returns every message after `since` (up to `limit`; read again
 *   from the last one for more) or says `recoverable: false` — another epoch, messages after it
 *   no longer retained, or a `historySize` of 0 (nothing is kept, so `history: false` messages
 *   may have passed) — and never silently skips.
 * - Idempotency: `claimMessageId` says true once per app and id within the window, on any
 *   instance.
 * - No loss after subscribe: once `subscribe` resolves, the broker has confirmed the
 *   subscription, and every message published to the channel after that (on any instance) is
 *   handed to the listener, exactly once.
 * - No silent gap across a broker reconnect: a Redis that restarts, or a subscriber connection
 *   that drops, loses the messages published until the engine subscribed again. The engine
 *   then hands the listener those it finds in the history, in offset order, before anything
 *   newer; the ones the history no longer has (Redis restarted without persistence, another
 *   epoch, trimmed) it reports with `onLost` and the position delivery continues from.
 * - Unsubscribe: `EngineSubscription.close()` is idempotent; after it returns the listener is
 *   never called again, and the subscription no longer counts.
 * - Isolation: an app sees only its own channels, counts and records.
 * - Counts: `channelInfo` / `channels` count live subscriptions on every instance; an instance
 *   that died without cleaning up stops counting once its heartbeat is older than the TTL. On
 *   Redis, an instance that reconnects sets its counts (and heartbeat) again: right after a
 *   restart without persistence, never counted twice after one with it.
 */
import type { ScheduleStore } from "./schedule-types.ts";
import type { QueueStore } from "./queue-types.ts";
import type { WebhookStore } from "./webhook-types.ts";

/** One message on one channel, as it travels through the broker. */
export interface ChannelMessage {
  /** Presence and subscription count events; absent for ordinary messages. */
  readonly kind?: "MEMBER_ADDED" | "MEMBER_REMOVED" | "SUBSCRIPTION_COUNT" | undefined;
  readonly id: string;
  readonly channel: string;
  readonly event: string;
  /** Any JSON value; a string stays a string. */
  readonly data: unknown;
  readonly headers: Readonly<Record<string, string>>;
  readonly publisherId?: string | undefined;
  /** 1–9, higher first in pull queues; absent means 5. */
  readonly priority?: number | undefined;
  /** Content type of `data` (Zato `mime_type`). */
  readonly mimeType?: string | undefined;
  /** ISO-8601: after this the message is delivered to nobody (live, history or queue). */
  readonly expiresAt?: string | undefined;
  /** ISO-8601 server time. */
  readonly publishedAt: string;
  /** Not stored: the connection that must not receive this message (Pusher `socket_id`). */
  readonly excludeSocketId?: string | undefined;
  /** Set by the engine on publish: position in the channel's history (absent with `history: false`). */
  readonly offset?: number | undefined;
  /** Set by the engine on publish, with `offset`: the generation of the channel's history stream. */
  readonly epoch?: string | undefined;
  /** GRIP formats (a Fanout / Pushpin item's `http-response`, `http-stream`, `ws-message`); absent for plain publishes. */
  readonly formats?: MessageFormats | undefined;
  /** GRIP `prev-id`: the id of the message this one follows on its channel. */
  readonly prevId?: string | undefined;
}

/**
 * A GRIP item's formats, as validated by the core (core/formats.ts). Content is either text
 * (`body`, `content`) or bytes in base64 (`bodyBin`, `contentBin`), never both, so a message stays
 * JSON on every engine and binary content round-trips byte for byte.
 */
export interface MessageFormats {
  readonly httpResponse?: HttpResponseFormat | undefined;
  readonly httpStream?: HttpStreamFormat | undefined;
  readonly wsMessage?: WsMessageFormat | undefined;
}

export interface HttpResponseFormat {
  /** Status code; 200 when the item gave none. */
  readonly code: number;
  readonly reason?: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  readonly bodyBin?: string | undefined;
}

export interface HttpStreamFormat {
  readonly action: "send" | "close" | "hint";
  readonly content?: string | undefined;
  readonly contentBin?: string | undefined;
}

export interface WsMessageFormat {
  readonly action: "send" | "close";
  readonly content?: string | undefined;
  readonly contentBin?: string | undefined;
  /** Close code of `action: close`. */
  readonly code?: number | undefined;
}

export interface EnginePublishOptions {
  /** Append to the channel's history and assign an offset (default true); false only fans out. */
  readonly history?: boolean | undefined;
  /**
   * Message statuses to store, each readable with `getMessageStatus` for `ttlSeconds`, in the
   * same step as the publish: a reader that sees a message delivered also finds its status.
   */
  readonly statuses?: { readonly records: readonly MessageStatusRecord[]; readonly ttlSeconds: number } | undefined;
}

/** A position in a channel's history: the last offset a client has, and the stream it came from. */
export interface StreamPosition {
  readonly offset: number;
  readonly epoch: string;
}

export interface HistoryOptions {
  /** Messages after this position; without it, the latest messages. */
  readonly since?: StreamPosition | undefined;
  /** At most this many messages (the oldest ones after `since`, or the latest ones without it). */
  readonly limit: number;
}

export interface HistoryResult {
  /** Oldest first, exactly as they were delivered live (same fields, offset and epoch). */
  readonly messages: ChannelMessage[];
  /** The channel's current position: the offset of its last message (0 when empty) and its epoch. */
  readonly offset: number;
  readonly epoch: string;
  /**
   * False when `since` can no longer be served: another epoch, an offset the stream never had,
   * or messages after it already trimmed or expired. `messages` is then empty. Always true
   * without `since`.
   */
  readonly recoverable: boolean;
}

export type MessageListener = (message: ChannelMessage) => void;

/**
 * Messages of the channel were lost before they reached this listener and cannot be delivered
 * (see "No silent gap" above): every message after `position` follows, in order.
 */
export type LostListener = (position: StreamPosition) => void;

export interface EngineSubscription {
  /** Idempotent; resolves once the listener is detached and the subscription uncounted. */
  close(): Promise<void>;
}

export interface ChannelCounts {
  readonly name: string;
  readonly subscriptionCount: number;
}

export interface PresenceMember {
  readonly userId: string;
  /** Any JSON the backend attached to the user. */
  readonly info: unknown;
}

/**
 * Called with the members that left because their instance died, or whose leave could not
 * reach the store and was finished later (see `PresenceStore`).
 */
export type ExpiredMembersListener = (appId: string, channel: string, members: readonly PresenceMember[]) => void;

/**
 * Who is in each presence channel. A member is a user; one user may be present through several
 * connections and is present until the last one leaves.
 *
 * Guarantees: membership is shared by every instance; `join`/`leave` say whether the user's
 * presence changed, so exactly one MEMBER_ADDED / MEMBER_REMOVED is published per change (from
 * the instance that caused it); an instance that dies without leaving stops counting once its
 * heartbeat is older than the instance TTL, and one surviving instance reports its members as
 * expired through `onExpired` (reaped by heartbeats, never by asking every instance). A store
 * that lost its state (Redis restarted) gets every live instance's members back once that
 * instance reconnects, and a leave that failed meanwhile is finished then, reported the same way.
 * The member limit is checked before adding; concurrent joins on several instances may pass it
 * by a few.
 */
export interface PresenceStore {
  join(appId: string, channel: string, socketId: string, member: PresenceMember, maxMembers: number): Promise<"added" | "present" | "full">;
  /** True when that was the user's last connection in the channel. */
  leave(appId: string, channel: string, socketId: string, userId: string): Promise<boolean>;
  /** Distinct present users, by user id. */
  members(appId: string, channel: string): Promise<PresenceMember[]>;
  onExpired(listener: ExpiredMembersListener): void;
}

export type MessageStatusCode = "SCHEDULED" | "PUBLISHED" | "CANCELLED" | "FAILED";

export interface MessageStatusRecord {
  readonly id: string;
  readonly status: MessageStatusCode;
  readonly channels: readonly string[];
  readonly publishedAt?: string | undefined;
  readonly runs: number;
  readonly lastPublishedAt?: string | undefined;
  readonly nextRunAt?: string | undefined;
  readonly errorMessage?: string | undefined;
}

/**
 * The broker and store behind the core. A method that cannot reach its backing store (Redis
 * down) rejects with a `HeraldError` ENGINE_UNAVAILABLE, which every surface answers with 503;
 * any other rejection is a bug or an error reply and surfaces as an internal error.
 */
export interface Engine {
  readonly kind: "memory" | "redis";
  readonly presence: PresenceStore;
  /** Delayed and repeating publications (guarantees in schedule-types.ts). */
  readonly schedules: ScheduleStore;
  /** Durable pull queues, appended to by `publish` (guarantees in queue-types.ts). */
  readonly queues: QueueStore;
  /** Redis: how often the connection to Redis came back after it dropped (for `/metrics`). */
  readonly stats?: { readonly reconnects: number };
  /** Outbound notifications and watch channels (guarantees in webhook-types.ts). */
  readonly webhooks: WebhookStore;

  /**
   * Appends each message to its channel's history (unless `options.history` is false), sets its
   * `offset` and `epoch`, and fans it out to the channel's subscribers on every instance, in
   * array order per channel; stores `options.statuses` with it; and appends each message to
   * every pull queue of its channel, in the same atomic step.
   */
  publish(appId: string, messages: readonly ChannelMessage[], options?: EnginePublishOptions): Promise<void>;

  /** Reads a channel's history and its current position (see `HistoryResult`). */
  history(appId: string, channel: string, options: HistoryOptions): Promise<HistoryResult>;

  /**
   * True the first time `id` is claimed in this app within `windowSeconds` (on any instance),
   * false while the claim lasts. The core claims a caller-supplied message id before publishing.
   */
  claimMessageId(appId: string, id: string, windowSeconds: number): Promise<boolean>;

  /**
   * Resolves once the broker confirmed the subscription (see the guarantees above). `onLost`
   * hears of messages the engine lost and could not recover (never, in memory).
   */
  subscribe(appId: string, channel: string, listener: MessageListener, onLost?: LostListener): Promise<EngineSubscription>;

  channelCounts(appId: string, channel: string): Promise<ChannelCounts>;

  /** Occupied channels (subscriptionCount > 0) whose name starts with `prefix`, by name, at most `first`. */
  occupiedChannels(appId: string, prefix: string, first: number): Promise<ChannelCounts[]>;

  /**
   * A status stored with a publish (`statuses`), until its `ttlSeconds` pass. The memory engine
   * keeps a bounded number (`HERALD_MEMORY_MAX_STATUSES`) and forgets the oldest stored sooner.
   */
  getMessageStatus(appId: string, id: string): Promise<MessageStatusRecord | undefined>;

  /** Resolves when the backing store answers; rejects otherwise (used by `/readyz`). */
  ping(): Promise<void>;

  /** Detaches every subscription, uncounts them, and releases connections. */
  close(): Promise<void>;
}
