import type { ChannelMessage, HistoryOptions, HistoryResult, LostListener, MessageListener, StreamPosition } from "./types.ts";

/** One subscription a channel feed hands its messages to. */
export interface FeedSubscription {
  readonly listener: MessageListener;
  readonly onLost: LostListener | undefined;
}

export interface ChannelFeedDeps {
  /** Reads the channel's history (the engine's `history`). */
  read(options: HistoryOptions): Promise<HistoryResult>;
  /** Messages the history keeps: a read of this many (and one) from a position gets all it has. */
  historySize: number;
  /** Messages held back at most while a gap is repaired; past that the feed gives the repair up. */
  maxHeld: number;
  onError(error: unknown): void;
}

/** A channel's position when a feed started: `epoch` undefined when it had no stream yet. */
export interface FeedStart {
  readonly offset: number;
  readonly epoch: string | undefined;
}

/**
 * What one channel's pub/sub messages pass through on this instance, once for all of its
 * subscriptions: offsets are checked here, one comparison per message, not per subscriber.
 *
 * Redis pub/sub misses nothing while its connection lasts, and loses what is published while it
 * is down and until the re-SUBSCRIBE after it is back; publishes queued during an outage often
 * run before that re-SUBSCRIBE, and are acknowledged. They are in the channel's history. So the
 * feed remembers the last message it delivered; a message that is not the next one, or a
 * reconnect (`hold`, then `recover`), makes it read the history from there and deliver what it
 * missed, in order, holding newer messages back meanwhile. What the history no longer has
 * (Redis restarted without persistence or from an older copy, another epoch, trimmed) it tells
 * the subscriptions of the time with `onLost` and the position it continues from: never a
 * silent gap.
 */
export class ChannelFeed {
  readonly subscriptions = new Set<FeedSubscription>();
  readonly #deps: ChannelFeedDeps;
  /** The last message delivered (or the position a repair or a loss moved to), once `#known`. */
  #offset = 0;
  #epoch: string | undefined = undefined;
  /** Its id, when it was a delivered message: a Redis restarted from an older copy reuses offsets. */
  #lastId: string | undefined = undefined;
  #known = false;
  /** The channel's position read once the first SUBSCRIBE was confirmed: everything after it is owed. */
  #start: FeedStart | undefined = undefined;
  /** Messages held back while the connection is down or a repair runs, in arrival order. */
  #held: ChannelMessage[] | undefined = undefined;
  /** The subscriber connection dropped and has not subscribed again yet. */
  #broken = false;
  /** The subscriptions when the gap opened: a loss is theirs, not that of those that came later. */
  #owed: Set<FeedSubscription> | undefined = undefined;
  #repairing = false;
  /** A reconnect while a repair read: read again, from where that read got. */
  #again = false;
  /** Counts repairs given up: the reads of one given up are ignored when they return. */
  #attempt = 0;

  constructor(deps: ChannelFeedDeps) {
    this.#deps = deps;
  }

  /** The pub/sub listener of the channel. */
  receive(message: ChannelMessage): void {
    const held = this.#held;
    if (held) {
      if (held.length < this.#deps.maxHeld) held.push(message);
      else this.#giveUp(message);
      return;
    }
    const offset = message.offset;
    if (offset === undefined) return this.fanOut(message);
    if (offset === this.#offset + 1 && message.epoch === this.#epoch) return this.#deliver(message);
    this.#unexpected(message, offset);
  }

  /** Hands `message` to every subscription, unchecked (and, with no history kept, the listener). */
  fanOut(message: ChannelMessage): void {
    for (const subscription of this.subscriptions) subscription.listener(message);
  }

  /** The channel's position, read after the first SUBSCRIBE was confirmed. */
  start(position: FeedStart): void {
    this.#start = position;
  }

  /** The subscriber connection dropped: hold every message until `recover`. */
  hold(): void {
    this.#broken = true;
    this.#held ??= [];
    this.#owed ??= new Set(this.subscriptions);
  }

  /** The connection is back and subscribed again: deliver what the history has since, then go on. */
  recover(): void {
    if (!this.#broken) return;
    this.#broken = false;
    this.#repair();
  }

  #deliver(message: ChannelMessage) {
    this.#moveTo(message.offset!, message.epoch!, message.id);
    this.fanOut(message);
  }

  #moveTo(offset: number, epoch: string, id: string | undefined) {
    this.#offset = offset;
    this.#epoch = epoch;
    this.#lastId = id;
    this.#known = true;
  }

  /** Not the next offset of the stream delivered so far (or the first message). */
  #unexpected(message: ChannelMessage, offset: number) {
    if (!this.#known) {
      // Everything after the start position arrives live: more than the next one missing is a gap.
      const start = this.#start;
      const from = start === undefined ? undefined : start.epoch === message.epoch ? start.offset : 0;
      if (from === undefined || offset <= from + 1) return this.#deliver(message);
      this.#moveTo(from, message.epoch!, undefined);
      return this.#repair(message);
    }
    if (message.epoch === this.#epoch) {
      if (offset <= this.#offset) return; // delivered already, by a repair that read it first
      return this.#repair(message);
    }
    // Another stream, and the connection held since the last message (else a repair would have
    // run first): the last stream ended with it (it expired); the new one is owed from its start.
    this.#moveTo(0, message.epoch!, undefined);
    if (offset === 1) return this.#deliver(message);
    this.#repair(message);
  }

  #repair(first?: ChannelMessage) {
    if (first) this.#held = [first];
    else this.#held ??= [];
    this.#owed ??= new Set(this.subscriptions);
    if (this.#repairing) {
      this.#again = true;
      return;
    }
    this.#repairing = true;
    void this.#run(this.#attempt);
  }

