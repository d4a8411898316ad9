import type { ChannelMessage } from "../../src/engine/types.ts";

let counter = 0;

/** A fresh message for engine-level tests; `data.n` lets a test check order. */
export function message(channel: string, n: number, extra: Partial<ChannelMessage> = {}): ChannelMessage {
  return { id: `m${++counter}`, channel, event: "e", data: { n }, headers: {}, publishedAt: new Date().toISOString(), ...extra };
}

/** Collects what an engine listener receives; `until(n)` waits for n messages. */
export function collector() {
  const received: ChannelMessage[] = [];
  const waiters: (() => void)[] = [];
  return {
    received,
    listener: (m: ChannelMessage) => {
      received.push(m);
      waiters.forEach((w) => w());
    },
    until(count: number, ms = 5_000) {
      return new Promise<ChannelMessage[]>((resolve, reject) => {
        if (received.length >= count) return resolve(received);
        const timer = setTimeout(() => reject(new Error(`got ${received.length}/${count}`)), ms);
        waiters.push(() => {
          if (received.length >= count) {
            clearTimeout(timer);
            resolve(received);
          }
        });
      });
    },
  };
}
