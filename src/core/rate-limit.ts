import { ErrorCode, HeraldError } from "../errors.ts";

/** A rate and the setting that configures it, for the refusal to name. */
export interface RateLimit {
  /** Tokens added per second; also the bucket's size (one second's worth may come at once). */
  readonly perSecond: number;
  /** The HERALD_* setting, named in the refusal. */
  readonly setting: string;
  /** What is counted, for the refusal's message ("publishes per app"). */
  readonly what: string;
}

/** Keys a limiter tracks at most: least recently used ones are forgotten (a full bucket again). */
const MAX_KEYS = 10_000;

/**
 * Token buckets by key (an app id, a client address), kept in this process: a limit per
 * instance, as Herald's other per-instance limits are. Refill is computed on use, so an idle
 * key costs nothing, and the number of keys is bounded so that many addresses cannot grow it.
 */
export class RateLimiter {
  /** Tokens and when they were counted, least recently used first. */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = MAX_KEYS,
  ) {}

  /** Takes `cost` tokens from `key`'s bucket, or throws RATE_LIMITED (nothing taken). */
  take(key: string, cost = 1): void {
    const { perSecond } = this.limit;
    const now = this.now();
    const bucket = this.#buckets.get(key);
    let tokens = perSecond;
    if (bucket) {
      this.#buckets.delete(key);
      tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    } else if (this.#buckets.size >= this.maxKeys) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    // More than a full bucket at once (a batch larger than the rate) waits for a full bucket.
    const needed = Math.min(cost, perSecond);
    if (tokens < needed) {
      this.#buckets.set(key, { tokens, at: now });
      throw new HeraldError(ErrorCode.RateLimited, `Rate limit exceeded: ${perSecond} ${this.limit.what} per second (${this.limit.setting})`, {
        limit: perSecond,
        setting: this.limit.setting,
        retryAfterSeconds: Math.max(1, Math.ceil((needed - tokens) / perSecond)),
      });
    }
    this.#buckets.set(key, { tokens: tokens - needed, at: now });
  }
}

/** A limiter for `limit`, or none when its rate is 0 (off). */
export function rateLimiter(limit: RateLimit): RateLimiter | undefined {
  return limit.perSecond > 0 ? new RateLimiter(limit) : undefined;
}
