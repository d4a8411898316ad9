import { createHash, randomUUID } from "node:crypto";
import type { App, Limits, WebhookConfig } from "../config.ts";
import type { ChannelMessage, Engine, EngineSubscription } from "../engine/types.ts";
import type { DeliveryResult, WatchRecord, WebhookStore } from "../engine/webhook-types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { NUMBER_PLACEHOLDER, type WebhookDelivery } from "../webhooks/delivery.ts";
import { validateChannelName } from "./validation.ts";

/**
 * Google-style watch channels (googleapiclient.channel): a backend asks Herald to POST every
 * message of a channel to an address. The first notification is a `sync` (message number 1,
 * empty body), then one `exists` per message, in order, with the message's data as JSON. The
 * headers are the ones `googleapiclient.channel.notification_from_headers` reads. A watch stops
 * by itself at its expiration, or with `stop`.
 */
export interface WatchInput {
  readonly id: unknown;
  readonly type?: unknown;
  readonly address: unknown;
  readonly token?: unknown;
  /** ms since the epoch, a number or a string of digits. */
  readonly expiration?: unknown;
  /** Seconds (Google's `params.ttl`), used when there is no `expiration`. */
  readonly ttlSeconds?: unknown;
}

export interface WatchChannel {
  readonly id: string;
  readonly channel: string;
  readonly resourceId: string;
  readonly resourceUri: string;
  readonly address: string;
  readonly token: string | undefined;
  /** ms since the epoch: what Herald applied (capped by HERALD_WATCH_MAX_TTL_SECONDS). */
  readonly expiration: number;
}

export interface WatchChannelState extends WatchChannel {
  /** Pending notifications (oldest first), then the latest finished ones (newest first). */
  readonly deliveries: readonly DeliveryResult[];
}

export interface Watches {
  watch(app: App, channel: string, input: WatchInput, options?: { baseUrl?: string | undefined }): Promise<WatchChannel>;
  /** NOT_FOUND unless the app has a live watch with this id and resourceId. */
  stop(app: App, id: unknown, resourceId: unknown): Promise<void>;
  get(app: App, id: string): Promise<WatchChannelState | undefined>;
  /** The app's live watches, by channel, at most `first`. */
  list(app: App, first: number): Promise<WatchChannel[]>;
  /**
   * Stores an `exists` notification per message for every live watch of its channel, once
   * `published` resolved (the watches are read meanwhile); nothing when it rejects.
   */
  notify(app: App, messages: readonly ChannelMessage[], published: Promise<void>): Promise<void>;
  /** Learns which channels have watches, and listens for new ones on every instance. */
  start(): Promise<void>;
  close(): void;
}

export interface WatchesDeps {
  /** Announces new watches to every instance (`WATCH_CHANNEL`). */
  engine: Engine;
  store: WebhookStore;
  delivery: WebhookDelivery;
  apps: readonly App[];
  config: WebhookConfig;
  limits: Limits;
  now: () => number;
  onError: (error: unknown) => void;
}

const WATCH_ID = /^[A-Za-z0-9\-_+/=]{1,64}$/;
const MAX_TOKEN_LENGTH = 256;
/** How often expired watches are swept (their stored notifications dropped). */
const SWEEP_MS = 1_000;
/** Finished results of a watch stay readable this long after it expired. */
const RETAIN_MS = 3_600_000;

const bad = (message: string) => new HeraldError(ErrorCode.BadRequest, message);

/** Internal channel on which an instance that created a watch tells the others its channel. */
const WATCH_CHANNEL = "$watches";

