import type { Limits } from "../config.ts";
import type { ChannelMessage, Engine } from "../engine/types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { assertEnabled } from "./apps.ts";
import type { ConnectionRegistry, LiveConnection } from "./connections.ts";
import { parseSelector, type Selector } from "./selector.ts";
import { createSubscriberQueue } from "./subscriber-queue.ts";
import type { Caller, ChannelEvent, SubscribeArgs, SubscriptionStream } from "./types.ts";
import { validateChannelName } from "./validation.ts";

export interface SubscribeDeps {
  engine: Engine;
  limits: Limits;
  connections: ConnectionRegistry;
}

export type Subscribe = (caller: Caller, args: SubscribeArgs) => Promise<SubscriptionStream>;

/**
 * Subscribing: who may join which channel, what each subscriber receives (its selector, its own
 * socket excluded), and a bounded queue per subscription released exactly once.
 */
export function createSubscribe({ engine, limits, connections }: SubscribeDeps): Subscribe {
  return async function subscribe(caller, args) {
    if (caller.role === "anonymous") {
      throw new HeraldError(
        ErrorCode.Unauthenticated,
        `${caller.problem ?? "Missing app key"}: a subscription needs the app key (connectionParams.key on WebSocket, ?key= or X-Herald-Key on SSE)`,
      );
    }
    const app = assertEnabled(caller.app);
    const name = validateChannelName(args.name, limits);
    authorizeChannel(name);
    const selector = args.selector == null ? undefined : parseSelector(args.selector, { maxLength: limits.maxSelectorLength });
    // An SSE request (or a backend subscribing) carries one operation: its connection lives
    // exactly as long as that subscription.
    const shared = caller.role === "subscriber" ? (caller.connection as LiveConnection | undefined) : undefined;
    if (shared && shared.subscriptions.size >= limits.maxSubscriptionsPerConnection) {
      throw new HeraldError(ErrorCode.TooManySubscriptions, `A connection may hold at most ${limits.maxSubscriptionsPerConnection} subscriptions`, {
        limit: limits.maxSubscriptionsPerConnection,
      });
    }
    const connection = shared ?? connections.connect(app, "sse");

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
        if (selector && !selector.matches(message.headers)) return;
        queue.push(messageEvent(message));
      });
      release = () => void subscription.close();
      if (queue.closed) release();
    } catch (error) {
      queue.return();
      throw error instanceof HeraldError ? error : new HeraldError(ErrorCode.EngineUnavailable, "Could not subscribe: engine unavailable");
    }
    queue.push(subscribedEvent(name, selector));
    return queue;
  };
}

/** Which channels a subscriber may join. Authorization for private and presence comes later. */
function authorizeChannel(name: string) {
  if (name.startsWith("private-") || name.startsWith("presence-") || name.startsWith("#server-to-user-")) {
    throw new HeraldError(ErrorCode.Forbidden, `Channel ${name} needs an authorization, which this server does not accept yet`);
  }
}

function subscribedEvent(channel: string, _selector: Selector | undefined): ChannelEvent {
  return { kind: "SUBSCRIBED", id: null, channel, event: "herald:subscription_succeeded", data: null, headers: {}, publishedAt: null };
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
