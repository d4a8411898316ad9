import type { App, Config } from "../config.ts";
import type { Engine, EngineSubscription, StreamPosition } from "../engine/types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { assertEnabled, createAppRegistry, type AppRegistry } from "./apps.ts";
import { createConnectionRegistry } from "./connections.ts";
import { createPublisher, type Publisher } from "./publish.ts";
import { CoreStats } from "./stats.ts";
import { createPrevIdOrder } from "./prev-id.ts";
import { createQueues } from "./queues.ts";
import { rateLimiter } from "./rate-limit.ts";
import { createScheduleRunner, createScheduler, type ScheduleInput } from "./schedule.ts";
import { createSubscribe, messageEvent } from "./subscribe.ts";
import { createSubscriberQueue, type SubscriberQueue } from "./subscriber-queue.ts";
import type {
  Caller,
  ChannelInfo,
  ConnectOptions,
  Connection,
  ChannelHistory,
  MessageStatus,
  Presence,
  PublishInput,
  PublishOptions,
  PublishResult,
  QueueInfo,
  QueueMessage,
  SubscribeArgs,
  SubscriptionStream,
} from "./types.ts";
import { validateChannelName, validateMessageId } from "./validation.ts";
import { channelKind, validateMember } from "./channel-auth.ts";
import { publishMemberEvent } from "./presence.ts";
import { randomUUID } from "node:crypto";
import { isExpired } from "../engine/queue-types.ts";
import type { PullOptions } from "./queues.ts";
import type { WebhookDelivery } from "../webhooks/delivery.ts";
import { ACTIVITY_CHANNEL, activityMessage, createChannelLifecycle, type ChannelActivity, type LifecycleEvent } from "./lifecycle.ts";
import { createWatches, type WatchChannel, type WatchChannelState, type WatchInput } from "./watch.ts";

/**
 * The executor: every surface (GraphQL resolvers, WebSocket and SSE transports, REST vendor
 * routes) calls these functions and nothing else holds business rules.
 */
