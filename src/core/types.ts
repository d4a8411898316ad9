import type { App } from "../config.ts";
import type { QueueRecord } from "../engine/queue-types.ts";
import type { ChannelMessage, MessageStatusCode, MessageStatusRecord, StreamPosition } from "../engine/types.ts";
import type { SubscriberClaims } from "./auth-tokens.ts";
import type { ChannelGrant, Member } from "./channel-auth.ts";
import type { SubscriberQueue } from "./subscriber-queue.ts";

/** What a surface hands the core about who is calling. */
export type Caller =
  /** No valid credentials; `problem` says what was wrong with the ones given. */
  | { readonly role: "anonymous"; readonly problem?: string }
  /** Authenticated with the app secret: may publish and read state. */
  | { readonly role: "backend"; readonly app: App }
  /** Identified by the app key only: may subscribe to what the app allows. */
  | { readonly role: "subscriber"; readonly app: App; readonly connection?: Connection | undefined };

/** Who a connection is, from the token it was opened with. */
export interface ConnectionUser {
  /** The token's `sub`, when it has one. */
  readonly id: string | undefined;
  readonly claims: SubscriberClaims;
}

/** One client connection (a WebSocket, or one SSE request). */
export interface Connection {
  readonly app: App;
  /** Set at connect (a token) or later by `signIn` (Pusher `pusher:signin`). */
  readonly user: ConnectionUser | undefined;
  /** Pusher-shaped (`<digits>.<digits>`) so Pusher SDKs accept it as `socket_id`. */
  readonly socketId: string;
  readonly transport: "ws" | "sse" | "grip" | "pusher";
  readonly subscriptions: ReadonlySet<SubscriberQueue<ChannelEvent>>;
  /** Ends every subscription of the connection and releases its slot. Idempotent. */
  close(): void;
  /** Closes the connection on behalf of the app (terminateUserConnections); the transport says how. */
  terminate(reason: string): void;
  /**
   * Makes the connection `userId`'s (after the transport verified the app's signature of it):
   * it may then join that user's `#server-to-user-` channel, and `terminateUserConnections` reaches it.
   */
  signIn(userId: string, info: unknown): void;
}

/** What a transport hands `connect`. */
export interface ConnectOptions {
  /** A subscriber JWT (connectionParams.token); invalid → FORBIDDEN. */
  readonly token?: unknown;
  /** How the transport ends this connection when the app terminates it. */
  readonly onTerminate?: (reason: string) => void;
}

export type PublishInfo = "subscriptionCount" | "userCount";

/** One event to publish, as every surface hands it to the core (unvalidated). */
export interface PublishInput {
  readonly channels: readonly string[];
  readonly event?: string | null | undefined;
  readonly data?: unknown;
  readonly headers?: unknown;
  readonly id?: string | null | undefined;
  readonly publisherId?: string | null | undefined;
  /** 1–9 (default 5): pull queues return higher first. */
  readonly priority?: number | null | undefined;
  readonly mimeType?: string | null | undefined;
  /** Seconds after publishing when the message expires (or `expiresAt`; not both). */
  readonly expiresIn?: number | null | undefined;
  readonly expiresAt?: Date | null | undefined;
  readonly excludeSocketId?: string | null | undefined;
  readonly info?: readonly PublishInfo[] | null | undefined;
  /** GRIP formats (see formats.ts); without `data`, `data` is derived from them. */
  readonly formats?: unknown;
  /** GRIP ordering: the id of the message this one follows on its channels (see prev-id.ts). */
  readonly prevId?: string | null | undefined;
}

/** Options a surface may set for its own rules (e.g. Pusher's 10 KiB payload limit). */
export interface PublishOptions {
  readonly maxPayloadBytes?: number;
  /** Events one batch may hold (GRIP items per publish request); default `HERALD_MAX_BATCH_SIZE`. */
  readonly maxBatchSize?: number;
  /** What a batch's errors call one of its events (`Event 2: …`; GRIP says `Item`). */
  readonly itemLabel?: string;
  /** The API the publish came through, for `herald_publishes_total{surface}` (default `graphql`). */
  readonly surface?: string;
}

export interface Presence {
  readonly channel: string;
  readonly count: number;
  readonly members: readonly Member[];
}

export interface ChannelInfo {
  readonly name: string;
  readonly occupied: boolean;
  readonly subscriptionCount: number;
  /** Distinct users; only presence channels have users. */
  readonly userCount?: number | undefined;
}

export interface PublishResult {
  readonly id: string;
  readonly publishedAt: string;
  /** The id was already published within the idempotency window: nothing was sent again. */
  readonly duplicate: boolean;
  /** Per-channel counts, present only for the `info` asked for. */
  readonly channels: readonly Partial<ChannelInfo>[];
}

export type ChannelEventKind = "MESSAGE" | "SUBSCRIBED" | "MEMBER_ADDED" | "MEMBER_REMOVED" | "SUBSCRIPTION_COUNT";

/** What a subscription yields. */
export interface ChannelEvent extends Omit<ChannelMessage, "kind" | "id" | "excludeSocketId" | "publishedAt"> {
  readonly kind: ChannelEventKind;
  readonly id: string | null;
  readonly publishedAt: string | null;
  /**
   * SUBSCRIBED with `since`: whether every message after that position will be delivered. A
   * later SUBSCRIBED (a loss, see `LostListener`) has `false`, and the position delivery continues from.
   */
  readonly recovered?: boolean | undefined;
}

export interface SubscribeArgs extends ChannelGrant {
  readonly name: string;
  /** Resume: replay every message after this position, then continue live (no gap, no duplicate). */
  readonly since?: StreamPosition | null | undefined;
  /** SQL-92-style condition over message headers (see selector.ts); only matches are delivered. */
  readonly selector?: string | null | undefined;
}

/** A subscription's events: an async iterator, or pushed to a sink (`attach`). */
export type SubscriptionStream = SubscriberQueue<ChannelEvent>;

/** A message's status as every surface reports it: the engine's record, or UNKNOWN. */
export interface MessageStatus extends Omit<MessageStatusRecord, "status"> {
  readonly status: MessageStatusCode | "UNKNOWN";
  /** Scheduled messages: seconds between runs, and when repeating ends. */
  readonly repeatEvery?: number | undefined;
  readonly repeatExpiresAt?: string | undefined;
}

export interface ChannelHistory {
  /** The channel's current position: the last offset and the stream's epoch. */
  readonly offset: number;
  readonly epoch: string;
  /** False when `since` can no longer be served (trimmed, expired, or another epoch). */
  readonly recoverable: boolean;
  readonly messages: readonly ChannelEvent[];
}

/** A pull queue as every surface reports it: key, channel, depth, drops, creation time. */
export type QueueInfo = QueueRecord;

/** A message pulled from a queue: the message fields, and the key of the queue it came from. */
export interface QueueMessage extends ChannelEvent {
  readonly queue: string;
}
