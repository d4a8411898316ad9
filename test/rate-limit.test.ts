import { describe, expect, it } from "vitest";
import { RateLimiter } from "../src/core/rate-limit.ts";
import { ErrorCode, HeraldError } from "../src/errors.ts";

const limit = { perSecond: 2, setting: "HERALD_TEST_RATE", what: "tests" };

describe("RateLimiter", () => {
  it("refills at the rate, and refuses with when to retry", () => {
    let now = 0;
    const limiter = new RateLimiter(limit, () => now);
    limiter.take("a");
    limiter.take("a");
    const refusal = (() => {
      try {
        limiter.take("a");
      } catch (error) {
        return error as HeraldError;
      }
    })();
    expect(refusal).toMatchObject({ code: ErrorCode.RateLimited, details: { limit: 2, setting: "HERALD_TEST_RATE", retryAfterSeconds: 1 } });
    now = 500; // half a second: one token back
    limiter.take("a");
    expect(() => limiter.take("a")).toThrow(HeraldError);
  });

  it("lets a cost larger than the bucket through once the bucket is full, and never twice at once", () => {
    let now = 0;
    const limiter = new RateLimiter(limit, () => now);
    limiter.take("batch", 10);
    expect(() => limiter.take("batch", 10)).toThrow(HeraldError);
    now = 1_000;
    limiter.take("batch", 10);
  });

  it("keeps a bounded number of keys: the least recently used is forgotten (full again)", () => {
    const limiter = new RateLimiter(limit, () => 0, 2);
    limiter.take("a", 2);
    limiter.take("b", 2);
    expect(() => limiter.take("a")).toThrow(HeraldError); // a is now the most recent
    limiter.take("c", 2); // evicts b
    expect(() => limiter.take("a")).toThrow(HeraldError);
    limiter.take("b", 2); // forgotten, so full again; evicts c
    expect(() => limiter.take("a")).toThrow(HeraldError);
    limiter.take("c", 2); // forgotten too
  });
});
