import { randomUUID } from "node:crypto";
import type { App, SubscriptionCountConfig } from "../config.ts";
import type { ChannelMessage, Engine } from "../engine/types.ts";
import { channelKind } from "./channel-auth.ts";

/** SUBSCRIPTION_COUNT events travel as messages on the channel itself, kept in no history. */
export const SUBSCRIPTION_COUNT_EVENT = "herald:subscription_count";

/** The app's lifecycle events travel to every instance (for `channelActivity`) on this internal channel. */
export const ACTIVITY_CHANNEL = "$activity";
const ACTIVITY_EVENT = "herald:activity";

/** A lifecycle event as `channelActivity` reports it (client events are not activity). */
export interface ChannelActivity {
  readonly kind: "OCCUPIED" | "VACATED" | "MEMBER_ADDED" | "MEMBER_REMOVED" | "SUBSCRIPTION_COUNT";
  readonly channel: string;
  readonly userId?: string | undefined;
  readonly subscriptionCount?: number | undefined;
  /** ISO-8601: when the instance that computed it reported it. */
  readonly at: string;
}

const ACTIVITY_KINDS = {
  channel_occupied: "OCCUPIED",
  channel_vacated: "VACATED",
  member_added: "MEMBER_ADDED",
  member_removed: "MEMBER_REMOVED",
  subscription_count: "SUBSCRIPTION_COUNT",
} as const;

/** The message that carries a lifecycle event to every instance's `channelActivity` streams; none for client events and cache misses. */
export function activityMessage(event: LifecycleEvent, at: Date): ChannelMessage | undefined {
  if (event.name === "client_event" || event.name === "cache_miss") return undefined;
  const activity: ChannelActivity = {
    kind: ACTIVITY_KINDS[event.name],
    channel: event.channel,
    ...("user_id" in event ? { userId: event.user_id } : {}),
    ...("subscription_count" in event ? { subscriptionCount: event.subscription_count } : {}),
    at: at.toISOString(),
  };
  return { id: randomUUID(), channel: ACTIVITY_CHANNEL, event: ACTIVITY_EVENT, data: activity, headers: {}, publishedAt: activity.at };
}

/** A change of a channel as Pusher's webhooks name it. */
export type LifecycleEvent =
  | { readonly name: "channel_occupied" | "channel_vacated"; readonly channel: string }
  | { readonly name: "member_added" | "member_removed"; readonly channel: string; readonly user_id: string }
  | { readonly name: "subscription_count"; readonly channel: string; readonly subscription_count: number }
  /** A subscription to a cache channel found nothing to replay (Pusher's `cache_miss`). */
  | { readonly name: "cache_miss"; readonly channel: string }
  /** Sent by the instance the client event arrived at, once (Pusher's `client_event`). */
  | {
      readonly name: "client_event";
      readonly channel: string;
      readonly event: string;
      /** As the client sent it: a string, or the JSON text of what it sent. */
      readonly data: string;
      readonly socket_id: string;
      readonly user_id?: string;
    };

/** What subscribing tells the lifecycle (every call returns at once; the checks run in the background). */
export interface ChannelLifecycle {
  subscribed(app: App, channel: string): void;
  unsubscribed(app: App, channel: string): void;
  memberAdded(app: App, channel: string, userId: string): void;
  memberRemoved(app: App, channel: string, userId: string): void;
  close(): void;
}

export interface LifecycleDeps {
  engine: Engine;
  /** `channel_vacated` and `member_removed` wait this long, and are not sent if the channel or member is back by then. */
  delayMs: number;
  /** How often a channel's subscription count is reported, for apps that want it (see `wantsSubscriptionCount`). */
  subscriptionCount: SubscriptionCountConfig;
  /** Receives each event once, service-wide. */
  emit(app: App, event: LifecycleEvent): void;
  onError(error: unknown): void;
}

/** Whether the app's channels report their subscription count: to subscribers, or to a webhook. */
export function wantsSubscriptionCount(app: App): boolean {
  return app.enableSubscriptionCount === true || (app.webhooks?.some((w) => w.events.includes("subscription_count")) ?? false);
}

/** The message that tells a channel's subscribers its subscription count. */
export function subscriptionCountMessage(channel: string, count: number): ChannelMessage {
  return {
    kind: "SUBSCRIPTION_COUNT",
    id: randomUUID(),
    channel,
    event: SUBSCRIPTION_COUNT_EVENT,
    data: { subscriptionCount: count },
    headers: {},
    publishedAt: new Date().toISOString(),
  };
}

/**
 * Occupied/vacated and member added/removed, computed service-wide. Each instance only says
 * "something changed here"; a check then reads the state every instance shares (the channel's
 * subscription count, the presence members) and flips a flag in the engine (`setFlag` /
 * `clearFlag`, atomic across instances). Only the caller that flips it emits the event, so two
 * instances subscribing to one channel produce one `channel_occupied`, and events alternate
 * (occupied, vacated, occupied…) whatever the interleaving. A leave is checked only after
 * `delayMs`: a reconnect within it finds the channel occupied (or the member present) again, and
 * the flag was never cleared, so neither a vacate nor a new occupy is sent. Only an instance's
 * first subscription to a channel and its last leaving it are checked: while it holds another,
 * the channel is occupied whatever else happens.
 *
 * Subscription counts (apps with `enableSubscriptionCount` or a `subscription_count` webhook;
 * not presence channels, whose members say more) work the same way with a value instead of a
 * flag: a check reads the count and exchanges it for the one last reported (`exchangeValue`),
 * and only the caller that changed it reports it — to the channel's subscribers, as a
 * SUBSCRIPTION_COUNT message on every instance, and to `emit`. A change waits
 * `intervalMs` for the changes that follow it (a burst of joins is one report); after a report
 * the instance checks once more after the interval (`largeIntervalMs` past `largeChannel`
 * subscriptions), which both throttles the channel and corrects a report that a slower check on
 * another instance overwrote with an older count.
 */