export interface HeraldCore {
  readonly apps: AppRegistry;
  publish(caller: Caller, input: PublishInput, options?: PublishOptions): Promise<PublishResult>;
  /** All events are validated before any is published: one bad event publishes nothing. */
  triggerBatch(caller: Caller, inputs: readonly PublishInput[], options?: PublishOptions): Promise<PublishResult[]>;
  channel(caller: Caller, name: string): Promise<ChannelInfo>;
  channels(caller: Caller, prefix: string, first: number): Promise<ChannelInfo[]>;
  /** A channel's kept messages (oldest first) and current position; `since` reads only what came after. */
  /** `limit` defaults to 100, or to the history size if smaller. */
  history(caller: Caller, channel: string, options: { limit?: number | null; since?: StreamPosition | null }): Promise<ChannelHistory>;
  /** Members of a presence channel, across every instance. */
  presence(caller: Caller, channel: string): Promise<Presence>;
  /** Closes every connection of `userId` (token `sub`) on every instance; see `TERMINATED_REASON`. */
  terminateUserConnections(caller: Caller, userId: string): Promise<void>;
  /** Status `UNKNOWN` for an id never seen (or whose record expired). */
  messageStatus(caller: Caller, id: string): Promise<MessageStatus>;
  /** Publishes later and/or repeatedly (see schedule.ts); status `SCHEDULED` with `nextRunAt`. */
  schedule(caller: Caller, input: ScheduleInput): Promise<MessageStatus>;
  /** Stops a schedule's future runs; `NOT_FOUND` when the id has no active schedule. */
  cancelScheduled(caller: Caller, id: string): Promise<MessageStatus>;
  /** A durable pull queue of `channel`: every later message published to it is appended (see queues.ts). */
  createQueue(caller: Caller, channel: string): Promise<QueueInfo>;
  /** Removes and returns up to `max` (default 50) messages, highest priority first, then publish order. */
  pull(caller: Caller, key: string, options?: PullOptions): Promise<QueueMessage[]>;
  /** NOT_FOUND for an unknown key (or one of another channel, when `channel` is given). */
  deleteQueue(caller: Caller, key: string, channel?: string): Promise<void>;
  queue(caller: Caller, key: string): Promise<QueueInfo | undefined>;
  /** The app's queues, of `channel` only when given. */
  queues(caller: Caller, channel?: string | null): Promise<QueueInfo[]>;
  /** Opens a client connection of `app` (throws `TOO_MANY_CONNECTIONS` past the limit). */
  connect(app: App, transport: Connection["transport"], options?: ConnectOptions): Connection;
  /**
   * Backend: the app's channels as they are occupied and vacated, members as they come and go,
   * and subscription counts where the app counts them — computed once service-wide, heard on
   * every instance; only channels starting with `prefix`. Resolves once the engine subscribed.
   */
  channelActivity(caller: Caller, options?: { prefix?: string | null }): Promise<SubscriberQueue<ChannelActivity>>;
  /** Resolves once the engine confirmed the subscription; the stream's first event is `SUBSCRIBED`. */
  subscribe(caller: Caller, args: SubscribeArgs): Promise<SubscriptionStream>;
  /** Starts a Google-style watch channel on `channel` (see watch.ts); `baseUrl` prefixes its resourceUri. */
  watch(caller: Caller, channel: string, input: WatchInput, options?: { baseUrl?: string | undefined }): Promise<WatchChannel>;
  /** Stops a watch channel; `NOT_FOUND` unless the app has a live one with this id and resourceId. */
  stopWatch(caller: Caller, id: unknown, resourceId: unknown): Promise<void>;
  /** A live watch channel and its latest deliveries; undefined when there is none. */
  watchChannel(caller: Caller, id: string): Promise<WatchChannelState | undefined>;
  /** The app's live watch channels, by channel name, at most `first` (1–100). */
  watchChannels(caller: Caller, first: number): Promise<WatchChannel[]>;
  /**
   * A client event (Pusher `client-*`) that `connection` sends to the other subscribers of a
   * private or presence channel, on every instance; refused unless the app enables client
   * messages. `userId` (presence channels) travels as the message's `publisherId`.
   */
  clientEvent(connection: Connection, input: ClientEventInput, options?: PublishOptions): Promise<void>;
  /**
   * Where a Pusher cache channel's subscription resumes from: just before the channel's last
   * kept message (`cached`), or its current position when it keeps none. Subscribing with that
   * `since` replays the last message and continues live, with no gap and no duplicate.
   */
  cachePosition(caller: Caller, channel: string): Promise<{ since: StreamPosition; cached: boolean }>;
  /** `connection` subscribed to a cache channel that had nothing to replay: Pusher's `cache_miss` webhook. */
  cacheMissed(connection: Connection, channel: string): void;
  /** Connections open now, for metrics and tests. */
  connectionCount(appId?: string): number;
  /** Connections and their subscriptions open now, by app and transport (for `/metrics`). */
  connectionStats(): { app: string; transport: string; connections: number; subscriptions: number }[];
  /** Publishes and deliveries counted so far (for `/metrics`). */
  readonly stats: CoreStats;
  /** Starts listening for cross-instance control messages (user termination). */
  start(): Promise<void>;
  /**
   * Stops taking work and ends every subscription (their streams complete) at once; resolves
   * when the schedule runner has finished the runs in flight (the engine may then be closed).
   */
  close(): Promise<void>;
}

export interface ClientEventInput {
  readonly channel: string;
  readonly event: string;
  readonly data: unknown;
  readonly userId?: string | undefined;
}

/** Messages a history read returns when it names no limit (or the history size, if smaller). */
const DEFAULT_HISTORY_LIMIT = 100;

/** Internal per-app channel for control messages between instances; `$` keeps it out of user names. */
const CONTROL_CHANNEL = "$control";
const TERMINATE_EVENT = "terminate_user_connections";
export const TERMINATED_REASON = "Terminated by the app";

