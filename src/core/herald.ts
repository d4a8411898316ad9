import type { App, Config } from "../config.ts";
import type { Engine } from "../engine/types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { assertEnabled, createAppRegistry, type AppRegistry } from "./apps.ts";
import { createConnectionRegistry } from "./connections.ts";
import { createPublisher } from "./publish.ts";
import { createSubscribe } from "./subscribe.ts";
import type {
  Caller,
  ChannelInfo,
  Connection,
  MessageStatus,
  PublishInput,
  PublishOptions,
  PublishResult,
  SubscribeArgs,
  SubscriptionStream,
} from "./types.ts";
import { validateChannelName, validateMessageId } from "./validation.ts";

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

export function createHeraldCore({ config, engine, now = () => new Date() }: CoreDeps): HeraldCore {
  const { limits } = config;
  const apps = createAppRegistry(config.apps);
  const connections = createConnectionRegistry(limits);
  const countsFor = async (app: App, name: string) => {
    const counts = await engine.channelCounts(app.id, name);
    return { subscriptionCount: counts.subscriptionCount, userCount: undefined };
  };
  const publisher = createPublisher({ engine, limits, messageStatusTtlSeconds: config.messageStatusTtlSeconds, now, countsFor });
  const subscribe = createSubscribe({ engine, limits, connections });
  let closing = false;

  function assertOpen() {
    if (closing) throw new HeraldError(ErrorCode.ShuttingDown, "Herald is shutting down");
  }
  const toChannelInfo = (name: string, subscriptionCount: number): ChannelInfo => ({ name, occupied: subscriptionCount > 0, subscriptionCount });

  return {
    apps,
    engine,
    async publish(caller, input, options = {}) {
      assertOpen();
      const app = requireBackend(caller);
      const [result] = await publisher.deliver(app, [publisher.prepare(input, options)]);
      return result!;
    },
    async triggerBatch(caller, inputs, options = {}) {
      assertOpen();
      const app = requireBackend(caller);
      return publisher.deliver(app, publisher.prepareBatch(inputs, options));
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
    connect(app, transport) {
      assertOpen();
      return connections.connect(app, transport);
    },
    async subscribe(caller, args) {
      assertOpen();
      return subscribe(caller, args);
    },
    connectionCount: (appId) => connections.count(appId),
    close() {
      closing = true;
      for (const connection of connections.all()) {
        for (const queue of [...connection.subscriptions]) queue.end();
      }
    },
  };
}