export function createChannelLifecycle({ engine, delayMs, subscriptionCount, emit, onError }: LifecycleDeps): ChannelLifecycle {
  const timers = new Set<NodeJS.Timeout>();
  /** This instance's subscriptions per channel (`appId\0channel`). */
  const local = new Map<string, number>();
  /** Channels (`appId\0channel`) whose count check is due; a change meanwhile waits for it. */
  const countChecks = new Map<string, NodeJS.Timeout>();
  /** Channels whose count check is running: whether they changed meanwhile. */
  const countRunning = new Map<string, boolean>();
  let closed = false;
  const watched = (channel: string) => !channel.startsWith("$");
  const counted = (app: App, channel: string) => wantsSubscriptionCount(app) && channelKind(channel) !== "presence";

  function later(check: () => Promise<void>) {
    if (closed) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      check().catch(onError);
    }, delayMs);
    timer.unref();
    timers.add(timer);
  }

  function checkCountLater(app: App, channel: string, afterMs: number) {
    const key = `${app.id}\0${channel}`;
    if (closed || countChecks.has(key)) return;
    // A change while a check runs waits for it: the check's report decides the next one's time
    // (scheduling one now would let the next report skip the large interval).
    if (countRunning.has(key)) return void countRunning.set(key, true);
    const timer = setTimeout(() => {
      countChecks.delete(key);
      countRunning.set(key, false);
      const next = (reported: number | undefined) => {
        const changed = countRunning.get(key);
        countRunning.delete(key);
        const { intervalMs, largeChannel, largeIntervalMs } = subscriptionCount;
        if (reported !== undefined) checkCountLater(app, channel, reported > largeChannel ? largeIntervalMs : intervalMs);
        else if (changed) checkCountLater(app, channel, intervalMs);
      };
      checkCount(app, channel).then(next, (error: unknown) => {
        onError(error);
        next(undefined);
      });
    }, afterMs);
    timer.unref();
    countChecks.set(key, timer);
  }

  /** Reports the channel's count if it changed; the count reported, or undefined. */
  async function checkCount(app: App, channel: string): Promise<number | undefined> {
    const count = (await engine.channelCounts(app.id, channel)).subscriptionCount;
    const value = count > 0 ? String(count) : null;
    if ((await engine.webhooks.exchangeValue(app.id, `count:${channel}`, value)) === value) return undefined;
    if (app.enableSubscriptionCount) await engine.publish(app.id, [subscriptionCountMessage(channel, count)], { history: false });
    emit(app, { name: "subscription_count", channel, subscription_count: count });
    return count;
  }

  async function checkChannel(app: App, channel: string) {
    const { subscriptionCount } = await engine.channelCounts(app.id, channel);
    const flag = `occupied:${channel}`;
    if (subscriptionCount > 0) {
      if (await engine.webhooks.setFlag(app.id, flag)) emit(app, { name: "channel_occupied", channel });
    } else if (await engine.webhooks.clearFlag(app.id, flag)) emit(app, { name: "channel_vacated", channel });
  }

  async function checkMember(app: App, channel: string, userId: string) {
    const present = (await engine.presence.members(app.id, channel)).some((m) => m.userId === userId);
    const flag = `member:${channel}\0${userId}`;
    if (present) {
      if (await engine.webhooks.setFlag(app.id, flag)) emit(app, { name: "member_added", channel, user_id: userId });
    } else if (await engine.webhooks.clearFlag(app.id, flag)) emit(app, { name: "member_removed", channel, user_id: userId });
  }

  return {
    subscribed(app, channel) {
      if (!watched(channel)) return;
      const key = `${app.id}\0${channel}`;
      const held = local.get(key) ?? 0;
      local.set(key, held + 1);
      if (held === 0) checkChannel(app, channel).catch(onError);
      if (counted(app, channel)) checkCountLater(app, channel, subscriptionCount.intervalMs);
    },
    unsubscribed(app, channel) {
      if (!watched(channel)) return;
      const key = `${app.id}\0${channel}`;
      const held = (local.get(key) ?? 1) - 1;
      if (held > 0) local.set(key, held);
      else {
        local.delete(key);
        later(() => checkChannel(app, channel));
      }
      if (counted(app, channel)) checkCountLater(app, channel, subscriptionCount.intervalMs);
    },
    memberAdded(app, channel, userId) {
      if (watched(channel)) checkMember(app, channel, userId).catch(onError);
    },
    memberRemoved(app, channel, userId) {
      if (watched(channel)) later(() => checkMember(app, channel, userId));
    },
    close() {
      closed = true;
      for (const timer of [...timers, ...countChecks.values()]) clearTimeout(timer);
      timers.clear();
      countChecks.clear();
    },
  };
}