export type CoreConfig = Pick<
  Config,
  "apps" | "limits" | "messageStatusTtlSeconds" | "schedules" | "idempotencyWindowSeconds" | "historySize" | "grip" | "queues" | "webhooks" | "subscriptionCount"
>;

export interface CoreDeps {
  config: CoreConfig;
  engine: Engine;
  now?: () => Date;
  /** Outbound delivery (watch channels, Pusher webhooks); none: nothing is notified. */
  webhooks?: WebhookDelivery;
  /** Receives the lifecycle events (occupied, vacated, member added/removed) of apps with `webhooks`, once each, service-wide. */
  onLifecycleEvent?: (app: App, event: LifecycleEvent) => void;
  /** Where failures of background work (presence cleanup, control messages) are reported. */
  onError?: (error: unknown) => void;
}

/** Only a caller holding the app secret may publish or read state. */
export function requireBackend(caller: Caller): App {
  if (caller.role !== "backend") {
    throw new HeraldError(
      ErrorCode.Unauthenticated,
      caller.role === "anonymous"
        ? `${caller.problem ?? "Missing credentials"}: this operation needs the app secret (Authorization: Bearer <secret> or Basic <key:secret>)`
        : "The app key alone cannot do this; backends authenticate with the app secret",
    );
  }
  return assertEnabled(caller.app);
}

