/**
 * Pusher Channels webhooks: the lifecycle events the core computes (channel occupied/vacated,
 * member added/removed), batched per app for `batchMs`, then one POST per configured webhook
 * whose `events` include them, shaped and signed as Pusher sends them:
 * body `{"time_ms", "events": [{"name", "channel", "user_id"?}, …]}`, headers `X-Pusher-Key` and
 * `X-Pusher-Signature` (hex HMAC-SHA256 of the body with the app secret), so the official SDKs'
 * `pusher.webhook(request).isValid()` accepts them. Delivery is durable and retried
 * (src/webhooks/). See https://pusher.com/docs/channels/server_api/webhooks/
 */
import { createHash, createHmac } from "node:crypto";
import type { App } from "../../config.ts";
import type { LifecycleEvent } from "../../core/lifecycle.ts";
import type { WebhookDelivery } from "../../webhooks/delivery.ts";

export interface PusherWebhooks {
  /** Queues an event for the app's next batch. */
  emit(app: App, event: LifecycleEvent): void;
  /** Sends what is batched and stops. */
  close(): Promise<void>;
}

export function usePusherWebhooks({ delivery, batchMs, onError }: { delivery: WebhookDelivery; batchMs: number; onError: (error: unknown) => void }): PusherWebhooks {
  const batches = new Map<string, { app: App; events: LifecycleEvent[]; timer: NodeJS.Timeout }>();
  const sending = new Set<Promise<void>>();

  async function send(app: App, events: readonly LifecycleEvent[]) {
    const at = Date.now();
    await Promise.all(
      (app.webhooks ?? []).map((webhook, index) => {
        const wanted = events.filter((e) => webhook.events.includes(e.name));
        if (wanted.length === 0) return undefined;
        const body = JSON.stringify({ time_ms: at, events: wanted });
        const headers = {
          "Content-Type": "application/json",
          "X-Pusher-Key": app.key,
          "X-Pusher-Signature": createHmac("sha256", app.secret).update(body).digest("hex"),
        };
        // One target per configured webhook: its POSTs go out in order.
        const target = `pusher:${index}:${createHash("sha256").update(webhook.url).digest("hex").slice(0, 16)}`;
        return delivery.enqueue(app.id, target, [{ url: webhook.url, headers, body }]);
      }),
    );
  }

  function flush(appId: string) {
    const batch = batches.get(appId);
    if (!batch) return;
    batches.delete(appId);
    clearTimeout(batch.timer);
    const running: Promise<void> = send(batch.app, batch.events)
      .catch(onError)
      .finally(() => sending.delete(running));
    sending.add(running);
  }

  return {
    emit(app, event) {
      const batch = batches.get(app.id);
      if (batch) batch.events.push(event);
      else batches.set(app.id, { app, events: [event], timer: setTimeout(() => flush(app.id), batchMs) });
    },
    async close() {
      for (const appId of [...batches.keys()]) flush(appId);
      await Promise.all(sending);
    },
  };
}
