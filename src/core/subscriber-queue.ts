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

export function createSubscriberQueue<T>(options: { limit: number; onClose: () => void }): SubscriberQueue<T> {
  const { limit, onClose } = options;
  const items: (T | HeraldError)[] = [];
  let waiting: ((result: IteratorResult<T | HeraldError>) => void) | undefined;
  let sink: QueueSink<T> | undefined;
  let sinkEnded = false;
  let ending = false;
  let closed = false;

  const close = () => {
    if (closed) return;
    closed = true;
    onClose();
  };
  const settle = () => {
    if (sink) {
      const target = sink;
      while (items.length > 0) target.next(items.shift()!);
      if (ending && !sinkEnded) {
        sinkEnded = true;
        close();
        target.end();
      }
      return;
    }
    if (!waiting) return;
    const resolve = waiting;
    if (items.length > 0) {
      waiting = undefined;
      resolve({ value: items.shift()!, done: false });
    } else if (ending) {
      waiting = undefined;
      close();
      resolve({ value: undefined, done: true });
    }
  };

  const queue: SubscriberQueue<T> = {
    get closed() {
      return closed || ending;
    },
    push(item) {
      if (ending || closed) return;
      if (sink) {
        sink.next(item);
        return;
      }
      if (items.length >= limit) {
        queue.fail(
          new HeraldError(ErrorCode.SlowConsumer, `Subscriber fell more than ${limit} messages behind and was dropped`, {
            limit,
          }),
        );
        return;
      }
      items.push(item);
      settle();
    },
    fail(error) {
      if (ending || closed) return;
      items.push(error);
      ending = true;
      // Release the engine subscription now: nothing more will be queued.
      close();
      settle();
    },
    end() {
      if (ending || closed) return;
      ending = true;
      settle();
    },
    next() {
      if (items.length > 0) return Promise.resolve({ value: items.shift()!, done: false });
      if (ending || closed) {
        close();
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    return() {
      items.length = 0;
      ending = true;
      close();
      settle();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error?: unknown) {
      queue.return();
      return Promise.reject(error);
    },
    attach(target) {
      sink = target;
      settle();
    },
    [Symbol.asyncIterator]() {
      return queue;
    },
  };
  return queue;
}
