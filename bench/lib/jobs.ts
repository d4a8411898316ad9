/**
 * What the runner asks the load generator to do (a job) and what it gets back (a result).
 * Both cross the IPC channel between `run.ts` and `load.ts` as plain JSON.
 */

/** How the generator publishes to the server under test. */
export type PublishPath =
  /** The GraphQL `publish` mutation over HTTP (Herald and the peer server). */
  | { readonly kind: "graphql"; readonly url: string; readonly secret: string }
  /** `POST /publish {channels, event, data}`: the limit server's, which the Centrifuge server takes too. */
  | { readonly kind: "limit"; readonly url: string }
  /** Pusher's signed `POST /apps/:appId/events` (Herald's Pusher route and the bare handler). */
  | PusherPublishPath
  /** GRIP's `POST /service/:serviceId/publish/` (Herald's Fastly Fanout route), one item per channel. */
  | { readonly kind: "grip"; readonly url: string; readonly serviceId: string; readonly secret: string };

export interface PusherPublishPath {
  readonly kind: "pusher";
  readonly url: string;
  readonly appId: string;
  readonly key: string;
  readonly secret: string;
}

/**
 * How the generator knows a subscription is live:
 * - `subscribed-event`: the server sends a first `next` with `kind: SUBSCRIBED` once its broker
 *   confirmed the subscription (Herald, and the limit server does the same; for Centrifuge, its
 *   reply to the subscribe command);
 * - `probe`: no such signal (the peer), so probe messages are published until every subscriber
 *   has received one.
 */
export type ReadySignal = "subscribed-event" | "probe";

/**
 * What a fan-out job's subscribers speak: graphql-ws (`lib/ws-subscriber.ts`), Herald's Pusher
 * protocol (`lib/pusher-subscriber.ts`) or Centrifuge's JSON protocol (`lib/centrifuge-subscriber.ts`).
 */
export type SubscriberProtocol = "graphql-ws" | "pusher" | "centrifuge";

/** N subscribers over C channels, then M messages at rate R (M = 0: memory only). */
export interface FanoutJob {
  readonly kind: "fanout";
  /** WebSocket endpoints; subscribers are dealt round-robin over them (one per instance). */
  readonly wsUrls: readonly string[];
  readonly protocol: SubscriberProtocol;
  readonly appKey: string;
  /** Publishes go to the first instance only. */
  readonly publish: PublishPath;
  readonly ready: ReadySignal;
  /** Every process of the server under test (several instances: their sum is reported). */
  readonly serverPids: readonly number[];
  readonly subscribers: number;
  readonly channels: number;
  /** Channel names are `${channelPrefix}${i}`. */
  readonly channelPrefix: string;
  /** Each publish names this many channels (consecutive, round-robin over all of them). */
  readonly channelsPerPublish: number;
  readonly messages: number;
  /** Publish requests per second. */
  readonly publishRate: number;
  /** Subscribers that stop reading once half the messages were published (see FanoutScenario). */
  readonly slowSubscribers: number;
  /** Padding bytes in every message's data. */
  readonly payloadBytes: number;
  /** Sockets being opened at once while connecting. */
  readonly connectConcurrency: number;
  /** Quiet time after the last subscription before RSS is read. */
  readonly settleMs: number;
  /** Published before measuring, not counted (JIT, connection pools, Redis subscriptions). */
  readonly warmupMessages: number;
  readonly connectTimeoutMs: number;
  /** After the last publish, how long deliveries may keep trickling in. */
  readonly drainTimeoutMs: number;
  /** The drain also ends when nothing arrived for this long. */
  readonly stallTimeoutMs: number;
  /** Redis to read `INFO cpu` from (Redis CPU is reported beside the server's). */
  readonly redisUrl: string;
}

/** A closed loop of keep-alive HTTP requests for a fixed time. */
export interface RestJob {
  readonly kind: "rest";
  readonly publish: PublishPath;
  readonly serverPids: readonly number[];
  readonly channel: string;
  /** Requests in flight at once (one keep-alive connection each). */
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly redisUrl: string;
}

/** The `queue` scenario: plain publishes, then publishes into pull queues, then pulls (see load.ts runQueue). */
export interface QueueJob {
  readonly kind: "queue";
  /** Herald's GraphQL endpoint, and the app secret its queue operations need. */
  readonly graphqlUrl: string;
  readonly secret: string;
  readonly publish: PublishPath;
  readonly serverPids: readonly number[];
  readonly channel: string;
  readonly queues: number;
  readonly messages: number;
  readonly publishRate: number;
  /** `max` of every pull. */
  readonly pullBatch: number;
  /** Pull requests in flight at once. */
  readonly consumers: number;
  readonly drainTimeoutMs: number;
  readonly redisUrl: string;
}

export type LoadJob = FanoutJob | RestJob | QueueJob;

