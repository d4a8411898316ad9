import { isExpired, newQueueKey, priorityOf, type QueueOptions, type QueueRecord, type QueueStore } from "./queue-types.ts";
import type { ChannelMessage } from "./types.ts";

export interface MemoryQueues extends QueueStore {
  /** Appends the message to every queue of its channel (called by the engine's publish). */
  append(appId: string, message: ChannelMessage): void;
  clear(): void;
}

/** One queue: a FIFO per priority (index 0 = priority 1), so pulls and drops are O(1) per message. */
interface Queue {
  readonly key: string;
  readonly appId: string;
  readonly channel: string;
  readonly createdAt: string;
  readonly levels: ChannelMessage[][];
  depth: number;
  dropped: number;
  usedAt: number;
}

/** Pull queues of the memory engine (guarantees in queue-types.ts). */
export function createMemoryQueues(options: QueueOptions & { now?: () => number } = {}): MemoryQueues {
  const { maxDepth = 10_000, idleTtlSeconds = 86_400, now = Date.now } = options;
  const ttlMs = idleTtlSeconds * 1000;
  /** `${appId}\0${key}` → queue, in creation order. */
  const byKey = new Map<string, Queue>();
  /** `${appId}\0${channel}` → its queues. */
  const byChannel = new Map<string, Set<Queue>>();
  const keyOf = (appId: string, name: string) => `${appId}\0${name}`;

  function remove(queue: Queue) {
    byKey.delete(keyOf(queue.appId, queue.key));
    const set = byChannel.get(keyOf(queue.appId, queue.channel));
    set?.delete(queue);
    if (set?.size === 0) byChannel.delete(keyOf(queue.appId, queue.channel));
  }

  /** The queue, unless it is unknown or idle past its TTL (then it is removed). */
  function live(appId: string, key: string, at = now()): Queue | undefined {
    const queue = byKey.get(keyOf(appId, key));
    if (!queue) return undefined;
    if (queue.usedAt + ttlMs > at) return queue;
    remove(queue);
    return undefined;
  }

  const record = (q: Queue): QueueRecord => ({ key: q.key, channel: q.channel, createdAt: q.createdAt, depth: q.depth, dropped: q.dropped });

  function liveOf(appId: string): Queue[] {
    const at = now();
    return [...byKey.values()].filter((q) => q.appId === appId && live(appId, q.key, at));
  }

  return {
    append(appId, message) {
      const queues = byChannel.get(keyOf(appId, message.channel));
      if (!queues) return;
      const at = now();
      for (const queue of [...queues]) {
        if (!live(appId, queue.key, at)) continue;
        queue.levels[priorityOf(message) - 1]!.push(message);
        if (++queue.depth <= maxDepth) continue;
        // Full: the least urgent goes — the oldest of the lowest priority present.
        queue.levels.find((level) => level.length > 0)!.shift();
        queue.depth--;
        queue.dropped++;
      }
    },

    async create(appId, channel, maxQueues) {
      if (liveOf(appId).length >= maxQueues) return "limit";
      const at = now();
      const queue: Queue = {
        key: newQueueKey(),
        appId,
        channel,
        createdAt: new Date(at).toISOString(),
        levels: Array.from({ length: 9 }, () => []),
        depth: 0,
        dropped: 0,
        usedAt: at,
      };
      byKey.set(keyOf(appId, queue.key), queue);
      const channelKey = keyOf(appId, channel);
      let set = byChannel.get(channelKey);
      if (!set) byChannel.set(channelKey, (set = new Set()));
      set.add(queue);
      return record(queue);
    },

    async get(appId, key) {
      const queue = live(appId, key);
      return queue && record(queue);
    },

    async list(appId, channel) {
      return liveOf(appId)
        .filter((q) => channel === undefined || q.channel === channel)
        .map(record);
    },

    async delete(appId, key) {
      const queue = live(appId, key);
      if (queue) remove(queue);
      return queue !== undefined;
    },

    async pull(appId, key, max) {
      const at = now();
      const queue = live(appId, key, at);
      if (!queue) return undefined;
      queue.usedAt = at;
      const messages: ChannelMessage[] = [];
      for (let level = 8; level >= 0 && messages.length < max; level--) {
        const fifo = queue.levels[level]!;
        while (fifo.length > 0 && messages.length < max) {
          const message = fifo.shift()!;
          queue.depth--;
          if (!isExpired(message, at)) messages.push(message);
        }
      }
      return { queue: record(queue), messages };
    },

    clear() {
      byKey.clear();
      byChannel.clear();
    },
  };
}