export function createWatches({ engine, store, delivery, apps, config, limits, now, onError }: WatchesDeps): Watches {
  let sweeper: NodeJS.Timeout | undefined;
  const announcements: EngineSubscription[] = [];
  /**
   * Per app, the channels that may have watches (never fewer than have): a publish elsewhere
   * reads no watches, so a publish costs nothing extra until its channel is watched. Loaded at
   * start, grown by this instance's watches and the others' announcements; a stopped watch's
   * channel stays (a lookup too many) until the instance restarts.
   */
  const watched = new Map<string, Set<string>>(apps.map((app) => [app.id, new Set<string>()]));
  const markWatched = (appId: string, channel: string) => watched.get(appId)?.add(channel);

  function expirationOf(input: WatchInput, at: number): number {
    const max = at + config.watchMaxTtlSeconds * 1000;
    if (input.expiration != null) {
      const value = typeof input.expiration === "string" && /^\d{1,16}$/.test(input.expiration) ? Number(input.expiration) : input.expiration;
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw bad(`Invalid expiration ${JSON.stringify(input.expiration)}: milliseconds since the epoch`);
      if (value <= at) throw bad(`Invalid expiration ${value}: it is in the past (server time ${at})`);
      return Math.min(value, max);
    }
    if (input.ttlSeconds != null) {
      const ttl = typeof input.ttlSeconds === "string" && /^\d{1,12}$/.test(input.ttlSeconds) ? Number(input.ttlSeconds) : input.ttlSeconds;
      if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 1) throw bad(`Invalid params.ttl ${JSON.stringify(input.ttlSeconds)}: a whole number of seconds`);
      return Math.min(at + ttl * 1000, max);
    }
    return at + config.watchDefaultTtlSeconds * 1000;
  }

  function headersOf(watch: WatchRecord, state: "sync" | "exists"): Record<string, string> {
    return {
      "X-Goog-Channel-ID": watch.id,
      ...(watch.token !== undefined ? { "X-Goog-Channel-Token": watch.token } : {}),
      "X-Goog-Channel-Expiration": new Date(watch.expiration).toUTCString(),
      "X-Goog-Resource-ID": watch.resourceId,
      "X-Goog-Resource-URI": watch.resourceUri,
      "X-Goog-Resource-State": state,
      "X-Goog-Message-Number": NUMBER_PLACEHOLDER,
    };
  }

  const enqueue = (appId: string, watch: WatchRecord, notifications: { url: string; headers: Record<string, string>; body: string }[]) =>
    delivery.enqueue(appId, watch.target, notifications, { notAfter: watch.expiration, dropAt: watch.expiration + RETAIN_MS });

  async function sweep() {
    for (const app of apps) {
      const expired = await store.takeExpiredWatches(app.id, now(), 100);
      await Promise.all(expired.map((watch) => store.drop(app.id, watch.target)));
    }
  }

  return {
    async watch(app, channelName, input, { baseUrl = "" } = {}) {
      const channel = validateChannelName(channelName, limits);
      if (typeof input.id !== "string" || !WATCH_ID.test(input.id)) {
        throw bad("Invalid channel id: 1 to 64 characters from A-Z a-z 0-9 - _ + / =");
      }
      if (input.type !== "web_hook" && input.type !== "webhook") throw bad(`Invalid channel type ${JSON.stringify(input.type)}: only web_hook is supported`);
      if (typeof input.address !== "string" || input.address === "") throw bad("Missing channel address");
      const url = await delivery.guard.checkUrl(input.address);
      if (input.token != null && (typeof input.token !== "string" || input.token.length > MAX_TOKEN_LENGTH)) {
        throw bad(`Invalid channel token: a string of at most ${MAX_TOKEN_LENGTH} characters`);
      }
      const at = now();
      const expiration = expirationOf(input, at);
      const resourceId = resourceIdOf(app.id, channel);
      const query = `{ channel(name: ${JSON.stringify(channel)}) { name occupied subscriptionCount userCount } }`;
      const watch: WatchRecord = {
        id: input.id,
        channel,
        resourceId,
        resourceUri: `${baseUrl}/graphql?query=${encodeURIComponent(query)}`,
        target: `watch:${randomUUID()}`,
        address: url.href,
        token: (input.token as string | null | undefined) ?? undefined,
        expiration,
      };
      let added = await store.addWatch(app.id, watch, config.maxWatchesPerApp, at);
      if (added === "exists" && !(await store.getWatch(app.id, watch.id, at))) {
        await sweep(); // the one holding this id has expired: take it, then the id is free
        added = await store.addWatch(app.id, watch, config.maxWatchesPerApp, at);
      }
      if (added === "exists") throw new HeraldError(ErrorCode.Conflict, `Channel id ${watch.id} is not unique: a live watch channel has it`);
      if (added === "limit") {
        throw new HeraldError(ErrorCode.TooManyWatches, `App ${app.id} has ${config.maxWatchesPerApp} watch channels, the most it may have`, {
          limit: config.maxWatchesPerApp,
        });
      }
      markWatched(app.id, channel);
      await engine.publish(
        app.id,
        [{ id: randomUUID(), channel: WATCH_CHANNEL, event: "watch", data: { channel }, headers: {}, publishedAt: new Date(at).toISOString() }],
        { history: false },
      );
      await enqueue(app.id, watch, [{ url: watch.address, headers: headersOf(watch, "sync"), body: "" }]);
      return { id: watch.id, channel, resourceId, resourceUri: watch.resourceUri, address: watch.address, token: watch.token, expiration };
    },

    async stop(app, id, resourceId) {
      const watch = typeof id === "string" ? await store.getWatch(app.id, id, now()) : undefined;
      if (!watch || watch.resourceId !== resourceId) {
        throw new HeraldError(ErrorCode.NotFound, `Channel ${JSON.stringify(id)} not found for resource ${JSON.stringify(resourceId)}`);
      }
      if (await store.removeWatch(app.id, watch.id)) await store.drop(app.id, watch.target);
    },

    async get(app, id) {
      const watch = await store.getWatch(app.id, id, now());
      if (!watch) return undefined;
      const { pending, finished } = await store.deliveries(app.id, watch.target, config.keepResults);
      const { target: _target, ...shown } = watch;
      return { ...shown, token: watch.token, deliveries: [...pending, ...finished] };
    },

    async list(app, first) {
      const at = now();
      const list: WatchChannel[] = [];
      for (const channel of (await store.watchedChannels(app.id, at)).sort()) {
        for (const watch of await store.watchesOf(app.id, channel, at)) {
          const { target: _target, ...shown } = watch;
          list.push({ ...shown, token: watch.token });
          if (list.length >= first) return list;
        }
      }
      return list;
    },

    async notify(app, messages, published) {
      const byChannel = new Map<string, ChannelMessage[]>();
      const mayHaveWatches = watched.get(app.id);
      for (const message of messages) {
        if (message.kind !== undefined || !mayHaveWatches?.has(message.channel)) continue;
        let list = byChannel.get(message.channel);
        if (!list) byChannel.set(message.channel, (list = []));
        list.push(message);
      }
      if (byChannel.size === 0) return;
      const at = now();
      const ok = published.then(
        () => true,
        () => false, // the publisher reports it
      );
      await Promise.all(
        [...byChannel].map(async ([channel, list]) => {
          const watches = await store.watchesOf(app.id, channel, at);
          if (watches.length === 0 || !(await ok)) return;
          await Promise.all(
            watches.map((watch) =>
              enqueue(
                app.id,
                watch,
                list.map((message) => {
                  const { contentType, body } = notificationBody(message);
                  const headers = { ...headersOf(watch, "exists"), "X-Herald-Event": message.event, "X-Herald-Message-Id": message.id, "Content-Type": contentType };
                  return { url: watch.address, headers, body };
                }),
              ),
            ),
          );
        }),
      );
    },

    async start() {
      if (sweeper) return;
      sweeper = setInterval(() => sweep().catch(onError), SWEEP_MS);
      sweeper.unref();
      for (const app of apps) {
        // Listen first, then read: a watch made in between is heard, not missed.
        const subscription = await engine.subscribe(app.id, WATCH_CHANNEL, (message) => {
          const channel = (message.data as { channel?: unknown } | null)?.channel;
          if (typeof channel === "string") markWatched(app.id, channel);
        });
        announcements.push(subscription);
        for (const channel of await store.watchedChannels(app.id, now())) markWatched(app.id, channel);
      }
    },
    close() {
      clearInterval(sweeper);
      for (const subscription of announcements.splice(0)) subscription.close().catch(onError);
    },
  };
}

/** Herald's opaque id of a channel: the same for every watch of it, telling nothing of its name. */
function resourceIdOf(appId: string, channel: string): string {
  return createHash("sha256").update(`${appId}\0${channel}`).digest("base64url").slice(0, 27);
}

/**
 * An `exists` notification's body: a string published with a `mimeType` (Zato's `mime_type`,
 * GraphQL's `mimeType`) goes as is, with that content type; any other data as its JSON text.
 */
function notificationBody(message: ChannelMessage): { contentType: string; body: string } {
  if (typeof message.data === "string" && message.mimeType !== undefined) return { contentType: message.mimeType, body: message.data };
  return { contentType: "application/json", body: JSON.stringify(message.data ?? null) };
}
