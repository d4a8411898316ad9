import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { z } from "zod";

/**
 * Env → validated, frozen `Config`. Every limit is here with its default; `loadConfig` is the
 * only place that reads the environment, and a bad value fails with a message that names the
 * variable.
 */

export interface App {
  readonly id: string;
  readonly key: string;
  readonly secret: string;
  readonly name: string;
  readonly enabled: boolean;
  /** Fastly Fanout: another name of the app in `/service/:serviceId/publish/`. */
  readonly fanoutServiceId?: string | undefined;
  /** Fastly Fanout / GRIP: a publish token accepted besides the app secret. */
  readonly fanoutToken?: string | undefined;
  /** Pusher-style lifecycle webhooks of the app (HERALD_APPS `webhooks`). */
  readonly webhooks?: readonly AppWebhook[] | undefined;
  /** Pusher WebSocket clients may send `client-*` events on private and presence channels (off unless set). */
  readonly enableClientMessages?: boolean;
  /** Subscribers of the app's channels (not presence ones) are told the channel's subscription count as it changes (off unless set). */
  readonly enableSubscriptionCount?: boolean;
}

/** Events an app's Pusher webhook may ask for. */
export const PUSHER_WEBHOOK_EVENTS = ["channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss", "subscription_count"] as const;
export type PusherWebhookEvent = (typeof PUSHER_WEBHOOK_EVENTS)[number];
/** A webhook without `events` gets these: every event but `subscription_count`, which Pusher too enables on its own. */
export const DEFAULT_PUSHER_WEBHOOK_EVENTS: readonly PusherWebhookEvent[] = PUSHER_WEBHOOK_EVENTS.filter((e) => e !== "subscription_count");

export interface AppWebhook {
  readonly url: string;
  readonly events: readonly PusherWebhookEvent[];
}

export interface Limits {
  /** Longest channel name. */
  readonly maxChannelNameLength: number;
  readonly maxEventNameLength: number;
  /** Bytes of one message: its `data` (a string as UTF-8, anything else as JSON) plus its header names and values. */
  readonly maxPayloadBytes: number;
  readonly maxChannelsPerPublish: number;
  readonly maxBatchSize: number;
  readonly maxHeaders: number;
  /**
   * Longest header value, in UTF-16 code units. Every subscription's selector reads the headers
   * of every message on its channel, so this bounds the work one publish causes per subscriber.
   */
  readonly maxHeaderValueLength: number;
  readonly maxSubscriptionsPerConnection: number;
  readonly maxConnectionsPerApp: number;
  readonly maxSelectorLength: number;
  /** Messages queued for one subscription before it is dropped as a slow consumer. */
  readonly subscriberQueueLength: number;
  /** Longest caller-supplied message id. */
  readonly maxMessageIdLength: number;
  /** Longest `publisherId` a message may carry. */
  readonly maxPublisherIdLength: number;
  /** Distinct users in one presence channel. */
  readonly maxPresenceMembers: number;
  /** JSON size of one presence member's user info. */
  readonly maxUserInfoBytes: number;
  readonly maxUserIdLength: number;
  /** Nesting of a JSON value (message data, variables, REST bodies): deeper is refused, not recursed into. */
  readonly maxJsonDepth: number;
  /** Backend operations (publish, batch, reads, schedules) per second of one app on one instance; 0: unlimited. */
  readonly backendRatePerApp: number;
}

/** What one GraphQL document may cost, on every lane (transport/document-policy.ts). */
export interface GraphqlLimits {
  readonly maxDocumentBytes: number;
  readonly maxDocumentTokens: number;
  readonly maxAliases: number;
  readonly maxDepth: number;
  readonly maxDirectives: number;
  readonly maxQueryCost: number;
  /** Bytes of query text kept in the cache of valid documents. */
  readonly documentCacheBytes: number;
  /** Bytes of one GraphQL response over HTTP; history messages are counted as they are read. */
  readonly maxResponseBytes: number;
  /** GraphQL requests per second without valid credentials, per client address; 0: unlimited. */
  readonly anonymousRatePerIp: number;
  /** Whether `__schema` and `__type` may be queried (GraphiQL needs them). */
  readonly introspection: boolean;
}

