import type { Engine } from "../engine/types.ts";

/**
 * GRIP `prev-id` ordering. An item naming a `prev-id` is published once the message with that id
 * has been published on its channel, or once `waitMs` has passed without it (then anyway: a
 * missing predecessor never blocks a channel for longer than the bound).
 *
 * "Has been published on the channel" is read from the message's status, which the engine
 * stores in the same step as the publish (so on Redis every instance sees it), and from the
 * channel itself while waiting: the waiter subscribes, then reads the status again, so a
 * predecessor published in between is found one way or the other.
 *
 * An item held on this instance is itself a predecessor others may wait for: a successor whose
 * bound passes first waits for it to go out, so items held together leave in their order.
 */
export interface PrevIdOrder {
  /**
   * Runs `publish` once `prevId` has been published on every one of `channels` (or the bound
   * passed). While it waits, `id` (a caller-supplied id, or undefined) counts as held here.
   */
  after<T>(appId: string, channels: readonly string[], id: string | undefined, prevId: string, publish: () => Promise<T>): Promise<T>;
  /** Items waiting now on this instance. */
  readonly held: number;
}

export interface PrevIdOrderDeps {
  engine: Engine;
  /** HERALD_GRIP_PREV_ID_WAIT_MS: the longest an item waits for its predecessor. */
  waitMs: number;
}

export function createPrevIdOrder({ engine, waitMs }: PrevIdOrderDeps): PrevIdOrder {
  /** Held items by app, channel and id: resolves once the item was published (or failed). */
  const heldHere = new Map<string, Promise<void>>();
  let held = 0;
  const keyOf = (appId: string, channel: string, id: string) => JSON.stringify([appId, channel, id]);

  async function published(appId: string, channel: string, prevId: string): Promise<boolean> {
    const status = await engine.getMessageStatus(appId, prevId);
    return status?.status === "PUBLISHED" && status.channels.includes(channel);
  }

  async function predecessor(appId: string, channel: string, prevId: string, deadline: number): Promise<void> {
    if (await published(appId, channel, prevId)) return;
    let seen!: () => void;
    const arrived = new Promise<void>((resolve) => (seen = resolve));
    const subscription = await engine.subscribe(appId, channel, (message) => {
      if (message.id === prevId) seen();
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      if (await published(appId, channel, prevId)) return;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
      await Promise.race([arrived, bound]);
      // The bound passed while the predecessor is held here: it goes first, then this one.
      await heldHere.get(keyOf(appId, channel, prevId));
    } finally {
      clearTimeout(timer);
      await subscription.close();
    }
  }

  return {
    get held() {
      return held;
    },
    async after(appId, channels, id, prevId, publish) {
      const deadline = Date.now() + waitMs;
      let done!: () => void;
      const finished = new Promise<void>((resolve) => (done = resolve));
      const keys = id === undefined ? [] : channels.map((channel) => keyOf(appId, channel, id));
      for (const key of keys) heldHere.set(key, finished);
      held++;
      try {
        await Promise.all(channels.map((channel) => predecessor(appId, channel, prevId, deadline)));
        return await publish();
      } finally {
        held--;
        for (const key of keys) if (heldHere.get(key) === finished) heldHere.delete(key);
        done();
      }
    },
  };
}

/**
 * The events of one request in the order to publish them: as given, except that an event whose
 * `prevId` names an event later in the same request goes right after it (its predecessor is
 * not coming from anywhere else).
 */
export function orderByPrevId<E extends { readonly id: string; readonly idSupplied: boolean; readonly prevId?: string | undefined }>(events: readonly E[]): E[] {
  const later = new Set(events.filter((e) => e.idSupplied).map((e) => e.id));
  if (!events.some((e) => e.prevId !== undefined && later.has(e.prevId))) return [...events];
  const placed: E[] = [];
  const waitingFor = new Map<string, E[]>();
  const place = (event: E) => {
    placed.push(event);
    if (!event.idSupplied) return;
    later.delete(event.id);
    const followers = waitingFor.get(event.id);
    waitingFor.delete(event.id);
    for (const follower of followers ?? []) place(follower);
  };
  for (const event of events) {
    if (event.prevId !== undefined && later.has(event.prevId) && event.prevId !== event.id) {
      waitingFor.set(event.prevId, [...(waitingFor.get(event.prevId) ?? []), event]);
    } else {
      place(event);
    }
  }
  // Cycles (a → b → a) have no first: what is left goes in the order given.
  for (const event of events) if (!placed.includes(event)) placed.push(event);
  return placed;
}
