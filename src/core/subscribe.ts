import type { App, Limits } from "../config.ts";
import type { ChannelMessage, Engine, EngineSubscription, LostListener, MessageListener, StreamPosition } from "../engine/types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { assertEnabled } from "./apps.ts";
import type { ConnectionRegistry, LiveConnection } from "./connections.ts";
import { authorizeChannel, type ChannelAccess, type Member } from "./channel-auth.ts";
import { publishMemberEvent } from "./presence.ts";
import { parseSelector, type Selector } from "./selector.ts";
import { LATENCY_SAMPLE_EVERY, type Cell, type CoreStats } from "./stats.ts";
import { BoundedQueue } from "./subscriber-queue.ts";
import type { Caller, ChannelEvent, Presence, SubscribeArgs, SubscriptionStream } from "./types.ts";
import { validateChannelName } from "./validation.ts";
import { isExpired, priorityOf } from "../engine/queue-types.ts";
import type { ChannelLifecycle } from "./lifecycle.ts";

export interface SubscribeDeps {
  engine: Engine;
  limits: Limits;
  connections: ConnectionRegistry;
  /** Messages a resume may replay (the engine keeps no more). */
  historySize: number;
  /** Told of every subscription and membership change (lifecycle webhooks). */
  lifecycle?: ChannelLifecycle | undefined;
  onError(error: unknown): void;
  /** Where deliveries are counted (and their latency sampled). */
  stats: CoreStats;
}

export type Subscribe = (caller: Caller, args: SubscribeArgs) => Promise<SubscriptionStream>;

/**
 * Subscribing: who may join which channel, presence membership, what each subscriber receives
 * (its selector; its own socket excluded), and a bounded queue per subscription whose end
 * releases everything exactly once.
 */
export function createSubscribe(deps: SubscribeDeps): Subscribe {
  const { engine, limits, connections, historySize, onError } = deps;
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
    const since = args.since ?? undefined;
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
      // A connection opened here was opened with `args.token`: its claims are that token, checked once.
      const grant = shared ? args : { ...args, token: undefined };
      access = authorizeChannel(name, grant, { app, socketId: connection.socketId, connectionClaims: connection.user?.claims, limits });
      if (since !== undefined) validatePosition(since);
    } catch (error) {
      if (!shared) connection.close();
      throw error;
    }
    const member = access.member;
    const subscription = new ChannelSubscription(deps, { app, name, selector, connection, ownsConnection: !shared, member, since });
    connection.subscriptions.add(subscription);
    let presence: Presence | undefined;
    let recovered: boolean | undefined;
    let replay: readonly ChannelMessage[] = [];
    try {
      subscription.engineSubscription = await engine.subscribe(app.id, name, subscription.listener(), subscription.lostListener());
      deps.lifecycle?.subscribed(app, name);
      if (member) {
        const joinedAs = await engine.presence.join(app.id, name, connection.socketId, member, limits.maxPresenceMembers);
        if (joinedAs === "full") {
          throw new HeraldError(ErrorCode.TooManyMembers, `Presence channel ${name} already has ${limits.maxPresenceMembers} members`, {
            limit: limits.maxPresenceMembers,
          });
        }
        subscription.joined = true;
        if (joinedAs === "added") {
          await publishMemberEvent(engine, app.id, name, "MEMBER_ADDED", member, connection.socketId);
          deps.lifecycle?.memberAdded(app, name, member.userId);
        }
        const members = await engine.presence.members(app.id, name);
        presence = { channel: name, count: members.length, members };
      }
      if (since !== undefined) {
        const history = await engine.history(app.id, name, { since, limit: historySize });
        recovered = history.recoverable;
        if (recovered) replay = history.messages;
        // Unrecoverable: say so, and continue from the channel's current position.
        else subscription.moveTo(history.offset, history.epoch);
      }
    } catch (error) {
      void subscription.return();
      if (error instanceof HeraldError) throw error;
      onError(error); // the client hears "unavailable"; the log keeps what happened
      throw new HeraldError(ErrorCode.EngineUnavailable, "Could not subscribe: engine unavailable");
    }
    if (subscription.closed) {
      // The client went away while we subscribed: release what was set up after it left.
      await subscription.release().catch(onError);
      return subscription;
    }
    subscription.push(subscribedEvent(name, presence, since && { recovered: recovered!, ...subscription.position }));
    for (const message of replay) subscription.deliver(message);
    subscription.goLive();
    return subscription;
  };
}

/**
 * One subscription: the queue its subscriber reads, and what feeds it (the engine subscription,
 * the presence membership, the position), in one object. It lives as long as its client stays
 * subscribed, so it is a class: its methods are shared, where closures would be per subscription.
 */
class ChannelSubscription extends BoundedQueue<ChannelEvent> {
  readonly #deps: SubscribeDeps;
  readonly #app: App;
  readonly #name: string;
  readonly #selector: Selector | undefined;
  readonly #connection: LiveConnection;
  readonly #ownsConnection: boolean;
  readonly #member: Member | undefined;
  engineSubscription: EngineSubscription | undefined = undefined;
  /** True once the member joined the presence set: leaving is then ours to do. */
  joined = false;
  // Every message with an offset passes the position, which drops what was already delivered
  // (history and live may overlap: they travel on different connections).
  #offset: number;
  #epoch: string | undefined;
  /** Live messages (and losses) wait here until SUBSCRIBED (and, on a resume, the replayed history) went first. */
  #pending: (ChannelMessage | Lost)[] | undefined = [];
  /** The app's and transport's delivery counter (shared by their subscriptions). */
  readonly #delivered: Cell;

