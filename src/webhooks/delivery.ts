import type { App, WebhookConfig } from "../config.ts";
import type { AttemptOutcome, ClaimedDelivery, WebhookStore } from "../engine/webhook-types.ts";
import { createAddressGuard, type AddressGuard } from "./address-guard.ts";
import { createSender, type Sender } from "./send.ts";

/**
 * Durable outbound delivery. A notification is stored in the engine (`enqueue`) before it is
 * attempted; every instance runs the loop below, which claims due targets atomically from the
 * store, POSTs each target's oldest notification and records the outcome, so:
 * - order per target: notification n+1 is not sent before n was delivered or given up;
 * - at least once: an instance that dies mid-attempt loses its lease, and another instance
 *   sends the same notification again when the lease ends (a receiver may see it twice);
 * - retries: 5xx, 429, timeouts and connection errors are tried again after an exponential
 *   backoff with jitter (`retryBaseMs` · 2ⁿ, at most `retryMaxMs`, times 0.5–1) until the retry
 *   window is over; any other answer that is no 2xx gives up at once.
 */
export interface WebhookDelivery {
  readonly guard: AddressGuard;
  /**
   * Stores notifications for `target`, numbered 1, 2, … in order, and wakes the loop. They are
   * given up when `notAfter` (ms) passes, or the retry window after now, whichever is first.
   */
  enqueue(
    appId: string,
    target: string,
    notifications: readonly { url: string; headers: Record<string, string>; body: string }[],
    options?: { notAfter?: number | undefined; dropAt?: number | undefined },
  ): Promise<number[]>;
  /** Outcomes on this instance since it started, for `/metrics`. */
  readonly counts: { delivered: number; retried: number; failed: number };
  start(): void;
  /**
   * Stops claiming; resolves once the attempts in flight ended (each is bounded by the timeout).
   * A claim still on its way is not waited for (with the engine down it may take long).
   */
  close(): Promise<void>;
}

export interface WebhookDeliveryDeps {
  store: WebhookStore;
  apps: readonly App[];
  config: WebhookConfig;
  now?: () => number;
  /** Failures of the loop itself (e.g. the engine is unreachable); it keeps polling. */
  onError: (error: unknown) => void;
  /** Every recorded outcome (tests and the watch module listen). */
  onOutcome?: (claim: ClaimedDelivery, outcome: AttemptOutcome) => void;
}

export function createWebhookDelivery({ store, apps, config, now = Date.now, onError, onOutcome }: WebhookDeliveryDeps): WebhookDelivery {
  const guard = createAddressGuard({ allowPrivate: config.allowPrivate });
  const sender: Sender = createSender({
    guard,
    timeoutMs: config.timeoutMs,
    maxResponseBytes: config.maxResponseBytes,
    maxConcurrencyPerAddress: config.maxConcurrencyPerAddress,
  });
  // Covers the attempt (bounded by the timeout) and recording it; past it another instance may claim.
  const leaseMs = config.timeoutMs * 2 + 5_000;
  const counts = { delivered: 0, retried: 0, failed: 0 };
  const inFlight = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let looking: Promise<void> | undefined;
  let lookAgain = false;
  let stopped = false;
  let failing = false;

  function backoff(attempts: number): number {
    const delay = Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** attempts);
    return Math.round(delay * (0.5 + Math.random() * 0.5));
  }

  async function attempt(claim: ClaimedDelivery): Promise<void> {
    const { delivery } = claim;
    let outcome: AttemptOutcome;
    // The first attempt is always made; a retry only within the window.
    if (delivery.attempts > 0 && now() > delivery.retryUntil) {
      outcome = { kind: "failed", error: "retry window over" };
    } else {
      const result = await sender.send(delivery.url, { ...delivery.headers, ...numberHeaders(delivery.headers, delivery.number) }, delivery.body);
      if (result.ok) outcome = { kind: "delivered", status: result.status };
      else {
        const retryAt = now() + backoff(delivery.attempts);
        outcome =
          result.retry && retryAt <= delivery.retryUntil
            ? { kind: "retry", status: result.status, error: result.error, retryAt }
            : { kind: "failed", status: result.status, error: result.retry ? `${result.error} (retry window over)` : result.error };
      }
    }
    counts[outcome.kind === "retry" ? "retried" : outcome.kind]++;
    await store.complete(claim, outcome, { now: now(), keepResults: config.keepResults });
    onOutcome?.(claim, outcome);
  }

  async function look(): Promise<void> {
    let ok = true;
    for (const app of apps) {
      if (!app.enabled || stopped) continue;
      try {
        const free = config.maxInFlight - inFlight.size;
        if (free <= 0) break;
        const claimed = await store.claimDue(app.id, now(), free, leaseMs);
        // Closed meanwhile: leave them leased; another instance (or this one restarted) sends them when the lease ends.
        if (stopped) return;
        for (const claim of claimed) {
          const running: Promise<void> = attempt(claim)
            .catch(onError)
            .finally(() => {
              inFlight.delete(running);
              wake(); // the target's next notification is due now
            });
          inFlight.add(running);
        }
      } catch (error) {
        ok = false;
        if (!failing) onError(error); // the first failure of a streak only
      }
    }
    failing = !ok;
  }

  /** Looks now, or right after the look in progress (never two at once). */
  function wake() {
    if (stopped) return;
    if (looking) {
      lookAgain = true;
      return;
    }
    looking = look().finally(() => {
      looking = undefined;
      if (lookAgain) {
        lookAgain = false;
        wake();
      }
    });
  }

  function poll() {
    if (stopped) return;
    timer = setTimeout(() => {
      wake();
      poll();
    }, config.pollMs);
    timer.unref();
  }

  return {
    guard,
    counts,
    async enqueue(appId, target, notifications, options = {}) {
      const at = now();
      const windowEnd = at + config.retryWindowSeconds * 1000;
      const retryUntil = options.notAfter === undefined ? windowEnd : Math.min(windowEnd, options.notAfter);
      const numbers = await store.enqueue(
        appId,
        target,
        notifications.map((n) => ({ ...n, retryUntil })),
        { now: at, dropAt: options.dropAt },
      );
      wake();
      return numbers;
    },
    start() {
      if (timer === undefined && !stopped) {
        poll();
        wake();
      }
    },
    async close() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(inFlight);
      sender.close();
    },
  };
}

/** Vendors that number their notifications say so with a header whose value is the placeholder. */
export const NUMBER_PLACEHOLDER = "{{number}}";

function numberHeaders(headers: Readonly<Record<string, string>>, number: number): Record<string, string> {
  const numbered: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value === NUMBER_PLACEHOLDER) numbered[name] = String(number);
  return numbered;
}