export interface RedisClusterConfig {
  /** Seed nodes (the rest of the cluster is found from them). */
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** `rediss://` seed nodes: TLS to every node. */
  readonly tls: boolean;
  /** Announced `host:port` → where to reach that node (containers, NAT). */
  readonly natMap: Readonly<Record<string, { readonly host: string; readonly port: number }>> | undefined;
  /** How often the slot map is read again, besides on MOVED and on a failed connection. */
  readonly slotsRefreshMs: number;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string | undefined;
  /** A Redis Cluster to run on instead (`REDIS_CLUSTER_NODES`); undefined: `redisUrl` or memory. */
  readonly redisCluster: RedisClusterConfig | undefined;
  /** Key prefix of everything Herald stores in Redis. */
  readonly redisPrefix: string;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  readonly production: boolean;
  readonly apps: readonly App[];
  /** True when no app was configured and a development app was made up. */
  readonly developmentApp: boolean;
  readonly limits: Limits;
  /** How long a published message's status (`messageStatus`) is kept. */
  readonly messageStatusTtlSeconds: number;
  /** Memory engine: statuses kept at most, over all apps; the oldest stored is forgotten first (Redis keeps each for its TTL). */
  readonly memoryMaxStatuses: number;
  /** Messages each channel's history keeps; 0: no history (messages get no offset, nothing resumes). */
  readonly historySize: number;
  /** A channel's history expires this long after its last publish (then its epoch changes). */
  readonly historyTtlSeconds: number;
  /** A caller-supplied message id seen again within this window is not published again. */
  readonly idempotencyWindowSeconds: number;
  /** Redis engine: how often an instance says it is alive, and when it counts as dead. */
  readonly instanceHeartbeatMs: number;
  readonly instanceTtlMs: number;
  /** Time SIGTERM gives open connections before the process exits anyway. */
  readonly shutdownTimeoutMs: number;
  /** graphql-ws: time a client has to send `connection_init`. */
  readonly connectionInitTimeoutMs: number;
  /** A WebSocket whose unsent data passes this is closed as a slow consumer. */
  readonly maxSocketBufferBytes: number;
  /** REST routes: largest request body read; larger ones get 413. */
  readonly maxRequestBytes: number;
  /** Largest WebSocket message a client may send (close 1009 past it). */
  readonly maxWebSocketMessageBytes: number;
  /** Origins browsers may call GraphQL over HTTP from (`*`: any); never with credentials (cookies). */
  readonly corsOrigins: readonly string[];
  readonly graphql: GraphqlLimits;
  readonly pusher: PusherConfig;
  readonly grip: GripConfig;
  readonly pusherWs: PusherWsConfig;
  readonly schedules: ScheduleConfig;
  readonly queues: QueueConfig;
  readonly webhooks: WebhookConfig;
  readonly subscriptionCount: SubscriptionCountConfig;
}

/** Durable pull queues (createQueue / pull; Zato subscriptions). */
export interface QueueConfig {
  /** Messages one queue holds; past it the least urgent (lowest priority, oldest) is dropped and counted. */
  readonly maxDepth: number;
  /** Live queues one app may have. */
  readonly maxPerApp: number;
  /** A queue not created or pulled from for this long is removed. */
  readonly idleTtlSeconds: number;
  /** Most messages one pull returns (`max` defaults to 50, or this if smaller). */
  readonly maxPullMessages: number;
}

export interface GripConfig {
  /** Longest an item with a `prev-id` is held waiting for its predecessor, then published anyway. */
  readonly prevIdWaitMs: number;
  /** Items one GRIP publish request may carry. */
  readonly maxItemsPerPublish: number;
  /** `/grip/stream/*`: seconds between keep-alive newlines (0: none). */
  readonly streamKeepAliveSeconds: number;
  /** `/grip/poll/*`: the default hold and the largest `?timeout=` (seconds). */
  readonly pollTimeoutSeconds: number;
  readonly maxPollTimeoutSeconds: number;
}

/** Outbound delivery (src/webhooks/) and Google-style watch channels. */
export interface WebhookConfig {
  /** One attempt's limit: connect, send, and the response's status line. */
  readonly timeoutMs: number;
  /** A notification is retried for this long after it was created, then given up. */
  readonly retryWindowSeconds: number;
  /** First retry after about this long; each further one waits twice as long (with jitter), up to `retryMaxMs`. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Private, loopback, link-local… targets: `false` refuses all, `true` allows all, or these CIDR ranges only. */
  readonly allowPrivate: boolean | readonly string[];
  /** Concurrent requests to one host:port, per instance. */
  readonly maxConcurrencyPerAddress: number;
  /** Deliveries one instance attempts at once. */
  readonly maxInFlight: number;
  /** How often every instance looks for due deliveries (retries, and work other instances left). */
  readonly pollMs: number;
  /** Bytes of a receiver's response body that are read (the rest is discarded). */
  readonly maxResponseBytes: number;
  /** Finished deliveries kept per target for `watchChannel { deliveries }`. */
  readonly keepResults: number;
  /** Watch channels: longest and default lifetime, and how many one app may hold. */
  readonly watchMaxTtlSeconds: number;
  readonly watchDefaultTtlSeconds: number;
  readonly maxWatchesPerApp: number;
  /** Pusher webhooks: `channel_vacated` / `member_removed` wait this long, cancelled by a return. */
  readonly pusherVacateDelayMs: number;
  /** Pusher webhooks: events within this window go out in one POST. */
  readonly pusherBatchMs: number;
}

