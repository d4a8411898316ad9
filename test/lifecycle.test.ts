import { describe, expect, it } from "vitest";
import type { App } from "../src/config.ts";
import { createChannelLifecycle, type LifecycleEvent } from "../src/core/lifecycle.ts";
import type { Engine } from "../src/engine/types.ts";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An app that counts subscriptions (through its webhook, so no count message is published). */
const APP: App = {
  id: "app",
  key: "key",
  secret: "secret",
  name: "app",
  enabled: true,
  webhooks: [{ url: "http://127.0.0.1:1/hook", events: ["subscription_count"] }],
} as App;

/**
 * An engine whose count reads wait until the test lets them go, so a change can land while a
 * check is running; it stores the last reported values as the real ones do.
 */
function gatedEngine() {
  let count = 0;
  let gate: (() => void) | undefined;
  const values = new Map<string, string | null>();
  const engine = {
    channelCounts: () => {
      const read = count; // what Redis answered when asked
      return new Promise((resolve) => {
        gate = () => resolve({ subscriptionCount: read });
      });
    },
    webhooks: {
      exchangeValue: async (_app: string, name: string, value: string | null) => {
        const before = values.get(name) ?? null;
        values.set(name, value);
        return before;
      },
      setFlag: async () => false,
      clearFlag: async () => false,
    },
  } as unknown as Engine;
  return {
    engine,
    setCount: (n: number) => (count = n),
    release: () => {
      const open = gate;
      gate = undefined;
      open?.();
      return open !== undefined;
    },
  };
}

describe("subscription count checks", () => {
  it("a change while a check runs waits for it: after a report past the large channel, the next comes only after the large interval", async () => {
    const { engine, setCount, release } = gatedEngine();
    const reports: { count: number; at: number }[] = [];
    const lifecycle = createChannelLifecycle({
      engine,
      delayMs: 0,
      subscriptionCount: { intervalMs: 10, largeChannel: 1, largeIntervalMs: 300 },
      emit: (_app, event: LifecycleEvent) => {
        if (event.name === "subscription_count") reports.push({ count: event.subscription_count, at: performance.now() });
      },
      onError: (error) => {
        throw error;
      },
    });
    try {
      setCount(2);
      lifecycle.subscribed(APP, "stadium");
      await sleep(30); // the check is running, its count read held
      setCount(3);
      lifecycle.subscribed(APP, "stadium"); // a change meanwhile
      expect(release()).toBe(true);
      await sleep(30);
      expect(reports.map((r) => r.count)).toEqual([2]);
      // The change must not have scheduled a check at the short interval: nothing reads yet.
      expect(release()).toBe(false);
      await sleep(320);
      expect(release()).toBe(true);
      await sleep(20);
      expect(reports.map((r) => r.count)).toEqual([2, 3]);
      expect(reports[1]!.at - reports[0]!.at).toBeGreaterThanOrEqual(290);
    } finally {
      lifecycle.close();
    }
  });
});
