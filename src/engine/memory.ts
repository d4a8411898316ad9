import type {
  ChannelCounts,
  ChannelMessage,
  Engine,
  EngineSubscription,
  MessageListener,
} from "./types.ts";
import { createMemoryPresence } from "./memory-presence.ts";
import { createMemorySchedules } from "./memory-schedules.ts";
import { createMemoryWebhooks } from "./memory-webhooks.ts";
import { createMemoryHistory, type MemoryHistoryOptions } from "./memory-history.ts";
import { withoutPosition } from "./channel-message.ts";
import { createMemoryQueues } from "./memory-queues.ts";
import type { QueueOptions } from "./queue-types.ts";

/**
 * The embedded engine: everything in this process's memory. Delivery is synchronous inside
 * `publish`, which gives ordering and no-loss-after-subscribe for free.
 */
export function createMemoryEngine(options: MemoryHistoryOptions & { queues?: QueueOptions } = {}): Engine {
  const { now = Date.now } = options;
  const history = createMemoryHistory({ ...options, now });
  const queues = createMemoryQueues({ ...options.queues, now });
  /** `${appId}\0${channel}` → listeners; a key exists only while it has listeners. */
  const channels = new Map<string, Set<MessageListener>>();
  const keyOf = (appId: string, channel: string) => `${appId}\0${channel}`;
  const presence = createMemoryPresence();
  const webhooks = createMemoryWebhooks();

  return {
    kind: "memory",
    presence,
    schedules: createMemorySchedules({ now }),
    queues,
    webhooks,

    async publish(appId, messages, { history: append = true, statuses } = {}) {
      for (const record of statuses?.records ?? []) history.putStatus(appId, record, statuses!.ttlSeconds);
      for (const message of messages) {
        const delivered = append ? history.append(appId, message) : withoutPosition(message);
        queues.append(appId, delivered);
        const listeners = channels.get(keyOf(appId, message.channel));
        if (!listeners) continue;
        // Copy: a listener may unsubscribe (or subscribe another) while we iterate.
        for (const listener of [...listeners]) listener(delivered);
      }
    },

    async history(appId, channel, options) {
      return history.read(appId, channel, options);
    },

    async claimMessageId(appId, id, windowSeconds) {
      return history.claim(appId, id, windowSeconds);
    },

    async subscribe(appId, channel, listener) {
      const key = keyOf(appId, channel);
      let listeners = channels.get(key);
      if (!listeners) channels.set(key, (listeners = new Set()));
      // Wrap so the same function can subscribe twice and count twice.
      const entry: MessageListener = (message: ChannelMessage) => listener(message);
      listeners.add(entry);
      const subscription: EngineSubscription = {
        async close() {
          const current = channels.get(key);
          if (!current?.delete(entry)) return;
          if (current.size === 0) channels.delete(key);
        },
      };
      return subscription;
    },

    async channelCounts(appId, channel) {
      return { name: channel, subscriptionCount: channels.get(keyOf(appId, channel))?.size ?? 0 };
    },

    async occupiedChannels(appId, prefix, first) {
      const result: ChannelCounts[] = [];
      const appPrefix = keyOf(appId, prefix);
      for (const [key, listeners] of channels) {
        if (key.startsWith(appPrefix)) result.push({ name: key.slice(appId.length + 1), subscriptionCount: listeners.size });
      }
      return result.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, first);
    },

    async getMessageStatus(appId, id) {
      return history.getStatus(appId, id);
    },

    async ping() {},

    async close() {
      channels.clear();
      presence.clear();
      history.clear();
      queues.clear();
      webhooks.clear();
    },
  };
}