/**
 * Subscription count events (`enableSubscriptionCount`, and the `subscription_count` webhook):
 * a channel's count is reported at most once per `intervalMs` per instance, once per
 * `largeIntervalMs` when it has more than `largeChannel` subscriptions (Pusher's own split).
 */
export interface SubscriptionCountConfig {
  readonly intervalMs: number;
  readonly largeChannel: number;
  readonly largeIntervalMs: number;
}

export interface ScheduleConfig {
  /** Shortest `repeatEvery` a schedule may ask for (Backendless' own minimum is 1 s). */
  readonly minRepeatSeconds: number;
  /** Active (not yet finished or cancelled) schedules one app may hold. */
  readonly maxPerApp: number;
  /** How often every instance looks for due runs; a run fires at most about this late. */
  readonly pollMs: number;
  /** Due runs one instance claims per app in one look (it looks again at once when it got that many). */
  readonly claimBatchSize: number;
}

export interface PusherConfig {
  /** `data` limit of the Pusher routes (Pusher's own default is 10 KiB). */
  readonly maxPayloadBytes: number;
  /** How far `auth_timestamp` may be from server time, either way. */
  readonly maxClockSkewSeconds: number;
}

/** The Pusher Channels WebSocket protocol at `/app/:key` (transport/pusher-ws.ts). */
export interface PusherWsConfig {
  /** Seconds of silence after which either side pings (sent to clients). */
  readonly activityTimeoutSeconds: number;
  /** How long Herald waits for `pusher:pong` before closing with 4201. */
  readonly pongTimeoutMs: number;
  /** `client-*` events one connection may send per second (Pusher: 10). */
  readonly clientEventsPerSecond: number;
}

