import type { App } from "../config.ts";
import type { ChannelMessage, MessageStatusCode } from "../engine/types.ts";
import type { HeraldError } from "../errors.ts";
import type { SubscriberQueue } from "./subscriber-queue.ts";

/** What a surface hands the core about who is calling. */
export type Caller =
  /** No valid credentials; `problem` says what was wrong with the ones given. */
  | { readonly role: "anonymous"; readonly problem?: string }
  /** Authenticated with the app secret: may publish and read state. */
  | { readonly role: "backend"; readonly app: App }
  /** Identified by the app key only: may subscribe to what the app allows. */
  | { readonly role: "subscriber"; readonly app: App; readonly connection?: Connection | undefined };

/** One client connection (a WebSocket, or one SSE request). */
export interface Connection {
  readonly app: App;
  /** Pusher-shaped (`<digits>.<digits>`) so Pusher SDKs accept it as `socket_id`. */
  readonly socketId: string;
  readonly transport: "ws" | "sse";
  readonly subscriptions: ReadonlySet<SubscriberQueue<ChannelEvent>>;
  /** Ends every subscription of the connection and releases its slot. Idempotent. */
  close(): void;
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
  readonly excludeSocketId?: string | null | undefined;
  readonly info?: readonly PublishInfo[] | null | undefined;
}

/** Options a surface may set for its own rules (e.g. Pusher's 10 KiB payload limit). */
export interface PublishOptions {
  readonly maxPayloadBytes?: number;
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
  /** Per-channel counts, present only for the `info` asked for. */
  readonly channels: readonly Partial<ChannelInfo>[];
}

export type ChannelEventKind = "MESSAGE" | "SUBSCRIBED";

/** What a subscription yields. */
export interface ChannelEvent extends Omit<ChannelMessage, "id" | "excludeSocketId" | "publishedAt"> {
  readonly kind: ChannelEventKind;
  readonly id: string | null;
  readonly publishedAt: string | null;
}

export interface SubscribeArgs {
  readonly name: string;
  /** SQL-92-style condition over message headers (see selector.ts); only matches are delivered. */
  readonly selector?: string | null | undefined;
}

export type SubscriptionStream = AsyncIterableIterator<ChannelEvent | HeraldError>;

export interface MessageStatus {
  readonly id: string;
  readonly status: MessageStatusCode | "UNKNOWN";
  readonly channels: readonly string[];
  readonly publishedAt?: string | undefined;
  readonly runs: number;
  readonly lastPublishedAt?: string | undefined;
  readonly nextRunAt?: string | undefined;
  readonly errorMessage?: string | undefined;
}