export function createHeraldCore({ config, engine, webhooks, onLifecycleEvent, now = () => new Date(), onError = () => {} }: CoreDeps): HeraldCore {
  const { limits } = config;
  const apps = createAppRegistry(config.apps);
  const watches =
    webhooks
      ? createWatches({ engine, store: engine.webhooks, delivery: webhooks, apps: config.apps, config: config.webhooks, limits, now: () => now().getTime(), onError })
      : undefined;
  const requireWatches = () => {
    if (!watches) throw new HeraldError(ErrorCode.Internal, "watch channels need outbound delivery, which this server was built without");
    return watches;
  };
  const connections = createConnectionRegistry(limits);
  const publisher = createPublisher({
    engine,
    limits,
    messageStatusTtlSeconds: config.messageStatusTtlSeconds,
    idempotencyWindowSeconds: config.idempotencyWindowSeconds,
    keepHistory: config.historySize > 0,
    now,
    countsFor: channelInfo,
    prevIdOrder: createPrevIdOrder({ engine, waitMs: config.grip.prevIdWaitMs }),
    afterPublish: watches && ((app, messages, published) => watches.notify(app, messages, published)),
    onError,
  });
  // Lifecycle events go to every instance's channelActivity streams, and to the app's webhooks.
  const lifecycle = createChannelLifecycle({
    engine,
    delayMs: config.webhooks.pusherVacateDelayMs,
    subscriptionCount: config.subscriptionCount,
    emit: reportLifecycle,
    onError,
  });
  function reportLifecycle(app: App, event: LifecycleEvent) {
    const message = activityMessage(event, now());
    if (message) engine.publish(app.id, [message], { history: false }).catch(onError);
    if (onLifecycleEvent && (app.webhooks?.length ?? 0) > 0) onLifecycleEvent(app, event);
  }
  const activityStreams = new Set<SubscriberQueue<ChannelActivity>>();
  const stats = new CoreStats();
  const subscribe = createSubscribe({ engine, limits, connections, historySize: config.historySize, lifecycle, onError, stats });
  // A schedule's runs are publishes too, counted under their own surface.
  const schedulePublisher: Publisher = {
    ...publisher,
    async deliver(app, events, options) {
      const results = await publisher.deliver(app, events, options);
      stats.countPublishes(app.id, "schedule", results.filter((r) => !r.duplicate).length);
      return results;
    },
  };
  const scheduleDeps = { store: engine.schedules, publisher: schedulePublisher, retainSeconds: config.messageStatusTtlSeconds, now };
  const scheduler = createScheduler({ ...scheduleDeps, config: config.schedules, limits });
  const scheduleRunner = createScheduleRunner({ ...scheduleDeps, apps: apps.all, config: config.schedules, onError });
  const queues = createQueues({ store: engine.queues, limits, config: config.queues });
  const controlSubscriptions: { close(): Promise<void> }[] = [];
  let closing = false;

  // Members whose instance died: one surviving instance reports them; tell their channels.
  engine.presence.onExpired((appId, channel, members) => {
    for (const member of members) publishMemberEvent(engine, appId, channel, "MEMBER_REMOVED", member).catch(onError);
    const app = apps.byId(appId);
    if (app) for (const member of members) lifecycle.memberRemoved(app, channel, member.userId);
  });

  const backendLimiter = rateLimiter({ perSecond: limits.backendRatePerApp, setting: "HERALD_RATE_LIMIT_BACKEND_PER_APP", what: "backend operations per app" });

  /** The app of a backend caller, which spends one of its app's operations (when limited). */
  function backendApp(caller: Caller): App {
    const app = requireBackend(caller);
    backendLimiter?.take(app.id);
    return app;
  }

  function assertOpen() {
    if (closing) throw new HeraldError(ErrorCode.ShuttingDown, "Herald is shutting down");
  }

  /** Counts of one channel; users only for presence channels, and only when `withUsers`. */
  async function channelInfo(app: App, name: string, withUsers = true): Promise<ChannelInfo> {
    const [counts, userCount] = await Promise.all([engine.channelCounts(app.id, name), withUsers ? usersIn(app, name) : undefined]);
    return { name, occupied: counts.subscriptionCount > 0, subscriptionCount: counts.subscriptionCount, userCount };
  }

  /** How many users a presence channel has (undefined for any other channel: it has none). */
  async function usersIn(app: App, name: string): Promise<number | undefined> {
    return channelKind(name) === "presence" ? (await engine.presence.members(app.id, name)).length : undefined;
  }

  return {
    apps,
    async publish(caller, input, options = {}) {
      assertOpen();
      const app = backendApp(caller);
      const [result] = await publisher.deliverInOrder(app, [publisher.prepare(input, options)]);
      if (!result!.duplicate) stats.countPublishes(app.id, options.surface ?? "graphql", 1);
      return result!;
    },
    async triggerBatch(caller, inputs, options = {}) {
      assertOpen();
      const app = backendApp(caller);
      const results = await publisher.deliverInOrder(app, publisher.prepareBatch(inputs, options));
      stats.countPublishes(app.id, options.surface ?? "graphql", results.filter((r) => !r.duplicate).length);
      return results;
    },
    async channel(caller, name) {
      const app = backendApp(caller);
      return channelInfo(app, validateChannelName(name, limits));
    },
    async channels(caller, prefix, first) {
      const app = backendApp(caller);
      if (!Number.isInteger(first) || first < 1 || first > 1000) {
        throw new HeraldError(ErrorCode.BadRequest, "first must be between 1 and 1000");
      }
      if (prefix.length > limits.maxChannelNameLength) {
        throw new HeraldError(ErrorCode.InvalidChannelName, "Prefix is longer than a channel name may be");
      }
      const list = await engine.occupiedChannels(app.id, prefix, first + 1);
      // Internal channels ($control) are not channels a user can name.
      const named = list.filter((c) => !c.name.startsWith("$")).slice(0, first);
      // The listing has the subscription counts already; only presence channels need a read (users).
      return Promise.all(
        named.map(async (c) => {
          const userCount = await usersIn(app, c.name);
          return { name: c.name, occupied: true, subscriptionCount: c.subscriptionCount, ...(userCount === undefined ? {} : { userCount }) };
        }),
      );
    },
    async history(caller, channel, { limit: asked, since }) {
      const app = backendApp(caller);
      const limit = asked ?? Math.min(DEFAULT_HISTORY_LIMIT, config.historySize);
      const name = validateChannelName(channel, limits);
      if (!Number.isInteger(limit) || limit < 0 || limit > config.historySize) {
        throw new HeraldError(ErrorCode.BadRequest, `limit must be between 0 and ${config.historySize}`, { limit: config.historySize });
      }
      const result = await engine.history(app.id, name, { since: since ?? undefined, limit });
      const at = Date.now();
      const live = result.messages.filter((message) => !isExpired(message, at));
      return { offset: result.offset, epoch: result.epoch, recoverable: result.recoverable, messages: live.map(messageEvent) };
    },
    async presence(caller, channel) {
      const app = backendApp(caller);
      const name = validateChannelName(channel, limits);
      if (channelKind(name) !== "presence") {
        throw new HeraldError(ErrorCode.BadRequest, `${name} is not a presence channel (presence channels start with presence-)`);
      }
      const members = await engine.presence.members(app.id, name);
      return { channel: name, count: members.length, members };
    },
    async terminateUserConnections(caller, userId) {
      assertOpen();
      const app = backendApp(caller);
      validateMember(userId, null, limits);
      await engine.publish(app.id, [
        { id: randomUUID(), channel: CONTROL_CHANNEL, event: TERMINATE_EVENT, data: { userId }, headers: {}, publishedAt: now().toISOString() },
      ], { history: false });
    },
    async messageStatus(caller, id) {
      const app = backendApp(caller);
      const valid = validateMessageId(id, limits);
      const [scheduled, record] = await Promise.all([scheduler.status(app, valid), engine.getMessageStatus(app.id, valid)]);
      return scheduled ?? record ?? { id, status: "UNKNOWN", channels: [], runs: 0 };
    },
    async schedule(caller, input) {
      assertOpen();
      return scheduler.schedule(backendApp(caller), input);
    },
    async cancelScheduled(caller, id) {
      return scheduler.cancel(backendApp(caller), id);
    },
    async createQueue(caller, channel) {
      assertOpen();
      return queues.create(backendApp(caller), channel);
    },
    async pull(caller, key, options = {}) {
      return queues.pull(backendApp(caller), key, options);
    },
    async deleteQueue(caller, key, channel) {
      return queues.delete(backendApp(caller), key, channel);
    },
    async queue(caller, key) {
      return queues.get(backendApp(caller), key);
    },
    async queues(caller, channel) {
      return queues.list(backendApp(caller), channel);
    },
    connect(app, transport, options) {
      assertOpen();
      return connections.connect(app, transport, options);
    },
    async subscribe(caller, args) {
      assertOpen();
      return subscribe(caller, args);
    },
    async channelActivity(caller, options = {}) {
      assertOpen();
      const app = backendApp(caller);
      const prefix = options.prefix ?? "";
      if (typeof prefix !== "string" || prefix.length > limits.maxChannelNameLength) {
        throw new HeraldError(ErrorCode.BadRequest, `prefix must be a string of at most ${limits.maxChannelNameLength} characters`, { limit: limits.maxChannelNameLength });
      }
      let subscription: EngineSubscription | undefined;
      const stream = createSubscriberQueue<ChannelActivity>({
        limit: limits.subscriberQueueLength,
        onClose: () => {
          activityStreams.delete(stream);
          subscription?.close().catch(onError);
        },
      });
      activityStreams.add(stream);
      try {
        subscription = await engine.subscribe(app.id, ACTIVITY_CHANNEL, (message) => {
          const activity = message.data as ChannelActivity;
          if (activity.channel.startsWith(prefix)) stream.push(activity);
        });
      } catch (error) {
        stream.end();
        onError(error);
        throw new HeraldError(ErrorCode.EngineUnavailable, "Could not subscribe: engine unavailable");
      }
      if (stream.closed) await subscription.close(); // the client left while we subscribed
      return stream;
    },
    async watch(caller, channel, input, options) {
      assertOpen();
      return requireWatches().watch(backendApp(caller), channel, input, options);
    },
    async stopWatch(caller, id, resourceId) {
      return requireWatches().stop(backendApp(caller), id, resourceId);
    },
    async watchChannel(caller, id) {
      return requireWatches().get(backendApp(caller), id);
    },
    async watchChannels(caller, first) {
      const app = backendApp(caller);
      if (!Number.isInteger(first) || first < 1 || first > 100) throw new HeraldError(ErrorCode.BadRequest, "first must be between 1 and 100", { limit: 100 });
      return requireWatches().list(app, first);
    },
    async clientEvent(connection, input, options = {}) {
      assertOpen();
      const app = assertEnabled(connection.app);
      if (!app.enableClientMessages) {
        throw new HeraldError(ErrorCode.Forbidden, `Client events are not enabled for app ${app.id} (enableClientMessages in HERALD_APPS)`);
      }
      if (!input.event.startsWith("client-")) throw new HeraldError(ErrorCode.InvalidEventName, "A client event's name starts with client-");
      const kind = channelKind(input.channel);
      if (kind !== "private" && kind !== "presence") {
        throw new HeraldError(ErrorCode.Forbidden, `Client events are only allowed on private and presence channels, not ${input.channel}`);
      }
      const prepared = publisher.prepare(
        { channels: [input.channel], event: input.event, data: input.data, excludeSocketId: connection.socketId, publisherId: input.userId },
        options,
      );
      await publisher.deliver(app, [prepared]);
      reportLifecycle(app, {
          name: "client_event",
          channel: input.channel,
          event: input.event,
          data: typeof input.data === "string" ? input.data : JSON.stringify(input.data ?? null),
          socket_id: connection.socketId,
          ...(input.userId === undefined ? {} : { user_id: String(input.userId) }),
      });
    },
    async cachePosition(caller, channel) {
      if (caller.role === "anonymous") throw new HeraldError(ErrorCode.Unauthenticated, caller.problem ?? "Missing app key");
      const app = assertEnabled(caller.app);
      const name = validateChannelName(channel, limits);
      const { messages, offset, epoch } = await engine.history(app.id, name, { limit: 1 });
      const last = messages[0];
      if (last?.offset === undefined) return { since: { offset, epoch }, cached: false };
      return { since: { offset: last.offset - 1, epoch: last.epoch ?? epoch }, cached: true };
    },
    cacheMissed(connection, channel) {
      reportLifecycle(connection.app, { name: "cache_miss", channel });
    },
    connectionCount: (appId) => connections.count(appId),
    connectionStats() {
      const byKey = new Map<string, { app: string; transport: string; connections: number; subscriptions: number }>();
      for (const connection of connections.all()) {
        const key = `${connection.app.id}\u0000${connection.transport}`;
        let entry = byKey.get(key);
        if (!entry) byKey.set(key, (entry = { app: connection.app.id, transport: connection.transport, connections: 0, subscriptions: 0 }));
        entry.connections++;
        entry.subscriptions += connection.subscriptions.size;
      }
      return [...byKey.values()];
    },
    stats,
    async start() {
      scheduleRunner.start();
      await watches?.start();
      for (const app of apps.all) {
        const subscription = await engine.subscribe(app.id, CONTROL_CHANNEL, (message) => {
          if (message.event !== TERMINATE_EVENT) return;
          const { userId } = message.data as { userId: string };
          for (const connection of connections.ofUser(app.id, userId)) connection.terminate(TERMINATED_REASON);
        });
        controlSubscriptions.push(subscription);
      }
    },
    close() {
      closing = true;
      watches?.close();
      lifecycle.close();
      for (const stream of [...activityStreams]) stream.end();
      for (const subscription of controlSubscriptions.splice(0)) subscription.close().catch(onError);
      for (const connection of connections.all()) {
        for (const queue of [...connection.subscriptions]) queue.end();
      }
      return scheduleRunner.close();
    },
  };
}
