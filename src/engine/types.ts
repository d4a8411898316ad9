/**
 * The engine contract: what `core/` needs from a broker and a store. Two implementations sit
 * side by side — `memory.ts` (one process) and `redis.ts` (any number of instances on one Redis)
 * — and one contract test suite (`test/engine-contract.test.ts`) runs against both.
 *
 * Guarantees every engine gives:
 * - Ordering: messages a caller publishes to one channel, in one `publish` call or in calls it
 *   awaited one after another, reach every subscriber of that channel in that order.
 * - No loss after subscribe: once `subscribe` resolves, the broker has confirmed the
 *   subscription, and every message published to the channel after that (on any instance) is
 *   handed to the listener, exactly once.
 * - Unsubscribe: `EngineSubscription.close()` is idempotent; after it returns the listener is
 *   never called again, and the subscription no longer counts.
 * - Isolation: an app sees only its own channels, counts and records.
 * - Counts: `channelInfo` / `channels` count live subscriptions on every instance; an instance
 *   that died without cleaning up stops counting once its heartbeat is older than the TTL.
 */

/** One message on one channel, as it travels through the broker. */
export interface ChannelMessage {
  readonly id: string;
  readonly channel: string;
  readonly event: string;
  /** Any JSON value; a string stays a string. */
  readonly data: unknown;
  readonly headers: Readonly<Record<string, string>>;
  readonly publisherId?: string | undefined;
  /** ISO-8601 server time. */
  readonly publishedAt: string;
  /** Not stored: the connection that must not receive this message (Pusher `socket_id`). */
  readonly excludeSocketId?: string | undefined;
}

export type MessageListener = (message: ChannelMessage) => void;

export interface EngineSubscription {
  /** Idempotent; resolves once the listener is detached and the subscription uncounted. */
  close(): Promise<void>;
}

export interface ChannelCounts {
  readonly name: string;
  readonly subscriptionCount: number;
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

export interface Engine {
  readonly kind: "memory" | "redis";

  /** Fans the messages out to their channels' subscribers on every instance, in array order. */
  publish(appId: string, messages: readonly ChannelMessage[]): Promise<void>;

  /** Resolves once the broker confirmed the subscription (see the guarantees above). */
  subscribe(appId: string, channel: string, listener: MessageListener): Promise<EngineSubscription>;

  channelCounts(appId: string, channel: string): Promise<ChannelCounts>;

  /** Occupied channels (subscriptionCount > 0) whose name starts with `prefix`, by name, at most `first`. */
  occupiedChannels(appId: string, prefix: string, first: number): Promise<ChannelCounts[]>;

  /** Stores a message's status for `ttlSeconds`. */
  putMessageStatus(appId: string, record: MessageStatusRecord, ttlSeconds: number): Promise<void>;
  getMessageStatus(appId: string, id: string): Promise<MessageStatusRecord | undefined>;

  /** Resolves when the backing store answers; rejects otherwise (used by `/readyz`). */
  ping(): Promise<void>;

  /** Detaches every subscription, uncounts them, and releases connections. */
  close(): Promise<void>;
}