const appSchema = z.object({
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, "app id: letters, digits, _ and - only"),
  key: z.string().min(8).max(128),
  secret: z.string().min(16).max(256),
  name: z.string().max(200).optional(),
  enabled: z.boolean().optional(),
  fanoutServiceId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, "fanoutServiceId: letters, digits, _ and - only").optional(),
  fanoutToken: z.string().min(16).max(256).optional(),
  webhooks: z
    .array(
      z.object({
        url: z
          .string()
          .url()
          .refine((u) => /^https?:\/\//i.test(u), "webhook url must be http:// or https://"),
        events: z.array(z.enum(PUSHER_WEBHOOK_EVENTS)).min(1).optional(),
      }),
    )
    .max(10)
    .optional(),
  enableClientMessages: z.boolean().optional(),
  enableSubscriptionCount: z.boolean().optional(),
});

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Each env variable, its parser and its default. docs/configuration.md lists every one (test/docs.test.ts checks). */
const envSchema = z.object({
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).default("0.0.0.0"),
  REDIS_URL: z
    .string()
    .url()
    .refine((s) => /^rediss?:/.test(s), "must start with redis:// or rediss://")
    .optional(),
  REDIS_CLUSTER_NODES: z.string().optional(),
  REDIS_CLUSTER_NAT_MAP: z.string().optional(),
  HERALD_REDIS_CLUSTER_SLOTS_REFRESH_MS: int(100, 600_000).default(2_000),
  HERALD_REDIS_PREFIX: z.string().min(1).max(64).default("herald:"),
  HERALD_APPS: z.string().optional(),
  HERALD_APPS_FILE: z.string().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NODE_ENV: z.string().optional(),
  HERALD_INTROSPECTION: z.enum(["true", "false"]).optional(),
  HERALD_CORS_ORIGINS: z
    .string()
    .refine((s) => s.split(",").every((origin) => origin.trim() === "*" || /^https?:\/\/[^/\s]+$/.test(origin.trim())), "a comma-separated list of origins (https://example.com) or *")
    .default("*"),
  HERALD_MAX_CHANNEL_NAME_LENGTH: int(1, 10_000).default(200),
  HERALD_MAX_EVENT_NAME_LENGTH: int(1, 10_000).default(200),
  HERALD_MAX_PAYLOAD_BYTES: int(1, 64 * 1024 * 1024).default(64 * 1024),
  HERALD_MAX_CHANNELS_PER_PUBLISH: int(1, 10_000).default(100),
  HERALD_MAX_BATCH_SIZE: int(1, 1_000).default(10),
  HERALD_MAX_HEADERS: int(0, 1_000).default(32),
  HERALD_MAX_HEADER_VALUE_LENGTH: int(1, 64 * 1024 * 1024).default(4096),
  HERALD_MAX_SUBSCRIPTIONS_PER_CONNECTION: int(1, 100_000).default(100),
  HERALD_MAX_CONNECTIONS_PER_APP: int(1, 10_000_000).default(100_000),
  HERALD_MAX_SELECTOR_LENGTH: int(1, 100_000).default(1024),
  HERALD_SUBSCRIBER_QUEUE_LENGTH: int(1, 1_000_000).default(1_000),
  HERALD_MAX_MESSAGE_ID_LENGTH: int(1, 1_000).default(128),
  HERALD_MAX_PUBLISHER_ID_LENGTH: int(1, 10_000).default(200),
  HERALD_MAX_PRESENCE_MEMBERS: int(1, 1_000_000).default(100),
  HERALD_MAX_USER_INFO_BYTES: int(2, 1024 * 1024).default(1024),
  HERALD_MAX_USER_ID_LENGTH: int(1, 10_000).default(128),
  HERALD_MAX_JSON_DEPTH: int(1, 1_000).default(64),
  HERALD_MAX_DOCUMENT_BYTES: int(256, 16 * 1024 * 1024).default(64 * 1024),
  HERALD_MAX_DOCUMENT_TOKENS: int(100, 1_000_000).default(5_000),
  HERALD_MAX_ALIASES: int(0, 100_000).default(30),
  HERALD_MAX_DEPTH: int(1, 1_000).default(10),
  HERALD_MAX_DIRECTIVES: int(0, 100_000).default(50),
  HERALD_MAX_QUERY_COST: int(1, 100_000_000).default(10_000),
  HERALD_DOCUMENT_CACHE_BYTES: int(0, 1024 * 1024 * 1024).default(1024 * 1024),
  HERALD_MAX_RESPONSE_BYTES: int(1024, 1024 * 1024 * 1024).default(16 * 1024 * 1024),
  HERALD_MAX_WEBSOCKET_MESSAGE_BYTES: int(1024, 64 * 1024 * 1024).default(256 * 1024),
  HERALD_RATE_LIMIT_BACKEND_PER_APP: int(0, 10_000_000).default(0),
  HERALD_RATE_LIMIT_ANONYMOUS_PER_IP: int(0, 10_000_000).default(20),
  HERALD_MESSAGE_STATUS_TTL_SECONDS: int(1, 365 * 24 * 3600).default(24 * 3600),
  HERALD_MEMORY_MAX_STATUSES: int(1, 100_000_000).default(100_000),
  HERALD_HISTORY_SIZE: int(0, 1_000_000).default(100),
  HERALD_HISTORY_TTL_SECONDS: int(1, 30 * 24 * 3600).default(600),
  HERALD_IDEMPOTENCY_WINDOW_SECONDS: int(1, 7 * 24 * 3600).default(300),
  HERALD_INSTANCE_HEARTBEAT_MS: int(100, 600_000).default(5_000),
  HERALD_INSTANCE_TTL_MS: int(300, 3_600_000).default(15_000),
  HERALD_SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  HERALD_CONNECTION_INIT_TIMEOUT_MS: int(100, 600_000).default(3_000),
  HERALD_MAX_SOCKET_BUFFER_BYTES: int(1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  HERALD_MAX_REQUEST_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  HERALD_SCHEDULE_MIN_REPEAT_SECONDS: int(1, 365 * 24 * 3600).default(1),
  HERALD_MAX_SCHEDULES_PER_APP: int(0, 10_000_000).default(10_000),
  HERALD_SCHEDULER_POLL_MS: int(10, 60_000).default(200),
  HERALD_SCHEDULER_BATCH_SIZE: int(1, 10_000).default(100),
  HERALD_PUSHER_MAX_PAYLOAD_BYTES: int(1, 64 * 1024 * 1024).default(10 * 1024),
  HERALD_PUSHER_MAX_CLOCK_SKEW_SECONDS: int(1, 86_400).default(600),
  HERALD_GRIP_PREV_ID_WAIT_MS: int(0, 600_000).default(5_000),
  HERALD_GRIP_MAX_ITEMS: int(1, 10_000).default(100),
  HERALD_GRIP_KEEPALIVE_SECONDS: int(0, 3_600).default(20),
  HERALD_GRIP_POLL_TIMEOUT_SECONDS: int(1, 3_600).default(55),
  HERALD_GRIP_MAX_POLL_TIMEOUT_SECONDS: int(1, 3_600).default(120),
  HERALD_MAX_QUEUE_DEPTH: int(1, 10_000_000).default(10_000),
  HERALD_MAX_QUEUES_PER_APP: int(0, 1_000_000).default(1_000),
  HERALD_QUEUE_IDLE_TTL_SECONDS: int(1, 365 * 24 * 3600).default(7 * 24 * 3600),
  HERALD_MAX_PULL_MESSAGES: int(1, 100_000).default(200),
  HERALD_WEBHOOK_TIMEOUT_MS: int(100, 600_000).default(5_000),
  HERALD_WEBHOOK_RETRY_WINDOW_SECONDS: int(0, 7 * 24 * 3600).default(300),
  HERALD_WEBHOOK_RETRY_BASE_MS: int(10, 3_600_000).default(1_000),
  HERALD_WEBHOOK_RETRY_MAX_MS: int(10, 3_600_000).default(60_000),
  HERALD_WEBHOOK_ALLOW_PRIVATE: z
    .string()
    .refine((s) => /^(1|0|true|false)$/.test(s) || s.split(",").every((range) => parseCidr(range.trim()) !== undefined), "1, true, or a comma-separated list of CIDR ranges (10.0.0.0/8,fd00::/8)")
    .default("0"),
  HERALD_WEBHOOK_MAX_CONCURRENCY_PER_ADDRESS: int(1, 10_000).default(16),
  HERALD_WEBHOOK_MAX_IN_FLIGHT: int(1, 100_000).default(256),
  HERALD_WEBHOOK_POLL_MS: int(10, 60_000).default(250),
  HERALD_WEBHOOK_MAX_RESPONSE_BYTES: int(0, 1024 * 1024).default(4096),
  HERALD_WEBHOOK_KEEP_RESULTS: int(1, 10_000).default(20),
  HERALD_WATCH_MAX_TTL_SECONDS: int(1, 365 * 24 * 3600).default(7 * 24 * 3600),
  HERALD_WATCH_DEFAULT_TTL_SECONDS: int(1, 365 * 24 * 3600).default(24 * 3600),
  HERALD_MAX_WATCHES_PER_APP: int(0, 10_000_000).default(10_000),
  HERALD_PUSHER_WEBHOOK_DELAY_MS: int(0, 600_000).default(3_000),
  HERALD_PUSHER_WEBHOOK_BATCH_MS: int(0, 60_000).default(100),
  HERALD_SUBSCRIPTION_COUNT_INTERVAL_MS: int(0, 600_000).default(100),
  HERALD_SUBSCRIPTION_COUNT_LARGE_CHANNEL: int(0, 100_000_000).default(100),
  HERALD_SUBSCRIPTION_COUNT_LARGE_INTERVAL_MS: int(0, 600_000).default(5_000),
  HERALD_PUSHER_ACTIVITY_TIMEOUT_SECONDS: int(1, 3_600).default(120),
  HERALD_PUSHER_PONG_TIMEOUT_MS: int(100, 600_000).default(30_000),
  HERALD_PUSHER_CLIENT_EVENTS_PER_SECOND: int(1, 10_000).default(10),
});

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** `host:port` (a node of REDIS_CLUSTER_NODES or REDIS_CLUSTER_NAT_MAP). */
function hostPort(variable: string, text: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/@]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new ConfigError(`${variable}: "${text}" is not host:port`);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

