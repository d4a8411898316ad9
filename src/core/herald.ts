import { randomInt, randomUUID } from "node:crypto";
import type { App, Config } from "../config.ts";
import type { ChannelMessage, Engine } from "../engine/types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { assertEnabled, createAppRegistry, type AppRegistry } from "./apps.ts";
import { createSubscriberQueue, type SubscriberQueue } from "./subscriber-queue.ts";
import type {
  Caller,
  ChannelEvent,
  ChannelInfo,
  Connection,
  MessageStatus,
  PublishInput,
  PublishOptions,
  PublishResult,
  SubscribeArgs,
  SubscriptionStream,
} from "./types.ts";
import {
  validateChannelList,
  validateChannelName,
  validateEventName,
  validateHeaders,
  validateMessageId,
  validatePayloadSize,
  validateSocketId,
} from "./validation.ts";

/**
 * The executor: every surface (GraphQL resolvers, WebSocket and SSE transports, REST vendor
 * routes) calls these functions and nothing else holds business rules.
 */
export interface HeraldCore {
  readonly apps: AppRegistry;
  readonly engine: Engine;
  publish(caller: Caller, input: PublishInput, options?: PublishOptions): Promise<PublishResult>;
  /** All events are validated before any is published: one bad event publishes nothing. */
  triggerBatch(caller: Caller, inputs: readonly PublishInput[], options?: PublishOptions): Promise<PublishResult[]>;
  channel(caller: Caller, name: string): Promise<ChannelInfo>;
  channels(caller: Caller, prefix: string, first: number): Promise<ChannelInfo[]>;
  /** Status `UNKNOWN` for an id never seen (or whose record expired). */
  messageStatus(caller: Caller, id: string): Promise<MessageStatus>;
  /** Opens a client connection of `app` (throws `TOO_MANY_CONNECTIONS` past the limit). */
  connect(app: App, transport: Connection["transport"]): Connection;
  /** Resolves once the engine confirmed the subscription; the stream's first event is `SUBSCRIBED`. */
  subscribe(caller: Caller, args: SubscribeArgs): Promise<SubscriptionStream>;
  /** Connections open now, for metrics and tests. */
  connectionCount(appId?: string): number;
  /** Stops taking work and ends every subscription (their streams complete). */
  close(): void;
}

export type CoreConfig = Pick<Config, "apps" | "limits" | "messageStatusTtlSeconds">;

export interface CoreDeps {
  config: CoreConfig;
  engine: Engine;
  now?: () => Date;
}

interface PreparedEvent {
  readonly id: string;
  readonly channels: string[];
  readonly event: string;
  readonly data: unknown;
  readonly headers: Record<string, string>;
  readonly publisherId: string | undefined;
  readonly excludeSocketId: string | undefined;
  readonly info: ReadonlySet<string>;
}

