import { randomUUID } from "node:crypto";
import type { ClaimedDelivery, Delivery, DeliveryResult, WatchRecord, WebhookStore } from "./webhook-types.ts";

interface Target {
  seq: number;
  queue: Delivery[];
  /** When the head may be claimed: its retry time, or the end of the current lease. */
  dueAt: number;
  lease?: string | undefined;
  lastStatus?: number | undefined;
  lastError?: string | undefined;
  /** Newest first. */
  finished: DeliveryResult[];
}

/**
 * The embedded webhook store: one process's memory. Every method runs to completion without
 * awaiting, so each is atomic with respect to the others. Not durable across restarts.
 */
export function createMemoryWebhooks(): WebhookStore & { clear(): void } {
  /** `${appId}\0${target}` → target. */
  const targets = new Map<string, Target>();
  /** appId → id → watch. */
  const watches = new Map<string, Map<string, WatchRecord>>();
  const keyOf = (appId: string, target: string) => `${appId}\0${target}`;
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const watchesIn = (appId: string) => {
    let map = watches.get(appId);
    if (!map) watches.set(appId, (map = new Map()));
    return map;
  };

  return {
    async enqueue(appId, target, deliveries, { now }) {
      const key = keyOf(appId, target);
      let entry = targets.get(key);
      if (!entry) targets.set(key, (entry = { seq: 0, queue: [], dueAt: now, finished: [] }));
      if (entry.queue.length === 0 && entry.lease === undefined) entry.dueAt = now;
      return deliveries.map((d) => {
        const number = ++entry.seq;
        entry.queue.push({ ...d, number, attempts: 0 });
        return number;
      });
    },

    async claimDue(appId, now, limit, leaseMs) {
      const claimed: ClaimedDelivery[] = [];
      const prefix = `${appId}\0`;
      const due = [...targets].filter(([key, t]) => key.startsWith(prefix) && t.queue.length > 0 && t.dueAt <= now);
      due.sort((a, b) => a[1].dueAt - b[1].dueAt);
      for (const [key, entry] of due.slice(0, limit)) {
        entry.lease = randomUUID();
        entry.dueAt = now + leaseMs;
        claimed.push({ appId, target: key.slice(prefix.length), lease: entry.lease, delivery: entry.queue[0]! });
      }
      return claimed;
    },

    async complete(claim, outcome, { now, keepResults }) {
      const entry = targets.get(keyOf(claim.appId, claim.target));
      if (!entry || entry.lease !== claim.lease) return;
      entry.lease = undefined;
      const head = entry.queue[0]!;
      const attempts = head.attempts + 1;
      if (outcome.kind === "retry") {
        entry.queue[0] = { ...head, attempts };
        entry.lastStatus = outcome.status;
        entry.lastError = outcome.error;
        entry.dueAt = outcome.retryAt;
        return;
      }
      entry.queue.shift();
      entry.finished.unshift({
        number: head.number,
        state: outcome.kind === "delivered" ? "DELIVERED" : "FAILED",
        status: outcome.status,
        attempts,
        lastError: outcome.kind === "failed" ? outcome.error : undefined,
      });
      entry.finished.length = Math.min(entry.finished.length, keepResults);
      entry.lastStatus = entry.lastError = undefined;
      entry.dueAt = now;
    },

    async deliveries(appId, target, limit) {
      const entry = targets.get(keyOf(appId, target));
      if (!entry) return { pending: [], finished: [] };
      const pending = entry.queue.slice(0, limit).map((d, i): DeliveryResult => {
        const head = i === 0 && d.attempts > 0;
        return {
          number: d.number,
          state: head ? "RETRYING" : "PENDING",
          attempts: d.attempts,
          status: head ? entry.lastStatus : undefined,
          lastError: head ? entry.lastError : undefined,
        };
      });
      return { pending, finished: entry.finished.slice(0, limit) };
    },

    async drop(appId, target) {
      targets.delete(keyOf(appId, target));
    },

    async addWatch(appId, watch, max, now) {
      const map = watchesIn(appId);
      const existing = map.get(watch.id);
      if (existing && existing.expiration > now) return "exists";
      let live = 0;
      for (const w of map.values()) if (w.expiration > now) live++;
      if (live >= max) return "limit";
      // Expired but not yet taken by the sweep: its target is the sweep's to drop.
      if (existing) return "exists";
      map.set(watch.id, watch);
      return "added";
    },

    async getWatch(appId, id, now) {
      const watch = watches.get(appId)?.get(id);
      return watch && watch.expiration > now ? watch : undefined;
    },

    async watchesOf(appId, channel, now) {
      const map = watches.get(appId);
      if (!map) return [];
      return [...map.values()].filter((w) => w.channel === channel && w.expiration > now);
    },

    async watchedChannels(appId, now) {
      return [...new Set([...(watches.get(appId)?.values() ?? [])].filter((w) => w.expiration > now).map((w) => w.channel))];
    },

    async removeWatch(appId, id) {
      return watches.get(appId)?.delete(id) ?? false;
    },

    async takeExpiredWatches(appId, now, limit) {
      const map = watches.get(appId);
      if (!map) return [];
      const expired = [...map.values()].filter((w) => w.expiration <= now).slice(0, limit);
      for (const w of expired) map.delete(w.id);
      return expired;
    },

    async setFlag(appId, name) {
      const key = keyOf(appId, name);
      if (flags.has(key)) return false;
      flags.add(key);
      return true;
    },

    async clearFlag(appId, name) {
      return flags.delete(keyOf(appId, name));
    },

    async exchangeValue(appId, name, value) {
      const key = keyOf(appId, name);
      const previous = values.get(key) ?? null;
      if (value === null) values.delete(key);
      else values.set(key, value);
      return previous;
    },

    clear() {
      flags.clear();
      values.clear();
      targets.clear();
      watches.clear();
    },
  };
}