/**
 * REDIS_CLUSTER_NODES: comma-separated seed nodes, `host:port` or `redis://[user:password@]host:port`
 * (`rediss://`: TLS); credentials and scheme, if given, are the same on every node.
 * REDIS_CLUSTER_NAT_MAP: comma-separated `announced-host:port=reachable-host:port`.
 */
function parseRedisCluster(nodes: string | undefined, natMap: string | undefined, slotsRefreshMs: number, url: string | undefined): RedisClusterConfig | undefined {
  if (nodes === undefined) {
    if (natMap !== undefined) throw new ConfigError("REDIS_CLUSTER_NAT_MAP: only with REDIS_CLUSTER_NODES");
    return undefined;
  }
  if (url !== undefined) throw new ConfigError("REDIS_CLUSTER_NODES: set either REDIS_URL or REDIS_CLUSTER_NODES, not both");
  const seeds: { host: string; port: number }[] = [];
  const schemes = new Set<string>();
  const credentials = new Set<string>();
  let username: string | undefined;
  let password: string | undefined;
  for (const entry of nodes.split(",").map((n) => n.trim()).filter((n) => n !== "")) {
    if (!/^rediss?:\/\//.test(entry)) {
      schemes.add("redis:");
      seeds.push(hostPort("REDIS_CLUSTER_NODES", entry));
      continue;
    }
    let parsed: URL;
    try {
      parsed = new URL(entry);
    } catch {
      throw new ConfigError(`REDIS_CLUSTER_NODES: "${entry}" is not a valid URL`);
    }
    schemes.add(parsed.protocol);
    if (parsed.username || parsed.password) {
      credentials.add(`${parsed.username}:${parsed.password}`);
      username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
      password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
    }
    seeds.push(hostPort("REDIS_CLUSTER_NODES", `${parsed.hostname}:${parsed.port || "6379"}`));
  }
  if (seeds.length === 0) throw new ConfigError("REDIS_CLUSTER_NODES: names no node");
  if (schemes.size > 1) throw new ConfigError("REDIS_CLUSTER_NODES: mixes redis:// and rediss:// nodes");
  if (credentials.size > 1) throw new ConfigError("REDIS_CLUSTER_NODES: nodes give different credentials");
  let map: Record<string, { host: string; port: number }> | undefined;
  if (natMap !== undefined) {
    map = {};
    for (const pair of natMap.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
      const [from, to, extra] = pair.split("=");
      if (from === undefined || to === undefined || extra !== undefined) throw new ConfigError(`REDIS_CLUSTER_NAT_MAP: "${pair}" is not from=to`);
      const source = hostPort("REDIS_CLUSTER_NAT_MAP", from.trim());
      map[`${source.host}:${source.port}`] = hostPort("REDIS_CLUSTER_NAT_MAP", to.trim());
    }
  }
  return { nodes: seeds, username, password, tls: schemes.has("rediss:"), natMap: map, slotsRefreshMs };
}

