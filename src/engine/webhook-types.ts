/**
 * The webhook store: durable outbound notifications and the watch channels that cause them,
 * kept by the engine so they survive restarts and are delivered by whichever instance is alive.
 * Two implementations sit side by side — `memory-webhooks.ts` and `redis-webhooks.ts` — and one
 * contract suite (`test/webhook-delivery.test.ts`) runs against both.
 *
 * Guarantees every store gives:
 * - Durable: a notification is stored (`enqueue`) before anyone attempts it, and stays until an
 *   attempt's outcome says delivered or given up, or its target is dropped.
 * - Numbers: each target numbers its notifications 1, 2, 3, … in `enqueue` order; a number is
 *   never reused for that target.
 * - Order per target: only a target's oldest pending notification is ever handed out, and only
 *   to one claimer at a time (a lease). The next one is handed out once that one's outcome is
 *   recorded as delivered or failed.
 * - At least once: a claimer that dies (or takes longer than its lease) without recording an
 *   outcome loses the lease; the same notification is handed out again once the lease expires.
 *   A stale claimer's `complete` is ignored.
 * - Isolation: an app sees only its own targets and watches.
 */

export interface NewDelivery {
  readonly url: string;
  /** Request headers; the sender adds the delivery's number where a vendor wants it. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Not attempted (given up) after this time (ms since the epoch): the retry window's end. */
  readonly retryUntil: number;
}

export interface Delivery extends NewDelivery {
  /** 1, 2, 3, … per target. */
  readonly number: number;
  /** Attempts made so far (failed ones: a delivered or given-up one leaves the queue). */
  readonly attempts: number;
}

export interface ClaimedDelivery {
  readonly appId: string;
  readonly target: string;
  /** Proves the claim in `complete`; a newer claim of the same target makes it stale. */
  readonly lease: string;
  readonly delivery: Delivery;
}

/** How an attempt ended, as its claimer reports it. */
export type AttemptOutcome =
  | { readonly kind: "delivered"; readonly status: number }
  /** Try again at `retryAt` (ms). */
  | { readonly kind: "retry"; readonly status?: number | undefined; readonly error: string; readonly retryAt: number }
  /** Given up: a 4xx, a refused address, or the retry window is over. */
  | { readonly kind: "failed"; readonly status?: number | undefined; readonly error: string };

export type DeliveryState = "PENDING" | "RETRYING" | "DELIVERED" | "FAILED";

/** One notification as `watchChannel { deliveries }` shows it. */
export interface DeliveryResult {
  readonly number: number;
  readonly state: DeliveryState;
  /** The receiver's last HTTP status, if it answered. */
  readonly status?: number | undefined;
  readonly attempts: number;
  readonly lastError?: string | undefined;
}

/** A Google-style watch channel (`POST /channels/:channel/watch`). */
export interface WatchRecord {
  /** The caller's id, unique per app while the watch lives. */
  readonly id: string;
  readonly channel: string;
  /** Herald's opaque id of the channel. */
  readonly resourceId: string;
  /** Where the channel's state can be read (sent with every notification). */
  readonly resourceUri: string;
  /** This watch's delivery target in the store (unique per watch, so numbers restart for a new one). */
  readonly target: string;
  readonly address: string;
  readonly token?: string | undefined;
  /** ms since the epoch; the watch stops by itself then. */
  readonly expiration: number;
}

export type WatchAddResult = "added" | "exists" | "limit";

export interface WebhookStore {
  /**
   * Appends notifications to `target`'s queue, numbered in order; returns their numbers. With
   * `expiresAt` (ms) the target's keys are dropped that long after nothing more can happen
   * (a watch's expiration plus retention).
   */
  enqueue(appId: string, target: string, deliveries: readonly NewDelivery[], options: { now: number; dropAt?: number | undefined }): Promise<number[]>;

  /** Claims at most `limit` targets of `appId` whose oldest notification is due at `now`, each leased for `leaseMs`. */
  claimDue(appId: string, now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;

  /** Records a claimed attempt's outcome; ignored when the lease is stale or the target was dropped. */
  complete(claim: ClaimedDelivery, outcome: AttemptOutcome, options: { now: number; keepResults: number }): Promise<void>;

  /** The target's pending notifications (oldest first) after its latest finished ones (newest first), at most `limit` of each. */
  deliveries(appId: string, target: string, limit: number): Promise<{ pending: DeliveryResult[]; finished: DeliveryResult[] }>;

  /** Forgets the target: its pending notifications are never attempted, its results are gone. */
  drop(appId: string, target: string): Promise<void>;

  /** Stores a watch, checking the app's live count against `max`; `exists` while a live watch has this id. */
  addWatch(appId: string, watch: WatchRecord, max: number, now: number): Promise<WatchAddResult>;
  /** The live (not expired) watch with this id. */
  getWatch(appId: string, id: string, now: number): Promise<WatchRecord | undefined>;
  /** Live watches of a channel. */
  watchesOf(appId: string, channel: string, now: number): Promise<WatchRecord[]>;
  /** Removes a watch (its target is the caller's to drop); false when there was none. */
  removeWatch(appId: string, id: string): Promise<boolean>;
  /** Channels that have live watches (read once when an instance starts). */
  watchedChannels(appId: string, now: number): Promise<string[]>;
  /** Watches whose expiration passed (removed by this call, each returned to one caller only). */
  takeExpiredWatches(appId: string, now: number, limit: number): Promise<WatchRecord[]>;

  /**
   * A service-wide flag (e.g. "this channel was reported occupied"): true for the one caller that
   * set it, on any instance, false while it is set. Lifecycle webhooks fire on that transition.
   */
  setFlag(appId: string, name: string): Promise<boolean>;
  /** True for the one caller that cleared a set flag. */
  clearFlag(appId: string, name: string): Promise<boolean>;
  /**
   * Replaces a service-wide value (e.g. "the subscription count last reported for this channel")
   * and returns the one it replaced, or null; `null` removes it. Atomic across instances: of
   * several callers writing one value, only the first sees a different previous one. Redis keeps
   * a value a day after its last write.
   */
  exchangeValue(appId: string, name: string, value: string | null): Promise<string | null>;
}
