import calculateSlot from "cluster-key-slot";

/**
 * Every Redis key and pub/sub channel of the Redis engine, in one place. Hash tags keep one
 * channel's keys (`{app:channel}`) or one app's (`{app}`) in one Redis Cluster slot, so that no
 * script or multi-key command spans two slots. What every publish writes besides its channel
 * (message statuses, id claims) is tagged by message id, and the channel index is split in
 * CHANNEL_INDEX_SHARDS sets, so that no one slot takes every app-wide write.
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
 * - `herald:dedup:{app:<id>}`            claimed message id, with the idempotency window as TTL
 * - `herald:{app#<n>}:channels`          set of the names of channels that may be occupied (pruned
 *                                        lazily), one of CHANNEL_INDEX_SHARDS by the name's hash
 * - `herald:status:{app:<id>}`           JSON message status record, with a TTL
 * - `herald:{app}:schedules`             sorted set id → next due time (redis-schedules.ts)
 * - `herald:{app}:schedule:<id>`         hash: a schedule's message, cadence, status, counters
 * - `herald:{app}:wh:*`, `herald:{app}:watch*` webhook deliveries and watch channels (redis-webhooks.ts)
 * - `herald:instances`                   sorted set instanceId → last heartbeat (ms)
 * - `herald:instance:<id>:presence`      set of `<app>\0<channel>` the instance has members in
 * - `herald:instance:<id>:subs`          set of the `subs` hashes the instance has a field in
 */
export function redisKeys(prefix: string) {
  const channel = (appId: string, name: string) => `${prefix}{${appId}:${name}}`;
  const app = (appId: string) => `${prefix}{${appId}}`;
  const channelIndexShard = (appId: string, n: number) => `${prefix}{${appId}#${n}}:channels`;
  return {
    /** The channel's pub/sub channel, and the stem of its history keys (`:meta`, `:history`). */
    channel,
    subs: (appId: string, name: string) => `${channel(appId, name)}:subs`,
    presence: (appId: string, name: string) => `${channel(appId, name)}:presence`,
    queues: (appId: string, name: string) => `${channel(appId, name)}:queues`,
    /** A queue's hash; its messages are at `<this>:m`. */
    queue: (appId: string, name: string, key: string) => `${channel(appId, name)}:queue:${key}`,
    queueIndex: (appId: string) => `${app(appId)}:queues`,
    claim: (appId: string, id: string) => `${prefix}dedup:{${appId}:${id}}`,
    /** The index set the channel's name is listed in. */
    channelIndex: (appId: string, name: string) => channelIndexShard(appId, calculateSlot(name) % CHANNEL_INDEX_SHARDS),
    /** Every index set of the app's channels. */
    channelIndexes: (appId: string) => Array.from({ length: CHANNEL_INDEX_SHARDS }, (_, n) => channelIndexShard(appId, n)),
    status: (appId: string, id: string) => `${prefix}status:{${appId}:${id}}`,
    schedules: (appId: string) => `${app(appId)}:schedules`,
    schedule: (appId: string, id: string) => `${app(appId)}:schedule:${id}`,
    instances: `${prefix}instances`,
    instancePresence: (instanceId: string) => `${prefix}instance:${instanceId}:presence`,
    instanceSubs: (instanceId: string) => `${prefix}instance:${instanceId}:subs`,
  };
}

/** Sets the channel index of an app is split in (redis-keys.ts): on a cluster, that many slots share its writes. */
export const CHANNEL_INDEX_SHARDS = 16;

/** The Redis Cluster slot of a key (or shard channel): its hash tag's, if it has one. */
export const slotOf: (key: string) => number = calculateSlot;
