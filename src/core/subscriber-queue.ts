import { ErrorCode, HeraldError } from "../errors.ts";

/**
 * A bounded push queue exposed as an async iterator: what a GraphQL subscription iterates.
 *
 * - `push` never blocks; past `limit` queued items the queue fails with `SLOW_CONSUMER`
 *   (the consumer sees that error once, then the end), so memory never grows without bound.
 * - `return()` (a client completing, a socket closing) and every end call `onClose` exactly
 *   once, which is where the engine subscription is released.
 * A failure is delivered as a value (`HeraldError`) rather than a rejection so the GraphQL layer
 * can turn it into an ordinary error payload before the stream completes.
 */
export interface SubscriberQueue<T> extends AsyncIterableIterator<T | HeraldError> {
  push(item: T): void;
  /** Delivers `error` after what is already queued, then ends. */
  fail(error: HeraldError): void;
  /** Ends after what is already queued. */
  end(): void;
  /** True once the queue takes no more items. */
  readonly closed: boolean;
  /**
   * Push mode, for a consumer that can take items synchronously (the WebSocket fast path):
   * what is queued is handed over now, every later item as it is pushed, and `sink.end()`
   * once the queue ends. The async iterator is not used after this.
   */
  attach(sink: QueueSink<T>): void;
  return(): Promise<IteratorResult<T | HeraldError>>;
  throw(error?: unknown): Promise<IteratorResult<T | HeraldError>>;
}

export interface QueueSink<T> {
  next(item: T | HeraldError): void;
  end(): void;
}

/** A queue that calls `onClose` when it ends; the core's subscriptions extend `BoundedQueue`. */
export function createSubscriberQueue<T>(options: { limit: number; onClose: () => void }): SubscriberQueue<T> {
  return new CallbackQueue<T>(options.limit, options.onClose);
}

/**
 * The queue itself, as a class rather than an object of closures: a subscription is held for
 * as long as its client stays, so its size is the per-subscription memory (prototype methods
 * are shared; closures and their contexts would be per queue). Subclasses put what the queue
 * feeds on in the same object and release it in `onClose`.
 */
export class BoundedQueue<T> implements SubscriberQueue<T> {
  readonly #limit: number;
  #items: (T | HeraldError)[] = [];
  #waiting: ((result: IteratorResult<T | HeraldError>) => void) | undefined = undefined;
  #sink: QueueSink<T> | undefined = undefined;
  #sinkEnded = false;
  #ending = false;
  #closed = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Runs exactly once, when the queue stops taking items: release the engine subscription here. */
  protected onClose(): void {}

  get closed() {
    return this.#closed || this.#ending;
  }

  push(item: T) {
    if (this.#ending || this.#closed) return;
    if (this.#sink) {
      this.#sink.next(item);
      return;
    }
    if (this.#items.length >= this.#limit) {
      this.fail(
        new HeraldError(ErrorCode.SlowConsumer, `Subscriber fell more than ${this.#limit} messages behind and was dropped`, {
          limit: this.#limit,
        }),
      );
      return;
    }
    this.#items.push(item);
    this.#settle();
  }

  fail(error: HeraldError) {
    if (this.#ending || this.#closed) return;
    this.#items.push(error);
    this.#ending = true;
    // Release the engine subscription now: nothing more will be queued.
    this.#close();
    this.#settle();
  }

  end() {
    if (this.#ending || this.#closed) return;
    this.#ending = true;
    this.#settle();
  }

  next(): Promise<IteratorResult<T | HeraldError>> {
    if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift()!, done: false });
    if (this.#ending || this.#closed) {
      this.#close();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<T | HeraldError>> {
    this.#items.length = 0;
    this.#ending = true;
    this.#close();
    this.#settle();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T | HeraldError>> {
    void this.return();
    return Promise.reject(error);
  }

  attach(sink: QueueSink<T>) {
    this.#sink = sink;
    this.#settle();
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  #close() {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
  }

  #settle() {
    const items = this.#items;
    if (this.#sink) {
      const target = this.#sink;
      while (items.length > 0) target.next(items.shift()!);
      // Nothing is queued in push mode again: drop the spare capacity shift() leaves behind.
      items.length = 0;
      if (this.#ending && !this.#sinkEnded) {
        this.#sinkEnded = true;
        this.#close();
        target.end();
      }
      return;
    }
    if (!this.#waiting) return;
    const resolve = this.#waiting;
    if (items.length > 0) {
      this.#waiting = undefined;
      resolve({ value: items.shift()!, done: false });
    } else if (this.#ending) {
      this.#waiting = undefined;
      this.#close();
      resolve({ value: undefined, done: true });
    }
  }
}

class CallbackQueue<T> extends BoundedQueue<T> {
  readonly #onClose: () => void;

  constructor(limit: number, onClose: () => void) {
    super(limit);
    this.#onClose = onClose;
  }

  protected override onClose() {
    this.#onClose();
  }
}