  constructor(
    deps: SubscribeDeps,
    init: {
      app: App;
      name: string;
      selector: Selector | undefined;
      connection: LiveConnection;
      ownsConnection: boolean;
      member: Member | undefined;
      since: StreamPosition | undefined;
    },
  ) {
    super(deps.limits.subscriberQueueLength);
    this.#deps = deps;
    this.#app = init.app;
    this.#name = init.name;
    this.#selector = init.selector;
    this.#connection = init.connection;
    this.#ownsConnection = init.ownsConnection;
    this.#member = init.member;
    this.#offset = init.since?.offset ?? 0;
    this.#epoch = init.since?.epoch;
    this.#delivered = deps.stats.deliveryCell(init.app.id, init.connection.transport);
  }

  get position() {
    return { offset: this.#offset, epoch: this.#epoch };
  }

  /** The engine's listener: a closure over this subscription alone (one small context). */
  listener(): MessageListener {
    return (message) => this.#receive(message);
  }

  /** The engine's loss listener (see `LostListener`). */
  lostListener(): LostListener {
    return (position) => {
      if (this.#pending) this.#pending.push(new Lost(position));
      else this.#lost(position);
    };
  }

  #receive(message: ChannelMessage) {
    if (this.#pending) this.#pending.push(message);
    else this.deliver(message);
  }

  /**
   * Messages were lost on their way (Redis restarted without them): say so as a resume that
   * could not be served does — SUBSCRIBED with `recovered: false` and the position the stream
   * continues from — and continue from there.
   */
  #lost(position: StreamPosition) {
    this.moveTo(position.offset, position.epoch);
    this.push(subscribedEvent(this.#name, undefined, { recovered: false, ...position }));
  }

  moveTo(offset: number, epoch: string | undefined) {
    this.#offset = offset;
    this.#epoch = epoch;
  }

  deliver(message: ChannelMessage) {
    if (message.offset !== undefined) {
      if (message.epoch === this.#epoch && message.offset <= this.#offset) return;
      this.#offset = message.offset;
      this.#epoch = message.epoch;
    }
    if (message.excludeSocketId === this.#connection.socketId) return;
    // Expired while on its way (or replayed after it expired): delivered to nobody.
    if (message.expiresAt !== undefined && isExpired(message, Date.now())) return;
    if (this.#selector && !message.kind && !this.#selector.matches(message.headers)) return;
    this.push(messageEvent(message));
    if (++this.#delivered.n % LATENCY_SAMPLE_EVERY === 1) this.#sampleLatency(message);
  }

  #sampleLatency(message: ChannelMessage) {
    const observe = this.#deps.stats.onLatencySample;
    if (observe) observe(this.#connection.transport, Math.max(0, Date.now() - Date.parse(message.publishedAt)) / 1000);
  }

  /** Delivers what arrived while subscribing, then every message as it comes. */
  goLive() {
    const live = this.#pending!;
    this.#pending = undefined;
    for (const item of live) {
      if (item instanceof Lost) this.#lost(item.position);
      else this.deliver(item);
    }
  }

  /**
   * Releases the engine subscription and the presence membership; safe to call again. Each is
   * released even if the other fails (Redis unreachable): the engine then finishes it later.
   */
  async release() {
    const [closed, left] = await Promise.allSettled([this.#unsubscribe(), this.#leave()]);
    for (const result of [closed, left]) if (result.status === "rejected") throw result.reason;
  }

  async #unsubscribe() {
    if (!this.engineSubscription) return;
    await this.engineSubscription.close();
    this.#deps.lifecycle?.unsubscribed(this.#app, this.#name);
  }

  async #leave() {
    const { engine, lifecycle } = this.#deps;
    const member = this.#member;
    if (member && this.joined && (await engine.presence.leave(this.#app.id, this.#name, this.#connection.socketId, member.userId))) {
      await publishMemberEvent(engine, this.#app.id, this.#name, "MEMBER_REMOVED", member);
      lifecycle?.memberRemoved(this.#app, this.#name, member.userId);
    }
  }

  protected override onClose() {
    this.#connection.subscriptions.delete(this);
    this.release().catch(this.#deps.onError);
    if (this.#ownsConnection) this.#connection.close();
  }
}

/** In a subscription's pending list: the engine lost messages before `position`. */
class Lost {
  constructor(readonly position: StreamPosition) {}
}

/**
 * First event of a subscription; on a presence channel its data holds the members. With
 * `since` it says whether the position was recovered, and the position replay starts from.
 * Sent again (no data, `recovered: false`) when the engine lost messages of the channel.
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
      priority: message.kind ? undefined : priorityOf(message),
      mimeType: message.mimeType,
      expiresAt: message.expiresAt,
      publishedAt: message.publishedAt,
      offset: message.offset,
      epoch: message.epoch,
      formats: message.formats,
      prevId: message.prevId,
    };
    events.set(message, event);
  }
  return event;
}
