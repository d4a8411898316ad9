import type { TargetName } from "./targets.ts";

/**
 * The scenarios of issue 6, in full and `--quick` sizes. Rates are publish requests per second;
 * offered deliveries per second = rate × channelsPerPublish × subscribers per channel.
 */

export interface FanoutScenario {
  readonly kind: "fanout";
  readonly name: string;
  readonly description: string;
  /** The figure the scenario is about: the table's headline row. */
  readonly focus: "throughput" | "latency" | "memory" | "backpressure";
  readonly targets: readonly TargetName[];
  /** Instances of each target, all on the same Redis; subscribers are split over them. */
  readonly instances: number;
  readonly subscribers: number;
  readonly channels: number;
  readonly channelsPerPublish: number;
  /** 0: connect, subscribe and read memory only. */
  readonly messages: number;
  readonly publishRate: number;
  /**
   * Subscribers that stop reading halfway through publishing (their sockets paused): the
   * slow-consumer scenario. Their deliveries are never counted; the others' latency is reported
   * for each half.
   */
  readonly slowSubscribers?: number;
  /** Bytes of padding in every message's data (so slow sockets' buffers fill within the run). */
  readonly payloadBytes?: number;
  /** Herald's environment on top of the bench's own (e.g. a setting the scenario is about). */
  readonly heraldEnv?: Readonly<Record<string, string>>;
  /** The route Herald (target `herald`) publishes through: its GRIP route instead of its usual one. */
  readonly heraldPublish?: "grip";
  /** The target Herald is divided by in the reference column (default: limit, or the bare handler for REST). */
  readonly reference?: TargetName;
  /** `--scenario <partOf>` runs this one too (a scenario measured in two parts). */
  readonly partOf?: string;
  /** Herald's subscribers use the Pusher protocol at `/app/:key` (the limit's stay on graphql-ws). */
  readonly pusherWs?: boolean;
  /**
   * `memory`: Herald and Centrifuge run their in-memory engine, without Redis (Herald without
   * `REDIS_URL`); only they can. Default: Redis.
   */
  readonly engine?: "memory";
}

export interface RestScenario {
  readonly kind: "rest";
  readonly name: string;
  readonly description: string;
  readonly targets: readonly TargetName[];
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /**
   * Measurements per target, interleaved (Herald, bare, Herald, bare, …): the machine's speed
   * drifts over seconds, so the round whose Herald ÷ reference ratio is the median stands for both.
   */
  readonly rounds: number;
  /** Herald's environment on top of the bench's own (e.g. a setting the scenario is about). */
  readonly heraldEnv?: Readonly<Record<string, string>>;
  /** The route Herald (target `herald`) publishes through: its GRIP route instead of its usual one. */
  readonly heraldPublish?: "grip";
  /** The target Herald is divided by in the reference column (default: limit, or the bare handler for REST). */
  readonly reference?: TargetName;
  /** `--scenario <partOf>` runs this one too (a scenario measured in two parts). */
  readonly partOf?: string;
  /**
   * `publish`: every target publishes through its fan-out publish path (Herald's GraphQL
   * `publish` mutation, the limit's and Centrifuge's `POST /publish`) instead of a Pusher route.
   */
  readonly route?: "publish";
}

export interface QueueScenario {
  readonly kind: "queue";
  readonly name: string;
  readonly description: string;
  readonly targets: readonly TargetName[];
  readonly queues: number;
  /** Publishes per phase. */
  readonly messages: number;
  readonly publishRate: number;
  readonly pullBatch: number;
  readonly consumers: number;
  readonly heraldEnv?: Readonly<Record<string, string>>;
  /** As the other kinds have them (grip-publish's), never set here. */
  readonly heraldPublish?: undefined;
  readonly reference?: TargetName;
  readonly partOf?: string;
}

export type Scenario = FanoutScenario | RestScenario | QueueScenario;

const FANOUT_TARGETS: readonly TargetName[] = ["herald", "limit", "peer"];
/** Issue 21's scenarios: Centrifuge too. */
const PEER_TARGETS: readonly TargetName[] = [...FANOUT_TARGETS, "centrifuge"];
/** The memory-engine scenarios: the two servers that have one. */
const MEMORY_TARGETS: readonly TargetName[] = ["herald", "centrifuge"];
const REST_TARGETS: readonly TargetName[] = ["herald", "rest-baseline"];