  async #run(attempt: number) {
    let failed = false;
    try {
      do {
        this.#again = false;
        await this.#catchUp(attempt);
      } while (this.#again && attempt === this.#attempt);
    } catch (error) {
      failed = true;
      if (attempt === this.#attempt && !this.#broken) this.#deps.onError(error);
    }
    if (attempt !== this.#attempt) return; // given up meanwhile
    this.#repairing = false;
    // Broken again: the read may predate the re-SUBSCRIBE; `recover` reads again.
    if (this.#broken) return;
    if (failed) return this.#giveUp();
    const held = this.#held ?? [];
    this.#held = undefined;
    this.#owed = undefined;
    this.#drain(held);
  }

  /**
   * One repair read: every message the history has after the feed's position, delivered; or,
   * when it cannot have them all, the loss told and delivery moved to what it does have.
   */
  async #catchUp(attempt: number) {
    const { read, historySize } = this.#deps;
    const from = this.#known ? { offset: this.#offset, epoch: this.#epoch, id: this.#lastId } : this.#start && { ...this.#start, id: undefined };
    if (!from) return; // nothing delivered and no start position: nothing to compare with
    let current: HistoryResult;
    if (from.epoch !== undefined) {
      // From the last message itself when its id is known, to see it is still that message.
      const verify = from.id !== undefined && from.offset > 0;
      const since = await read({ since: { offset: verify ? from.offset - 1 : from.offset, epoch: from.epoch }, limit: historySize + 1 });
      if (attempt !== this.#attempt) return;
      const first = since.messages[0];
      if (since.recoverable && (!verify || (first?.offset === from.offset && first.id === from.id))) {
        for (const message of since.messages) if (message.offset! > from.offset) this.#deliver(message);
        if (!this.#known || since.offset > this.#offset) this.#moveTo(since.offset, since.epoch, undefined);
        return;
      }
      current = since;
    } else {
      current = await read({ limit: 0 });
      if (attempt !== this.#attempt) return;
    }
    if (current.epoch === from.epoch) {
      // Trimmed past the position, or a Redis restarted from an older copy: what lay between is gone.
      return this.#lose({ offset: current.offset, epoch: current.epoch });
    }
    // Another stream than the one delivered from (Redis lost it, or it expired), or the first
    // one when there was none: its messages are all owed.
    const fresh = await read({ since: { offset: 0, epoch: current.epoch }, limit: historySize });
    if (attempt !== this.#attempt) return;
    if (!fresh.recoverable) return this.#lose({ offset: fresh.offset, epoch: fresh.epoch });
    if (from.epoch === undefined) this.#moveTo(0, fresh.epoch, undefined);
    else this.#lose({ offset: 0, epoch: fresh.epoch });
    for (const message of fresh.messages) this.#deliver(message);
    if (fresh.offset > this.#offset) this.#moveTo(fresh.offset, fresh.epoch, undefined);
  }

  #lose(position: StreamPosition) {
    this.#moveTo(position.offset, position.epoch, undefined);
    const owed = this.#owed;
    for (const subscription of this.subscriptions) if (!owed || owed.has(subscription)) subscription.onLost?.(position);
  }

  /**
   * Stops repairing (a read failed, or too much was held back): delivery goes on from the held
   * messages, after the loss is told if they do not follow on from what was delivered.
   */
  #giveUp(last?: ChannelMessage) {
    this.#attempt++;
    this.#repairing = false;
    this.#again = false;
    this.#broken = false;
    const held = this.#held ?? [];
    if (last) held.push(last);
    this.#held = undefined;
    const next = held.find((m) => m.offset !== undefined);
    if (next && !(this.#known && next.epoch === this.#epoch && next.offset === this.#offset + 1)) {
      this.#lose({ offset: next.offset! - 1, epoch: next.epoch! });
    }
    this.#owed = undefined;
    this.#drain(held);
  }

  /** Passes held messages on in order; a new gap among them holds the rest behind it. */
  #drain(held: readonly ChannelMessage[]) {
    for (let i = 0; i < held.length; i++) {
      this.receive(held[i]!);
      if (this.#held) {
        this.#held.push(...held.slice(i + 1));
        return;
      }
    }
  }
}