export function loadConfig(env: Env = process.env): Config {
  // An empty variable means "not set", as in most shells' `FOO= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${issue.path.join(".")}: ${issue.message}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === "production";
  let apps = parseApps(e.HERALD_APPS, e.HERALD_APPS_FILE);
  const developmentApp = apps.length === 0;
  if (developmentApp) {
    if (production) {
      throw new ConfigError("HERALD_APPS: no apps configured; NODE_ENV=production refuses the development app");
    }
    apps = [DEVELOPMENT_APP];
  }
  if (e.HERALD_WATCH_DEFAULT_TTL_SECONDS > e.HERALD_WATCH_MAX_TTL_SECONDS) {
    throw new ConfigError("HERALD_WATCH_DEFAULT_TTL_SECONDS: must not be greater than HERALD_WATCH_MAX_TTL_SECONDS");
  }
  if (e.HERALD_INSTANCE_TTL_MS <= e.HERALD_INSTANCE_HEARTBEAT_MS) {
    throw new ConfigError("HERALD_INSTANCE_TTL_MS: must be greater than HERALD_INSTANCE_HEARTBEAT_MS");
  }
  return deepFreeze({
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    redisCluster: parseRedisCluster(e.REDIS_CLUSTER_NODES, e.REDIS_CLUSTER_NAT_MAP, e.HERALD_REDIS_CLUSTER_SLOTS_REFRESH_MS, e.REDIS_URL),
    redisPrefix: e.HERALD_REDIS_PREFIX,
    logLevel: e.LOG_LEVEL,
    production,
    apps,
    developmentApp,
    limits: {
      maxChannelNameLength: e.HERALD_MAX_CHANNEL_NAME_LENGTH,
      maxEventNameLength: e.HERALD_MAX_EVENT_NAME_LENGTH,
      maxPayloadBytes: e.HERALD_MAX_PAYLOAD_BYTES,
      maxChannelsPerPublish: e.HERALD_MAX_CHANNELS_PER_PUBLISH,
      maxBatchSize: e.HERALD_MAX_BATCH_SIZE,
      maxHeaders: e.HERALD_MAX_HEADERS,
      maxHeaderValueLength: e.HERALD_MAX_HEADER_VALUE_LENGTH,
      maxSubscriptionsPerConnection: e.HERALD_MAX_SUBSCRIPTIONS_PER_CONNECTION,
      maxConnectionsPerApp: e.HERALD_MAX_CONNECTIONS_PER_APP,
      maxSelectorLength: e.HERALD_MAX_SELECTOR_LENGTH,
      subscriberQueueLength: e.HERALD_SUBSCRIBER_QUEUE_LENGTH,
      maxMessageIdLength: e.HERALD_MAX_MESSAGE_ID_LENGTH,
      maxPublisherIdLength: e.HERALD_MAX_PUBLISHER_ID_LENGTH,
      maxPresenceMembers: e.HERALD_MAX_PRESENCE_MEMBERS,
      maxUserInfoBytes: e.HERALD_MAX_USER_INFO_BYTES,
      maxUserIdLength: e.HERALD_MAX_USER_ID_LENGTH,
      maxJsonDepth: e.HERALD_MAX_JSON_DEPTH,
      backendRatePerApp: e.HERALD_RATE_LIMIT_BACKEND_PER_APP,
    },
    messageStatusTtlSeconds: e.HERALD_MESSAGE_STATUS_TTL_SECONDS,
    memoryMaxStatuses: e.HERALD_MEMORY_MAX_STATUSES,
    historySize: e.HERALD_HISTORY_SIZE,
    historyTtlSeconds: e.HERALD_HISTORY_TTL_SECONDS,
    idempotencyWindowSeconds: e.HERALD_IDEMPOTENCY_WINDOW_SECONDS,
    instanceHeartbeatMs: e.HERALD_INSTANCE_HEARTBEAT_MS,
    instanceTtlMs: e.HERALD_INSTANCE_TTL_MS,
    shutdownTimeoutMs: e.HERALD_SHUTDOWN_TIMEOUT_MS,
    connectionInitTimeoutMs: e.HERALD_CONNECTION_INIT_TIMEOUT_MS,
    maxSocketBufferBytes: e.HERALD_MAX_SOCKET_BUFFER_BYTES,
    maxRequestBytes: e.HERALD_MAX_REQUEST_BYTES,
    maxWebSocketMessageBytes: e.HERALD_MAX_WEBSOCKET_MESSAGE_BYTES,
    graphql: {
      maxDocumentBytes: e.HERALD_MAX_DOCUMENT_BYTES,
      maxDocumentTokens: e.HERALD_MAX_DOCUMENT_TOKENS,
      maxAliases: e.HERALD_MAX_ALIASES,
      maxDepth: e.HERALD_MAX_DEPTH,
      maxDirectives: e.HERALD_MAX_DIRECTIVES,
      maxQueryCost: e.HERALD_MAX_QUERY_COST,
      documentCacheBytes: e.HERALD_DOCUMENT_CACHE_BYTES,
      maxResponseBytes: e.HERALD_MAX_RESPONSE_BYTES,
      anonymousRatePerIp: e.HERALD_RATE_LIMIT_ANONYMOUS_PER_IP,
      introspection: e.HERALD_INTROSPECTION === undefined ? !production : e.HERALD_INTROSPECTION === "true",
    },
    corsOrigins: e.HERALD_CORS_ORIGINS.split(",").map((origin) => origin.trim()),
    pusher: {
      maxPayloadBytes: e.HERALD_PUSHER_MAX_PAYLOAD_BYTES,
      maxClockSkewSeconds: e.HERALD_PUSHER_MAX_CLOCK_SKEW_SECONDS,
    },
    grip: {
      prevIdWaitMs: e.HERALD_GRIP_PREV_ID_WAIT_MS,
      maxItemsPerPublish: e.HERALD_GRIP_MAX_ITEMS,
      streamKeepAliveSeconds: e.HERALD_GRIP_KEEPALIVE_SECONDS,
      pollTimeoutSeconds: Math.min(e.HERALD_GRIP_POLL_TIMEOUT_SECONDS, e.HERALD_GRIP_MAX_POLL_TIMEOUT_SECONDS),
      maxPollTimeoutSeconds: e.HERALD_GRIP_MAX_POLL_TIMEOUT_SECONDS,
    },
    pusherWs: {
      activityTimeoutSeconds: e.HERALD_PUSHER_ACTIVITY_TIMEOUT_SECONDS,
      pongTimeoutMs: e.HERALD_PUSHER_PONG_TIMEOUT_MS,
      clientEventsPerSecond: e.HERALD_PUSHER_CLIENT_EVENTS_PER_SECOND,
    },
    schedules: {
      minRepeatSeconds: e.HERALD_SCHEDULE_MIN_REPEAT_SECONDS,
      maxPerApp: e.HERALD_MAX_SCHEDULES_PER_APP,
      pollMs: e.HERALD_SCHEDULER_POLL_MS,
      claimBatchSize: e.HERALD_SCHEDULER_BATCH_SIZE,
    },
    queues: {
      maxDepth: e.HERALD_MAX_QUEUE_DEPTH,
      maxPerApp: e.HERALD_MAX_QUEUES_PER_APP,
      idleTtlSeconds: e.HERALD_QUEUE_IDLE_TTL_SECONDS,
      maxPullMessages: e.HERALD_MAX_PULL_MESSAGES,
    },
    webhooks: {
      timeoutMs: e.HERALD_WEBHOOK_TIMEOUT_MS,
      retryWindowSeconds: e.HERALD_WEBHOOK_RETRY_WINDOW_SECONDS,
      retryBaseMs: e.HERALD_WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: e.HERALD_WEBHOOK_RETRY_MAX_MS,
      allowPrivate: allowPrivateOf(e.HERALD_WEBHOOK_ALLOW_PRIVATE),
      maxConcurrencyPerAddress: e.HERALD_WEBHOOK_MAX_CONCURRENCY_PER_ADDRESS,
      maxInFlight: e.HERALD_WEBHOOK_MAX_IN_FLIGHT,
      pollMs: e.HERALD_WEBHOOK_POLL_MS,
      maxResponseBytes: e.HERALD_WEBHOOK_MAX_RESPONSE_BYTES,
      keepResults: e.HERALD_WEBHOOK_KEEP_RESULTS,
      watchMaxTtlSeconds: e.HERALD_WATCH_MAX_TTL_SECONDS,
      watchDefaultTtlSeconds: e.HERALD_WATCH_DEFAULT_TTL_SECONDS,
      maxWatchesPerApp: e.HERALD_MAX_WATCHES_PER_APP,
      pusherVacateDelayMs: e.HERALD_PUSHER_WEBHOOK_DELAY_MS,
      pusherBatchMs: e.HERALD_PUSHER_WEBHOOK_BATCH_MS,
    },
    subscriptionCount: {
      intervalMs: e.HERALD_SUBSCRIPTION_COUNT_INTERVAL_MS,
      largeChannel: e.HERALD_SUBSCRIPTION_COUNT_LARGE_CHANNEL,
      largeIntervalMs: e.HERALD_SUBSCRIPTION_COUNT_LARGE_INTERVAL_MS,
    },
  });
}

