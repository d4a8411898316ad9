import type { App } from "../config.ts";
import type { Engine } from "../engine/types.ts";

/** A change of a channel as Pusher's webhooks name it. */
export type LifecycleEvent =
  | { readonly name: "channel_occupied" | "channel_vacated"; readonly channel: string }
  | { readonly name: "member_added" | "member_removed"; readonly channel: string; readonly user_id: string }
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
  /** Only these apps' channels are watched (those with lifecycle webhooks). */
  appIds: ReadonlySet<string>;
  /** `channel_vacated` and `member_removed` wait this long, and are not sent if the channel or member is back by then. */
  delayMs: number;
  /** Receives each event once, service-wide. */
  emit(app: App, event: LifecycleEvent): void;
  onError(error: unknown): void;
}

/**
 * Occupied/vacated and member added/removed, computed service-wide. Each instance only says
 * "something changed here"; a check then reads the state every instance shares (the channel's
 * subscription count, the presence members) and flips a flag in the engine (`setFlag` /
 * `clearFlag`, atomic across instances). Only the caller that flips it emits the event, so two
 * instances subscribing to one channel produce one `channel_occupied`, and events alternate
 * (occupied, vacated, occupied…) whatever the interleaving. A leave is checked only after
 * `delayMs`: a reconnect within it finds the channel occupied (or the member present) again, and
 * the flag was never cleared, so neither a vacate nor a new occupy is sent.
 */
export function createChannelLifecycle({ engine, appIds, delayMs, emit, onError }: LifecycleDeps): ChannelLifecycle {
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const watched = (app: App, channel: string) => appIds.has(app.id) && !channel.startsWith("$");

  function later(check: () => Promise<void>) {
    if (closed) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      check().catch(onError);
    }, delayMs);
    timer.unref();
    timers.add(timer);
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
      if (watched(app, channel)) checkChannel(app, channel).catch(onError);
    },
    unsubscribed(app, channel) {
      if (watched(app, channel)) later(() => checkChannel(app, channel));
    },
    memberAdded(app, channel, userId) {
      if (watched(app, channel)) checkMember(app, channel, userId).catch(onError);
    },
    memberRemoved(app, channel, userId) {
      if (watched(app, channel)) later(() => checkMember(app, channel, userId));
    },
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