/** Publishing may take this long: 3 × its nominal time (a saturated server slows it), plus 10 s. */
export function publishTimeLimitMs(job: Pick<FanoutJob, "messages" | "publishRate">): number {
  return job.messages === 0 ? 0 : 3 * (job.messages / job.publishRate) * 1000 + 10_000;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export interface CpuFigures {
  /** utime + stime of the server process(es) over the measured window. */
  readonly serverCpuSeconds: number;
  /** The part of it spent in the kernel (stime): system calls, loopback TCP included. */
  readonly serverSystemCpuSeconds: number;
  readonly redisCpuSeconds: number;
  /** The generator's own CPU: near one core means the generator, not the server, was the limit. */
  readonly generatorCpuSeconds: number;
  /**
   * CPU the rest of the machine used meanwhile (machine total − server − generator − Redis):
   * near 0 on a quiet machine; more means other work (a test suite, a build) skewed the figures.
   */
  readonly otherCpuSeconds: number;
  readonly wallSeconds: number;
}

export interface FanoutResult {
  readonly kind: "fanout";
  readonly connect: {
    /** Connect + `connection_init` + subscribe until the subscription is live, per subscriber. */
    readonly perSubscriberMs: Percentiles;
    /** Wall time to get every subscriber live. */
    readonly totalMs: number;
    readonly failed: number;
  };
  readonly memory: {
    readonly rssBeforeKb: number;
    readonly rssAfterKb: number;
    readonly perConnectionKb: number;
  };
  /** Absent when the job published nothing (idle). */
  readonly delivery?: {
    readonly published: number;
    readonly publishErrors: number;
    /** Publish requests per second actually issued (below the asked rate: the server pushed back). */
    readonly achievedPublishRate: number;
    readonly expected: number;
    readonly received: number;
    readonly lost: number;
    /** Deliveries whose seq was not above the subscriber's previous one. */
    readonly outOfOrder: number;
    readonly deliveriesPerSecond: number;
    readonly deliveriesPerCpuSecond: number;
    readonly latencyMs: Percentiles;
    readonly cpu: CpuFigures;
    /** With slow subscribers: what they did to the server and to everyone else. */
    readonly backpressure?: Backpressure;
  };
  /** First problems seen (closed sockets, GraphQL errors), for the report. */
  readonly notes: readonly string[];
}

export interface Backpressure {
  readonly slowSubscribers: number;
  /** Slow subscribers whose socket the server closed (seen once they read again at the end). */
  readonly dropped: number;
  /** Close codes the slow subscribers saw, by code. */
  readonly closeCodes: Readonly<Record<string, number>>;
  /** Server RSS when publishing started, and the highest sampled (every 100 ms) until the drain ended. */
  readonly rssStartKb: number;
  readonly rssPeakKb: number;
  /** The reading subscribers' latency for the first half of the messages (everyone reading)… */
  readonly latencyAllReadingMs: Percentiles;
  /** …and for the second half (the slow ones stopped reading). */
  readonly latencySlowStoppedMs: Percentiles;
}

export interface RestResult {
  readonly kind: "rest";
  readonly requests: number;
  readonly ok: number;
  /** Non-2xx responses by status. */
  readonly failures: Readonly<Record<string, number>>;
  readonly requestsPerSecond: number;
  readonly requestsPerCpuSecond: number;
  readonly latencyMs: Percentiles;
  readonly cpu: CpuFigures;
  readonly notes: readonly string[];
  /** Requests/s of every round of this target, in run order (the figures above are those of the round picked: see pickRound in run.ts). */
  readonly roundsRequestsPerSecond?: readonly number[];
}

/** One measured phase of the queue scenario: publishes (or pulled messages) and what they cost. */
export interface QueuePhase {
  /** Publishes accepted (publish phases) or messages pulled (pull phases). */
  readonly count: number;
  readonly perSecond: number;
  /** Server CPU-µs per publish (publish phases) or per pulled message (pull phases). */
  readonly serverCpuMicros: number;
  readonly redisCpuMicros: number;
  readonly cpu: CpuFigures;
}

export interface QueueResult {
  readonly kind: "queue";
  readonly queues: number;
  /** Publishes to a channel without queues. */
  readonly plain: QueuePhase;
  /** Publishes to the channel of `queues` queues, nobody pulling. */
  readonly queued: QueuePhase;
  /** Pulling everything `queued` left, in batches. */
  readonly drain: QueuePhase;
  /** Publishing while consumers pull, then pulling what is left: publishes, and the CPU of both. */
  readonly steady: QueuePhase;
  readonly pullRequests: number;
  /** Redis `used_memory` growth over the queued phase ÷ messages then queued (publishes × queues). */
  readonly redisBytesPerQueuedMessage: number;
  /** Messages expected in the queues but never pulled, and pulled more than once (both phases). */
  readonly lost: number;
  readonly duplicates: number;
  readonly notes: readonly string[];
}

export type LoadResult = FanoutResult | RestResult | QueueResult;

/** Messages from the generator to the runner. */
export type GeneratorMessage =
  | { readonly type: "progress"; readonly text: string }
  | { readonly type: "result"; readonly result: LoadResult }
  | { readonly type: "failed"; readonly error: string };
