import { describe, expect, it } from "vitest";
import { createSubscriberQueue } from "../src/core/subscriber-queue.ts";
import { HeraldError } from "../src/errors.ts";

describe("subscriber queue", () => {
  it("yields pushed items in order, including to a consumer already waiting", async () => {
    const queue = createSubscriberQueue<number>({ limit: 10, onClose: () => {} });
    const waiting = queue.next();
    queue.push(1);
    queue.push(2);
    expect(await waiting).toEqual({ value: 1, done: false });
    expect(await queue.next()).toEqual({ value: 2, done: false });
  });

  it("drops a slow consumer past the limit: one SLOW_CONSUMER error after what was queued, then the end", async () => {
    let closes = 0;
    const queue = createSubscriberQueue<number>({ limit: 3, onClose: () => closes++ });
    for (let i = 0; i < 10; i++) queue.push(i);
    expect(closes).toBe(1); // the engine subscription is released at once
    const values = [];
    for await (const value of queue) values.push(value);
    expect(values.slice(0, 3)).toEqual([0, 1, 2]);
    expect(values[3]).toBeInstanceOf(HeraldError);
    expect((values[3] as HeraldError).code).toBe("SLOW_CONSUMER");
    expect(values).toHaveLength(4);
    expect(closes).toBe(1);
  });

  it("return() ends a pending next() and calls onClose exactly once", async () => {
    let closes = 0;
    const queue = createSubscriberQueue<number>({ limit: 3, onClose: () => closes++ });
    const pending = queue.next();
    await queue.return();
    await queue.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    queue.push(1);
    expect(await queue.next()).toEqual({ value: undefined, done: true });
    expect(closes).toBe(1);
  });

  it("end() lets the consumer drain what is queued, then completes", async () => {
    let closes = 0;
    const queue = createSubscriberQueue<string>({ limit: 3, onClose: () => closes++ });
    queue.push("a");
    queue.end();
    queue.push("ignored");
    const values = [];
    for await (const value of queue) values.push(value);
    expect(values).toEqual(["a"]);
    expect(closes).toBe(1);
  });
});

describe("subscriber queue in push mode", () => {
  it("hands over what was queued, then every push synchronously, then the end", () => {
    let closes = 0;
    const queue = createSubscriberQueue<number>({ limit: 2, onClose: () => closes++ });
    queue.push(1);
    const got: unknown[] = [];
    let ended = 0;
    queue.attach({ next: (item) => got.push(item), end: () => ended++ });
    expect(got).toEqual([1]);
    for (let i = 2; i <= 5; i++) queue.push(i); // no queue limit: the sink sends at once
    expect(got).toEqual([1, 2, 3, 4, 5]);
    queue.end();
    expect(ended).toBe(1);
    expect(closes).toBe(1);
    queue.push(6);
    expect(got).toHaveLength(5);
  });

  it("delivers a failure then ends, exactly once", () => {
    let closes = 0;
    const queue = createSubscriberQueue<number>({ limit: 2, onClose: () => closes++ });
    const got: unknown[] = [];
    let ended = 0;
    queue.attach({ next: (item) => got.push(item), end: () => ended++ });
    queue.fail(new HeraldError("SLOW_CONSUMER" as never, "behind"));
    queue.return();
    expect(got).toHaveLength(1);
    expect(got[0]).toBeInstanceOf(HeraldError);
    expect([ended, closes]).toEqual([1, 1]);
  });
});