export function scenarios(quick: boolean): Scenario[] {
  const size = <T>(full: T, small: T) => (quick ? small : full);
  /** broadcast's load: one channel, 2,000 subscribers, 300 publishes at 50/s. */
  const broadcastLoad = {
    instances: 1,
    subscribers: size(2_000, 200),
    channels: 1,
    channelsPerPublish: 1,
    messages: size(300, 20),
    publishRate: size(50, 20),
  };
  /** spread's load: 200 channels of 10, each publish naming 10 of them. */
  const spreadLoad = {
    instances: 1,
    subscribers: size(2_000, 200),
    channels: size(200, 20),
    channelsPerPublish: 10,
    messages: size(6_000, 40),
    publishRate: size(1_000, 40),
  };
  /** spread-single's load (issue 21's): 200 channels of 10, each publish naming one. */
  const spreadSingleLoad = { ...spreadLoad, channelsPerPublish: 1, messages: size(10_000, 100), publishRate: size(500, 50) };
  /** idle's shape: one subscription per connection, no publishes. */
  const idleLoad = { instances: 1, subscribers: size(5_000, 500), channels: size(100, 10), channelsPerPublish: 1, messages: 0, publishRate: 0 };
  const onMemory = "; Herald and Centrifuge on their memory engine, no Redis";
  return [
    {
      kind: "fanout",
      name: "broadcast",
      focus: "throughput",
      description: "one channel, every subscriber gets every message",
      targets: PEER_TARGETS,
      ...broadcastLoad,
    },
    {
      kind: "fanout",
      name: "broadcast-memory",
      focus: "throughput",
      description: `broadcast${onMemory}`,
      targets: MEMORY_TARGETS,
      engine: "memory",
      ...broadcastLoad,
    },
    {
      kind: "fanout",
      name: "spread",
      focus: "throughput",
      description: "channels of 10 subscribers each; every publish names 10 channels",
      targets: PEER_TARGETS,
      ...spreadLoad,
    },
    {
      kind: "fanout",
      name: "spread-memory",
      focus: "throughput",
      description: `spread${onMemory}`,
      targets: MEMORY_TARGETS,
      engine: "memory",
      ...spreadLoad,
    },
    {
      kind: "fanout",
      name: "spread-single",
      focus: "throughput",
      description: "channels of 10 subscribers each; every publish names one channel (issue 21's shape)",
      targets: ["herald", "limit", "centrifuge"],
      ...spreadSingleLoad,
    },
    {
      kind: "fanout",
      name: "spread-single-memory",
      focus: "throughput",
      description: `spread-single${onMemory}`,
      targets: MEMORY_TARGETS,
      engine: "memory",
      ...spreadSingleLoad,
    },
    {
      kind: "fanout",
      name: "idle",
      focus: "memory",
      description: "one subscription per connection, no traffic: memory and connect time",
      targets: PEER_TARGETS,
      ...idleLoad,
    },
    {
      kind: "fanout",
      name: "idle-memory",
      focus: "memory",
      description: `idle${onMemory}`,
      targets: MEMORY_TARGETS,
      engine: "memory",
      ...idleLoad,
    },
    {
      kind: "fanout",
      name: "latency",
      focus: "latency",
      description: "one channel at a rate no server saturates at: latency",
      targets: PEER_TARGETS,
      instances: 1,
      subscribers: size(500, 100),
      channels: 1,
      channelsPerPublish: 1,
      messages: size(120, 20),
      publishRate: 20,
    },
    {
      kind: "fanout",
      name: "broadcast-half",
      focus: "latency",
      description:
        "broadcast at half the rate: 100k deliveries/s is the issue's rate for a machine where the limit server does 180k per CPU-second; on the machines this project has run on it does 80–135k",
      targets: ["herald", "limit"],
      instances: 1,
      subscribers: size(2_000, 200),
      channels: 1,
      channelsPerPublish: 1,
      messages: size(150, 20),
      publishRate: size(25, 20),
    },
    {
      kind: "fanout",
      name: "slow-consumer",
      focus: "backpressure",
      description:
        "one channel, 32 KB messages; halfway through, 10 % of the subscribers stop reading: the others' latency before and after, the server's memory, who is dropped (Herald's socket buffer bound set to 1 MiB)",
      targets: ["herald", "limit"],
      instances: 1,
      subscribers: size(200, 50),
      slowSubscribers: size(20, 5),
      channels: 1,
      channelsPerPublish: 1,
      // Either way 200 × 32 KB after the stop: past what the kernel buffers of a socket hold.
      messages: 400,
      publishRate: size(20, 40),
      payloadBytes: 32 * 1024,
      heraldEnv: { HERALD_MAX_SOCKET_BUFFER_BYTES: String(1024 * 1024) },
    },
    {
      kind: "rest",
      name: "rest",
      description: "Pusher-signed POST /apps/:appId/events, closed loop, no subscribers",
      targets: REST_TARGETS,
      concurrency: size(16, 8),
      warmupMs: size(1_000, 300),
      durationMs: size(5_000, 1_500),
      rounds: size(5, 1),
    },
    {
      kind: "rest",
      name: "rest-no-history",
      description: "the rest scenario with Herald's history off (HERALD_HISTORY_SIZE=0: the script call only sets the status and PUBLISHes)",
      targets: REST_TARGETS,
      concurrency: size(16, 8),
      warmupMs: size(1_000, 300),
      durationMs: size(5_000, 1_500),
      rounds: size(5, 1),
      heraldEnv: { HERALD_HISTORY_SIZE: "0" },
    },
    {
      kind: "rest",
      name: "publish-request",
      description:
        "what one publish request costs without subscribers: each server's own publish path (Herald's GraphQL mutation, the limit's and Centrifuge's POST /publish), one request in flight, as the fan-out scenarios' paced publishing mostly has",
      targets: ["herald", "limit", "centrifuge"],
      reference: "limit",
      route: "publish",
      concurrency: 1,
      warmupMs: size(1_000, 300),
      durationMs: size(5_000, 1_500),
      rounds: size(3, 1),
    },
    {
      kind: "fanout",
      name: "grip-publish",
      focus: "throughput",
      description:
        "broadcast published through Herald's GRIP route (one ws-message item per request) vs Herald's own GraphQL publish, each on its own Herald (the limit column)",
      targets: ["herald", "herald-graphql"],
      reference: "herald-graphql",
      heraldPublish: "grip",
      ...broadcastLoad,
    },
    {
      kind: "rest",
      name: "grip-publish-rest",
      partOf: "grip-publish",
      description: "GRIP POST /service/:serviceId/publish/ (one ws-message item) vs the bare handler's Pusher route, closed loop, no subscribers",
      targets: REST_TARGETS,
      heraldPublish: "grip",
      concurrency: size(16, 8),
      warmupMs: size(1_000, 300),
      durationMs: size(5_000, 1_500),
      rounds: size(5, 1),
    },
    {
      kind: "fanout",
      name: "pusher-ws",
      focus: "throughput",
      description: "broadcast with Herald's subscribers on the Pusher protocol (/app/:key, as pusher-js), against the limit server's graphql-ws",
      targets: ["herald", "limit"],
      instances: 1,
      subscribers: size(2_000, 200),
      channels: 1,
      channelsPerPublish: 1,
      messages: size(300, 20),
      publishRate: size(50, 20),
      pusherWs: true,
    },
    {
      kind: "fanout",
      name: "pusher-ws-spread",
      focus: "throughput",
      description: "spread with Herald's subscribers on the Pusher protocol, against the limit server's graphql-ws",
      targets: ["herald", "limit"],
      ...spreadLoad,
      pusherWs: true,
    },
    {
      kind: "fanout",
      name: "two-instances",
      focus: "throughput",
      description: "broadcast with subscribers split over 2 instances on one Redis, publishing to the first",
      targets: FANOUT_TARGETS,
      ...broadcastLoad,
      instances: 2,
    },
    {
      kind: "queue",
      name: "queue",
      description:
        "pull queues: publishes to a channel without queues, then to one with 100 queues (nobody pulling), then consumers pulling it all in batches of 50, then publishing while they pull",
      targets: ["herald"],
      queues: 100,
      messages: size(3_000, 200),
      publishRate: size(1_000, 200),
      pullBatch: 50,
      consumers: 8,
    },
  ];
}

/** Deliveries per second the scenario asks for (what the server is offered). */
export function offeredDeliveryRate(scenario: FanoutScenario): number {
  return scenario.publishRate * scenario.channelsPerPublish * (scenario.subscribers / scenario.channels);
}