function parseApps(json: string | undefined, file: string | undefined): App[] {
  if (json !== undefined && file !== undefined) {
    throw new ConfigError("HERALD_APPS: set either HERALD_APPS or HERALD_APPS_FILE, not both");
  }
  const variable = json !== undefined ? "HERALD_APPS" : "HERALD_APPS_FILE";
  let text = json;
  if (file !== undefined) {
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new ConfigError(`HERALD_APPS_FILE: cannot read ${file}: ${(error as Error).message}`);
    }
  }
  if (text === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${variable}: not valid JSON: ${(error as Error).message}`);
  }
  const parsed = z.array(appSchema).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${variable}: [${issue.path.join(".")}] ${issue.message}`);
  }
  const apps: App[] = parsed.data.map((a) => ({
    id: a.id,
    key: a.key,
    secret: a.secret,
    name: a.name ?? a.id,
    enabled: a.enabled ?? true,
    enableClientMessages: a.enableClientMessages ?? false,
    enableSubscriptionCount: a.enableSubscriptionCount ?? false,
    ...(a.fanoutServiceId === undefined ? {} : { fanoutServiceId: a.fanoutServiceId }),
    ...(a.fanoutToken === undefined ? {} : { fanoutToken: a.fanoutToken }),
    ...(a.webhooks ? { webhooks: a.webhooks.map((w) => ({ url: w.url, events: w.events ?? [...DEFAULT_PUSHER_WEBHOOK_EVENTS] })) } : {}),
  }));
  for (const field of ["id", "key", "secret"] as const) {
    const seen = new Set<string>();
    for (const app of apps) {
      if (seen.has(app[field])) throw new ConfigError(`${variable}: two apps share the same ${field}`);
      seen.add(app[field]);
    }
  }
  // A service id names one app: an app's id or alias, never two of them.
  const serviceIds = new Set(apps.map((app) => app.id));
  for (const app of apps) {
    if (app.fanoutServiceId === undefined || app.fanoutServiceId === app.id) continue;
    if (serviceIds.has(app.fanoutServiceId)) throw new ConfigError(`${variable}: fanoutServiceId ${app.fanoutServiceId} already names another app`);
    serviceIds.add(app.fanoutServiceId);
  }
  // A publish token names one app, too.
  const tokens = new Set(apps.map((app) => app.secret));
  for (const app of apps) {
    if (app.fanoutToken === undefined) continue;
    if (tokens.has(app.fanoutToken)) throw new ConfigError(`${variable}: fanoutToken of ${app.id} is already an app's secret or token`);
    tokens.add(app.fanoutToken);
  }
  return apps;
}

/**
 * Fixed, well-known credentials so the README's examples work as written on a fresh machine.
 * Never used in production: `loadConfig` refuses to start there without configured apps.
 */
export const DEVELOPMENT_APP: App = Object.freeze({
  id: "dev",
  key: "herald-dev-key",
  secret: "herald-dev-secret-not-for-production",
  name: "Development app",
  enabled: true,
});

/** HERALD_WEBHOOK_ALLOW_PRIVATE: a flag, or the CIDR ranges allowed. */
function allowPrivateOf(value: string): boolean | string[] {
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  return value.split(",").map((range) => range.trim());
}

/** `10.0.0.0/8` → its address, prefix length and family; undefined when it is no CIDR range. */
export function parseCidr(range: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(range);
  if (!match) return undefined;
  const family = isIP(match[1]!);
  const prefix = Number(match[2]);
  if (family === 0 || prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address: match[1]!, prefix, family: family === 4 ? "ipv4" : "ipv6" };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
