import type { Limits } from "../config.ts";
import type { ChannelMessage, Engine, StreamPosition } from "../engine/types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { assertEnabled } from "./apps.ts";
import type { ConnectionRegistry, LiveConnection } from "./connections.ts";
import { authorizeChannel, type ChannelAccess } from "./channel-auth.ts";
import { publishMemberEvent } from "./presence.ts";
import { parseSelector } from "./selector.ts";
import { createSubscriberQueue } from "./subscriber-queue.ts";
import type { Caller, ChannelEvent, Presence, SubscribeArgs, SubscriptionStream } from "./types.ts";
import { validateChannelName } from "./validation.ts";

export interface SubscribeDeps {
  engine: Engine;
  limits: Limits;
  connections: ConnectionRegistry;
  /** Messages a resume may replay (the engine keeps no more). */
  historySize: number;
  onError(error: unknown): void;
}

export type Subscribe = (caller: Caller, args: SubscribeArgs) => Promise<SubscriptionStream>;

/**
 * Subscribing: who may join which channel, presence membership, what each subscriber receives
 * (its selector; its own socket excluded), and a bounded queue per subscription whose end
 * releases everything exactly once.
 */
export function createSubscribe({ engine, limits, connections, historySize, onError }: SubscribeDeps): Subscribe {
  return async function subscribe(caller, args) {
    if (caller.role === "anonymous") {
      throw new HeraldError(
        ErrorCode.Unauthenticated,
        `${caller.problem ?? "Missing app key"}: a subscription needs the app key (connectionParams.key on WebSocket, ?key= or X-Herald-Key on SSE)`,
      );
    }
    const app = assertEnabled(caller.app);
    const name = validateChannelName(args.name, limits);
    const selector = args.selector == null ? undefined : parseSelector(args.selector, { maxLength: limits.maxSelectorLength });
    // An SSE request (or a backend subscribing) carries one operation: its connection lives
    // exactly as long as that subscription.
    const shared = caller.role === "subscriber" ? (caller.connection as LiveConnection | undefined) : undefined;
    if (shared && shared.subscriptions.size >= limits.maxSubscriptionsPerConnection) {
      throw new HeraldError(ErrorCode.TooManySubscriptions, `A connection may hold at most ${limits.maxSubscriptionsPerConnection} subscriptions`, {
        limit: limits.maxSubscriptionsPerConnection,
      });
    }
    const connection = shared ?? connections.connect(app, "sse", { token: args.token });
    let access: ChannelAccess;
    try {
      access = authorizeChannel(name, args, { app, socketId: connection.socketId, connectionClaims: connection.user?.claims, limits });
    } catch (error) {
      if (!shared) connection.close();
      throw error;
    }
    const member = access.member;

    let releaseEngine: () => Promise<void> = async () => {};
    let joined = false;
    const release = async () => {
      await releaseEngine();
      if (member && joined && (await engine.presence.leave(app.id, name, connection.socketId, member.userId))) {
        await publishMemberEvent(engine, app.id, name, "MEMBER_REMOVED", member);
      }
    };
    const queue = createSubscriberQueue<ChannelEvent>({
      limit: limits.subscriberQueueLength,
      onClose: () => {
        connection.subscriptions.delete(queue);
        release().catch(onError);
        if (!shared) connection.close();
      },
    });
    connection.subscriptions.add(queue);
    let presence: Presence | undefined;
    // Live messages wait in `pending` until SUBSCRIBED (and, on a resume, the replayed history)
    // went first; every message with an offset passes `position`, which drops what was already
    // delivered (history and live may overlap: they travel on different connections).
    const since = args.since ?? undefined;
    if (since !== undefined) validatePosition(since);
    const position = { offset: since?.offset ?? 0, epoch: since?.epoch };
    let pending: ChannelMessage[] | undefined = [];
    const deliver = (message: ChannelMessage) => {
      if (message.offset !== undefined) {
        if (message.epoch === position.epoch && message.offset <= position.offset) return;
        position.offset = message.offset;
        position.epoch = message.epoch;
      }
      if (message.excludeSocketId === connection.socketId) return;
      if (selector && !message.kind && !selector.matches(message.headers)) return;
      queue.push(messageEvent(message));
    };
    let recovered: boolean | undefined;
    let replay: readonly ChannelMessage[] = [];
    try {
      const subscription = await engine.subscribe(app.id, name, (message) => (pending ? pending.push(message) : deliver(message)));
      releaseEngine = () => subscription.close();
      if (member) {
        const joinedAs = await engine.presence.join(app.id, name, connection.socketId, member, limits.maxPresenceMembers);
        if (joinedAs === "full") {
          throw new HeraldError(ErrorCode.TooManyMembers, `Presence channel ${name} already has ${limits.maxPresenceMembers} members`, {
            limit: limits.maxPresenceMembers,
          });
        }
        joined = true;
        if (joinedAs === "added") await publishMemberEvent(engine, app.id, name, "MEMBER_ADDED", member, connection.socketId);
        const members = await engine.presence.members(app.id, name);
        presence = { channel: name, count: members.length, members };
      }
      if (since !== undefined) {
        const history = await engine.history(app.id, name, { since, limit: historySize });
        recovered = history.recoverable;
        if (recovered) replay = history.messages;
        // Unrecoverable: say so, and continue from the channel's current position.
        else Object.assign(position, { offset: history.offset, epoch: history.epoch });
      }
    } catch (error) {
      queue.return();
      throw error instanceof HeraldError ? error : new HeraldError(ErrorCode.EngineUnavailable, "Could not subscribe: engine unavailable");
    }
    if (queue.closed) {
      // The client went away while we subscribed: release what was set up after it left.
      await release().catch(onError);
      return queue;
    }
    queue.push(subscribedEvent(name, presence, since && { recovered: recovered!, ...position }));
    for (const message of replay) deliver(message);
    const live = pending;
    pending = undefined;
    for (const message of live) deliver(message);
    return queue;
  };
}

/**
 * First event of a subscription; on a presence channel its data holds the members. With
 * `since` it says whether the position was recovered, and the position replay starts from.
 */
function subscribedEvent(
  channel: string,
  presence: Presence | undefined,
  resume: { recovered: boolean; offset: number; epoch: string | undefined } | undefined,
): ChannelEvent {
  return {
    kind: "SUBSCRIBED",
    id: null,
    channel,
    event: "herald:subscription_succeeded",
    data: presence ? { count: presence.count, members: presence.members } : null,
    headers: {},
    publishedAt: null,
    ...(resume ? { recovered: resume.recovered, offset: resume.offset, epoch: resume.epoch } : {}),
  };
}

function validatePosition(since: StreamPosition) {
  if (!Number.isSafeInteger(since.offset) || since.offset < 0 || typeof since.epoch !== "string" || since.epoch.length > 64) {
    throw new HeraldError(ErrorCode.BadRequest, "since needs a non-negative integer offset and the epoch it came from");
  }
}

/** One event object per message, shared by every subscriber of it on this instance. */
const events = new WeakMap<ChannelMessage, ChannelEvent>();
export function messageEvent(message: ChannelMessage): ChannelEvent {
  let event = events.get(message);
  if (!event) {
    event = {
      kind: message.kind ?? "MESSAGE",
      id: message.id,
      channel: message.channel,
      event: message.event,
      data: message.data,
      headers: message.headers,
      publisherId: message.publisherId,
      publishedAt: message.publishedAt,
      offset: message.offset,
      epoch: message.epoch,
    };
    events.set(message, event);
  }
  return event;
}
