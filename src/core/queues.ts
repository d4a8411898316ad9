import type { App, Limits, QueueConfig } from "../config.ts";
import type { QueueStore } from "../engine/queue-types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import type { ResponseBudget } from "./response-budget.ts";
import { messageEvent } from "./subscribe.ts";
import type { QueueInfo, QueueMessage } from "./types.ts";
import { validateChannelName } from "./validation.ts";

/**
 * Durable pull queues, as every surface uses them (GraphQL createQueue / pull / deleteQueue /
 * queue / queues, Zato subscribe / get messages / unsubscribe): the rules on keys, `max` and the
 * per-app limit; the engine keeps the queues (guarantees in engine/queue-types.ts).
 */
export interface Queues {
  create(app: App, channel: string): Promise<QueueInfo>;
  /** Removes and returns up to `max` messages; NOT_FOUND for an unknown key, or one of another channel when `channel` is given. */
  pull(app: App, key: string, options: PullOptions): Promise<QueueMessage[]>;
  /** NOT_FOUND for an unknown key, or one of another channel when `channel` is given. */
  delete(app: App, key: string, channel?: string): Promise<void>;
  get(app: App, key: string): Promise<QueueInfo | undefined>;
  list(app: App, channel?: string | null): Promise<QueueInfo[]>;
}

export interface PullOptions {
  readonly max?: number | null | undefined;
  /** The key must be a queue of this channel (Zato's topic in the path). */
  readonly channel?: string | undefined;
  /**
   * The answer's byte budget (GraphQL): a pull reserves `max` messages of the largest size
   * before it removes anything, since what it removed cannot be put back if the answer failed.
   */
  readonly budget?: ResponseBudget | undefined;
}

/** Messages a pull returns when it names no `max`. */
const DEFAULT_PULL = 50;
const QUEUE_KEY = /^[A-Za-z0-9._-]{1,128}$/;

export function createQueues({ store, limits, config }: { store: QueueStore; limits: Limits; config: QueueConfig }): Queues {
  function validKey(key: unknown): string {
    if (typeof key !== "string" || !QUEUE_KEY.test(key)) throw notFound(key);
    return key;
  }

  function notFound(key: unknown): HeraldError {
    return new HeraldError(ErrorCode.NotFound, `No queue has the key ${JSON.stringify(key)} (unknown, deleted, or removed after being idle)`);
  }

  /** The queue, checked to belong to `channel` when one is given. */
  async function existing(app: App, key: string, channel: string | undefined): Promise<QueueInfo> {
    const queue = await store.get(app.id, validKey(key));
    if (!queue) throw notFound(key);
    if (channel !== undefined && queue.channel !== channel) {
      throw new HeraldError(ErrorCode.NotFound, `Queue ${key} is not a queue of ${JSON.stringify(channel)}`);
    }
    return queue;
  }

  return {
    async create(app, channel) {
      const name = validateChannelName(channel, limits);
      const created = await store.create(app.id, name, config.maxPerApp);
      if (created === "limit") {
        throw new HeraldError(
          ErrorCode.TooManySubscriptions,
          `App ${app.id} has ${config.maxPerApp} queues, the most it may have (HERALD_MAX_QUEUES_PER_APP); delete one first`,
          { limit: config.maxPerApp, setting: "HERALD_MAX_QUEUES_PER_APP" },
        );
      }
      return created;
    },

    async pull(app, key, { max: asked, channel, budget }) {
      const max = asked ?? Math.min(DEFAULT_PULL, config.maxPullMessages);
      if (!Number.isInteger(max) || max < 1 || max > config.maxPullMessages) {
        throw new HeraldError(ErrorCode.BadRequest, `max must be a whole number from 1 to ${config.maxPullMessages} (HERALD_MAX_PULL_MESSAGES)`, {
          limit: config.maxPullMessages,
        });
      }
      // Checked before anything is removed: a key of another channel pulls nothing.
      if (channel !== undefined) await existing(app, key, channel);
      budget?.charge(max * limits.maxPayloadBytes);
      const result = await store.pull(app.id, validKey(key), max);
      if (!result) throw notFound(key);
      return result.messages.map((message) => ({ ...messageEvent(message), queue: key }));
    },

    async delete(app, key, channel) {
      await existing(app, key, channel);
      if (!(await store.delete(app.id, key))) throw notFound(key);
    },

    async get(app, key) {
      return QUEUE_KEY.test(key) ? store.get(app.id, key) : undefined;
    },

    async list(app, channel) {
      return store.list(app.id, channel == null ? undefined : validateChannelName(channel, limits));
    },
  };
}