export function createHeraldCore({ config, engine, now = () => new Date() }: CoreDeps): HeraldCore {
  const { limits } = config;
  const apps = createAppRegistry(config.apps);
  const connections = new Set<MutableConnection>();
  // Socket ids: a random per-process prefix and a counter, unique across instances in practice.
  const socketPrefix = randomInt(1, 2 ** 31);
  let socketCounter = 0;
  let closing = false;

  interface MutableConnection extends Connection {
    readonly subscriptions: Set<SubscriberQueue<ChannelEvent>>;
  }

  function assertOpen() {
    if (closing) throw new HeraldError(ErrorCode.ShuttingDown, "Herald is shutting down");
  }

  function requireBackend(caller: Caller): App {
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

  function prepare(input: PublishInput, options: PublishOptions): PreparedEvent {
    if (!Array.isArray(input.channels)) throw new HeraldError(ErrorCode.BadRequest, "channels must be a list");
    const channels = validateChannelList(input.channels, limits);
    const event = validateEventName(input.event ?? "message", limits);
    const headers = validateHeaders(input.headers, limits);
    validatePayloadSize(input.data, headers, options.maxPayloadBytes ?? limits.maxPayloadBytes);
    const id = input.id == null ? randomUUID() : validateMessageId(input.id, limits);
    const excludeSocketId = input.excludeSocketId == null ? undefined : validateSocketId(input.excludeSocketId);
    const publisherId = input.publisherId ?? undefined;
    if (publisherId !== undefined && (typeof publisherId !== "string" || publisherId.length > 200)) {
      throw new HeraldError(ErrorCode.BadRequest, "publisherId must be a string of at most 200 characters");
    }
    return { id, channels, event, data: input.data ?? null, headers, publisherId, excludeSocketId, info: new Set(input.info ?? []) };
  }

  async function deliver(app: App, events: readonly PreparedEvent[]): Promise<PublishResult[]> {
    const publishedAt = now().toISOString();
    const messages: ChannelMessage[] = events.flatMap((e) =>
      e.channels.map((channel) => ({
        id: e.id,
        channel,
        event: e.event,
        data: e.data,
        headers: e.headers,
        publisherId: e.publisherId,
        publishedAt,
        excludeSocketId: e.excludeSocketId,
      })),
    );
    await engine.publish(app.id, messages);
    await Promise.all(
      events.map((e) =>
        engine.putMessageStatus(
          app.id,
          { id: e.id, status: "PUBLISHED", channels: e.channels, publishedAt, runs: 1, lastPublishedAt: publishedAt },
          config.messageStatusTtlSeconds,
        ),
      ),
    );
    return Promise.all(
      events.map(async (e) => ({
        id: e.id,
        publishedAt,
        channels: e.info.size === 0 ? [] : await Promise.all(e.channels.map((name) => countsFor(app, name, e.info))),
      })),
    );
  }

  async function countsFor(app: App, name: string, info: ReadonlySet<string>): Promise<Partial<ChannelInfo>> {
    const counts = await engine.channelCounts(app.id, name);
    return {
      name,
      ...(info.has("subscriptionCount") ? { subscriptionCount: counts.subscriptionCount } : {}),
      // Presence (and so user counts) arrives with the channel-state work; until then no users.
      ...(info.has("userCount") ? { userCount: 0 } : {}),
    };
  }

  function toChannelInfo(name: string, subscriptionCount: number): ChannelInfo {
    return { name, occupied: subscriptionCount > 0, subscriptionCount };
  }

  function connect(app: App, transport: Connection["transport"]): MutableConnection {
    assertOpen();
    assertEnabled(app);
    if (connectionCount(app.id) >= limits.maxConnectionsPerApp) {
      throw new HeraldError(ErrorCode.TooManyConnections, `App ${app.id} has reached ${limits.maxConnectionsPerApp} connections`, {
        limit: limits.maxConnectionsPerApp,
      });
    }
    const subscriptions = new Set<SubscriberQueue<ChannelEvent>>();
    const connection: MutableConnection = {
      app,
      socketId: `${socketPrefix}.${++socketCounter}`,
      transport,
      subscriptions,
      close() {
        if (!connections.delete(connection)) return;
        for (const queue of [...subscriptions]) queue.return();
      },
    };
    connections.add(connection);
    return connection;
  }

  function connectionCount(appId?: string): number {
    if (appId === undefined) return connections.size;
    let count = 0;
    for (const c of connections) if (c.app.id === appId) count++;
    return count;
  }

  /** Which channels a subscriber may join. Authorization for private and presence comes later. */
  function authorizeChannel(name: string) {
    if (name.startsWith("private-") || name.startsWith("presence-") || name.startsWith("#server-to-user-")) {
      throw new HeraldError(ErrorCode.Forbidden, `Channel ${name} needs an authorization, which this server does not accept yet`);
    }
  }

  async function subscribe(caller: Caller, args: SubscribeArgs): Promise<SubscriptionStream> {
    assertOpen();
    if (caller.role === "anonymous") {
      throw new HeraldError(
        ErrorCode.Unauthenticated,
        `${caller.problem ?? "Missing app key"}: a subscription needs the app key (connectionParams.key on WebSocket, ?key= or X-Herald-Key on SSE)`,
      );
    }
    const app = assertEnabled(caller.app);
    const name = validateChannelName(args.name, limits);
    authorizeChannel(name);
    // An SSE request (or a backend subscribing) carries one operation: its connection lives
    // exactly as long as that subscription.
    const shared = caller.role === "subscriber" ? caller.connection : undefined;
    const connection = (shared as MutableConnection | undefined) ?? connect(app, "sse");
    if (shared && connection.subscriptions.size >= limits.maxSubscriptionsPerConnection) {
      throw new HeraldError(
        ErrorCode.TooManySubscriptions,
        `A connection may hold at most ${limits.maxSubscriptionsPerConnection} subscriptions`,
        { limit: limits.maxSubscriptionsPerConnection },
      );
    }

    let release: () => void = () => {};
    const queue = createSubscriberQueue<ChannelEvent>({
      limit: limits.subscriberQueueLength,
      onClose: () => {
        connection.subscriptions.delete(queue);
        release();
        if (!shared) connection.close();
      },
    });
    connection.subscriptions.add(queue);
    try {
      const subscription = await engine.subscribe(app.id, name, (message) => {
        if (message.excludeSocketId === connection.socketId) return;
        queue.push(messageEvent(message));
      });
      release = () => void subscription.close();
      if (queue.closed) release();
    } catch (error) {
      queue.return();
      throw error instanceof HeraldError ? error : new HeraldError(ErrorCode.EngineUnavailable, "Could not subscribe: engine unavailable");
    }
    queue.push({
      kind: "SUBSCRIBED",
      id: null,
      channel: name,
      event: "herald:subscription_succeeded",
      data: null,
      headers: {},
      publishedAt: null,
    });
    return queue;
  }

  return {
    apps,
    engine,
    async publish(caller, input, options = {}) {
      assertOpen();
      const app = requireBackend(caller);
      const [result] = await deliver(app, [prepare(input, options)]);
      return result!;
    },
    async triggerBatch(caller, inputs, options = {}) {
      assertOpen();
      const app = requireBackend(caller);
      if (inputs.length === 0) throw new HeraldError(ErrorCode.BadRequest, "A batch needs at least one event");
      if (inputs.length > limits.maxBatchSize) {
        throw new HeraldError(ErrorCode.BatchTooLarge, `A batch may hold at most ${limits.maxBatchSize} events, got ${inputs.length}`, {
          limit: limits.maxBatchSize,
        });
      }
      const prepared = inputs.map((input, index) => {
        try {
          return prepare(input, options);
        } catch (error) {
          if (error instanceof HeraldError) {
            throw new HeraldError(error.code, `Event ${index}: ${error.message}`, { ...error.details, index });
          }
          throw error;
        }
      });
      return deliver(app, prepared);
    },
    async channel(caller, name) {
      const app = requireBackend(caller);
      const counts = await engine.channelCounts(app.id, validateChannelName(name, limits));
      return toChannelInfo(counts.name, counts.subscriptionCount);
    },
    async channels(caller, prefix, first) {
      const app = requireBackend(caller);
      if (!Number.isInteger(first) || first < 1 || first > 1000) {
        throw new HeraldError(ErrorCode.BadRequest, "first must be between 1 and 1000");
      }
      if (prefix.length > limits.maxChannelNameLength) {
        throw new HeraldError(ErrorCode.InvalidChannelName, "Prefix is longer than a channel name may be");
      }
      const list = await engine.occupiedChannels(app.id, prefix, first);
      return list.map((c) => toChannelInfo(c.name, c.subscriptionCount));
    },
    async messageStatus(caller, id) {
      const app = requireBackend(caller);
      const record = await engine.getMessageStatus(app.id, validateMessageId(id, limits));
      return record ?? { id, status: "UNKNOWN", channels: [], runs: 0 };
    },
    connect,
    subscribe,
    connectionCount,
    close() {
      closing = true;
      for (const connection of [...connections]) {
        for (const queue of [...connection.subscriptions]) queue.end();
        connections.delete(connection);
      }
    },
  };
}

/** One event object per message, shared by every subscriber of it on this instance. */
const events = new WeakMap<ChannelMessage, ChannelEvent>();
function messageEvent(message: ChannelMessage): ChannelEvent {
  let event = events.get(message);
  if (!event) {
    event = {
      kind: "MESSAGE",
      id: message.id,
      channel: message.channel,
      event: message.event,
      data: message.data,
      headers: message.headers,
      publisherId: message.publisherId,
      publishedAt: message.publishedAt,
    };
    events.set(message, event);
  }
  return event;
}
