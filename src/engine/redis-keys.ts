/**
 * Every Redis key and pub/sub channel of the Redis engine, in one place. Hash tags keep one
 * channel's keys (`{app:channel}`) or one app's (`{app}`) in one Redis Cluster slot.
 *
 * - `herald:{app:channel}`               pub/sub channel of that Herald channel (not a key)
 * - `herald:{app:channel}:subs`          hash instanceId → live subscriptions on that instance
 * - `herald:{app:channel}:history`       stream of the last messages, entry id `<offset>-0` (redis-history.ts)
 * - `herald:{app:channel}:meta`          hash `epoch`, `offset` (last assigned) of that stream
 * - `herald:{app:channel}:presence`      hash `<instanceId>|<socketId>` → member JSON (redis-presence.ts)
 * - `herald:{app:channel}:queues`        set of the channel's pull queue keys (pruned lazily; redis-queues.ts)
 * - `herald:{app:channel}:queue:<key>`   hash `channel`, `createdAt`, `seq`, `dropped` of one pull queue, idle TTL
 * - `herald:{app:channel}:queue:<key>:m` sorted set of that queue's messages, idle TTL
 * - `herald:{app}:queues`                hash queue key → channel, the app's queues (pruned lazily)
 * - `herald:{app}:dedup:<id>`            claimed message id, with the idempotency window as TTL
 * - `herald:{app}:channels`              set of channel names that may be occupied (pruned lazily)
 * - `herald:{app}:status:<id>`           JSON message status record, with a TTL
 * - `herald:{app}:schedules`             sorted set id → next due time (redis-schedules.ts)
 * - `herald:{app}:schedule:<id>`         hash: a schedule's message, cadence, status, counters
 * - `herald:{app}:wh:*`, `herald:{app}:watch*` webhook deliveries and watch channels (redis-webhooks.ts)
 * - `herald:instances`                   sorted set instanceId → last heartbeat (ms)
 * - `herald:instance:<id>:presence`      set of `<app>\0<channel>` the instance has members in
 */
export function redisKeys(prefix: string) {
  const channel = (appId: string, name: string) => `${prefix}{${appId}:${name}}`;
  const app = (appId: string) => `${prefix}{${appId}}`;
  return {
    /** The channel's pub/sub channel, and the stem of its history keys (`:meta`, `:history`). */
    channel,
    subs: (appId: string, name: string) => `${channel(appId, name)}:subs`,
    presence: (appId: string, name: string) => `${channel(appId, name)}:presence`,
    queues: (appId: string, name: string) => `${channel(appId, name)}:queues`,
    /** A queue's hash; its messages are at `<this>:m`. */
    queue: (appId: string, name: string, key: string) => `${channel(appId, name)}:queue:${key}`,
    queueIndex: (appId: string) => `${app(appId)}:queues`,
    claim: (appId: string, id: string) => `${app(appId)}:dedup:${id}`,
    channels: (appId: string) => `${app(appId)}:channels`,
    status: (appId: string, id: string) => `${app(appId)}:status:${id}`,
    schedules: (appId: string) => `${app(appId)}:schedules`,
    schedule: (appId: string, id: string) => `${app(appId)}:schedule:${id}`,
    instances: `${prefix}instances`,
    instancePresence: (instanceId: string) => `${prefix}instance:${instanceId}:presence`,
  };
}
