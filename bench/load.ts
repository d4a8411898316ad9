/**
 * The load generator, a process of its own (`run.ts` forks it) so its CPU never counts as the
 * server's. It takes one job over IPC, runs it, sends back one result and exits. It only talks
 * to 127.0.0.1 and stops by itself: every phase has a deadline.
 */
import { Agent, request as httpRequest } from "node:http";
import { Redis } from "ioredis";
import {
  publishTimeLimitMs,
  type CpuFigures,
  type FanoutJob,
  type FanoutResult,
  type GeneratorMessage,
  type LoadJob,
  type QueueJob,
  type QueuePhase,
  type QueueResult,
  type RestJob,
  type RestResult,
  type SubscriberProtocol,
} from "./lib/jobs.ts";
import { createSamples, type Samples } from "./lib/percentiles.ts";
import { machineBusySeconds, processCpuSeconds, processCpuTimes, processRssKb, redisCpuSeconds, sum } from "./lib/proc-stats.ts";
import { createPublisher, sendClosedLoop, sendPaced, type Publisher } from "./lib/publisher.ts";
import { openSubscriber, type DeliverySink, type Subscriber, type SubscriberOptions } from "./lib/ws-subscriber.ts";
import { openPusherSubscriber } from "./lib/pusher-subscriber.ts";
import { openCentrifugeSubscriber } from "./lib/centrifuge-subscriber.ts";

const MAX_NOTES = 8;
const MAX_LATENCY_SAMPLES = 5_000_000;
/** Publish requests in flight at once; past it the publisher waits (see `sendPaced`). */
const MAX_PUBLISHES_IN_FLIGHT = 64;
const PROBE_INTERVAL_MS = 50;

/** The subscriber of each protocol a fan-out job can speak. */
const OPEN_SUBSCRIBER: Record<SubscriberProtocol, (options: SubscriberOptions) => Subscriber> = {
  "graphql-ws": openSubscriber,
  pusher: openPusherSubscriber,
  centrifuge: openCentrifugeSubscriber,
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`, or a "timed out" rejection at `deadline` (a `performance.now()` time). */
function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out")), Math.max(0, deadline - performance.now()));
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error) => (clearTimeout(timer), reject(error)),
    );
  });
}

function report(message: GeneratorMessage, then: () => void = () => {}) {
  process.send?.(message, then);
}
const progress = (text: string) => report({ type: "progress", text });

/** Collects the first few problems; the rest are only counted. */
function createNotes() {
  const seen = new Map<string, number>();
  return {
    add(text: string) {
      if (seen.has(text) || seen.size < MAX_NOTES) seen.set(text, (seen.get(text) ?? 0) + 1);
    },
    list: () => [...seen].map(([text, count]) => (count > 1 ? `${text} (×${count})` : text)),
  };
}

/** Server, Redis, generator and everyone else's CPU over one window: call, then call the result. */
async function startCpuWindow(serverPids: readonly number[], redis: Redis) {
  const serverSystem = () => sum(serverPids.map((pid) => processCpuTimes(pid).system));
  const server = sum(serverPids.map(processCpuSeconds));
  const system = serverSystem();
  const redisCpu = await redisCpuSeconds(redis);
  const generator = process.cpuUsage();
  const machine = machineBusySeconds();
  const startedAt = performance.now();
  return async (): Promise<CpuFigures> => {
    const machineCpuSeconds = machineBusySeconds() - machine;
    const serverCpuSeconds = sum(serverPids.map(processCpuSeconds)) - server;
    const own = process.cpuUsage(generator);
    const generatorCpuSeconds = (own.user + own.system) / 1e6;
    const redisSeconds = (await redisCpuSeconds(redis)) - redisCpu;
    return {
      serverCpuSeconds,
      serverSystemCpuSeconds: serverSystem() - system,
      redisCpuSeconds: redisSeconds,
      generatorCpuSeconds,
      otherCpuSeconds: Math.max(0, machineCpuSeconds - serverCpuSeconds - generatorCpuSeconds - redisSeconds),
      wallSeconds: (performance.now() - startedAt) / 1000,
    };
  };
}

async function runFanout(job: FanoutJob): Promise<FanoutResult> {
  const notes = createNotes();
  const redis = new Redis(job.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const channelNames = Array.from({ length: job.channels }, (_, i) => `${job.channelPrefix}${i}`);

  // Deliveries of the measured phase; probes (seq < 0) only mark their subscriber.
  let measuring = false;
  let received = 0;
  let outOfOrder = 0;
  let lastDeliveryAt = 0;
  let latency: Samples = createSamples(0);
  // With slow subscribers: the others' latency while everyone reads, and after the slow stop.
  const half = Math.floor(job.messages / 2);
  let latencyAllReading: Samples | undefined;
  let latencySlowStopped: Samples | undefined;
  const sink: DeliverySink = {
    delivered(subscriber, seq, sentAt, receivedAt) {
      if (seq < 0) {
        subscriber.sawProbe = true;
        return;
      }
      if (!measuring) return;
      received++;
      lastDeliveryAt = receivedAt;
      latency.add(receivedAt - sentAt);
      if (latencyAllReading) (seq < half ? latencyAllReading : latencySlowStopped!).add(receivedAt - sentAt);
      if (seq <= subscriber.lastSeq) outOfOrder++;
      subscriber.lastSeq = seq;
    },
    problem: notes.add,
  };

  // Connect: `connectConcurrency` sockets opening at once, everything within the deadline.
  const subscribers: Subscriber[] = [];
  const connectTimes = createSamples(job.subscribers);
  const connectDeadline = performance.now() + job.connectTimeoutMs;
  let failed = 0;
  let nextIndex = 0;
  const connect = async (i: number) => {
    // Deal channels round-robin, and each channel's subscribers over every instance.
    const url = job.wsUrls[Math.floor(i / job.channels) % job.wsUrls.length]!;
    const subscriber = OPEN_SUBSCRIBER[job.protocol]({ url, appKey: job.appKey, channel: channelNames[i % job.channels]!, ready: job.ready, sink });
    subscribers.push(subscriber);
    try {
      connectTimes.add(await beforeDeadline(subscriber.live, connectDeadline));
      return true;
    } catch (error) {
      failed++;
      notes.add(`subscriber not live: ${(error as Error).message}`);
      return false;
    }
  };
  const connectWorker = async () => {
    while (nextIndex < job.subscribers && performance.now() < connectDeadline) await connect(nextIndex++);
  };

  // A pilot subscriber first, so that state a server builds lazily on its first subscription
  // (schema caches, pools) is in the RSS baseline rather than in the per-connection figure.
  const connectStartedAt = performance.now();
  const pilotLive = await connect(nextIndex++);
  const rssBeforeKb = sum(job.serverPids.map(processRssKb));
  await Promise.all(Array.from({ length: job.connectConcurrency }, connectWorker));
  failed += job.subscribers - nextIndex;
  const connectTotalMs = performance.now() - connectStartedAt;
  const liveCount = connectTimes.count;
  const measuredConnections = liveCount - (pilotLive ? 1 : 0);
  progress(`${liveCount}/${job.subscribers} subscribers live in ${(connectTotalMs / 1000).toFixed(1)} s`);

  await sleep(job.settleMs);
  const rssAfterKb = sum(job.serverPids.map(processRssKb));
  const base = {
    kind: "fanout" as const,
    connect: { perSubscriberMs: connectTimes.summarize(), totalMs: connectTotalMs, failed },
    memory: { rssBeforeKb, rssAfterKb, perConnectionKb: measuredConnections > 0 ? (rssAfterKb - rssBeforeKb) / measuredConnections : NaN },
  };
  if (job.messages === 0 || liveCount === 0) {
    for (const subscriber of subscribers) subscriber.close();
    redis.disconnect();
    return { ...base, notes: notes.list() };
  }

  const publisher = createPublisher(job.publish, { maxSockets: MAX_PUBLISHES_IN_FLIGHT, payloadBytes: job.payloadBytes, onProblem: notes.add });
  const publishTargets = (i: number) => {
    const first = (i * job.channelsPerPublish) % job.channels;
    return Array.from({ length: job.channelsPerPublish }, (_, k) => channelNames[(first + k) % job.channels]!);
  };
  const live = await settledSubscribers(subscribers);
  await warmUp(job, publisher, live, channelNames, notes);

  // Slow subscribers (spread over the list, so over the channels): they stop reading halfway
  // and never count; what is expected is what the others should receive.
  const slow = job.slowSubscribers > 0 ? pickEvenly(live, job.slowSubscribers) : [];
  const slowSet = new Set(slow);
  const reading = live.filter((s) => !slowSet.has(s));

  // Measure: deliveries expected are counted per accepted publish.
  const liveOnChannel = new Map<string, number>();
  for (const subscriber of reading) liveOnChannel.set(subscriber.channel, (liveOnChannel.get(subscriber.channel) ?? 0) + 1);
  const sampleCapacity = Math.min(MAX_LATENCY_SAMPLES, job.messages * job.channelsPerPublish * Math.ceil(job.subscribers / job.channels));
  latency = createSamples(sampleCapacity);
  if (slow.length > 0) {
    latencyAllReading = createSamples(sampleCapacity);
    latencySlowStopped = createSamples(sampleCapacity);
  }
  const rss = slow.length > 0 ? sampleRss(job.serverPids) : undefined;
  let expected = 0;
  let published = 0;
  let publishErrors = 0;
  measuring = true;
  const stopCpu = await startCpuWindow(job.serverPids, redis);
  const startedAt = performance.now();
  const { elapsedMs: publishMs, sent } = await sendPaced({
    count: job.messages,
    ratePerSecond: job.publishRate,
    maxInFlight: MAX_PUBLISHES_IN_FLIGHT,
    maxDurationMs: publishTimeLimitMs(job),
    async send(i) {
      if (i === half) for (const subscriber of slow) subscriber.stopReading();
      const channels = publishTargets(i);
      const { ok } = await publisher.publish(channels, i);
      if (!ok) return publishErrors++;
      published++;
      for (const channel of channels) expected += liveOnChannel.get(channel) ?? 0;
    },
  });
  if (sent < job.messages) notes.add(`publishing stopped after ${sent} of ${job.messages} messages (time limit)`);
  progress(`published ${published} in ${(publishMs / 1000).toFixed(1)} s; draining`);

  // Drain: until everything arrived, nothing arrived for a while, or the deadline.
  const drainDeadline = performance.now() + job.drainTimeoutMs;
  lastDeliveryAt = Math.max(lastDeliveryAt, performance.now());
  while (received < expected && performance.now() < drainDeadline && performance.now() - lastDeliveryAt < job.stallTimeoutMs) {
    await sleep(20);
  }
  const cpu = await stopCpu();
  measuring = false;
  const deliverySeconds = (lastDeliveryAt - startedAt) / 1000;
  const backpressure = rss && {
    slowSubscribers: slow.length,
    ...(await slowOutcome(slow)),
    ...rss.stop(),
    latencyAllReadingMs: latencyAllReading!.summarize(),
    latencySlowStoppedMs: latencySlowStopped!.summarize(),
  };

  for (const subscriber of subscribers) subscriber.close();
  publisher.close();
  redis.disconnect();
  return {
    ...base,
    delivery: {
      published,
      publishErrors,
      achievedPublishRate: (published + publishErrors) / (publishMs / 1000),
      expected,
      received,
      lost: Math.max(0, expected - received),
      outOfOrder,
      deliveriesPerSecond: received / deliverySeconds,
      deliveriesPerCpuSecond: received / cpu.serverCpuSeconds,
      latencyMs: latency.summarize(),
      cpu,
      ...(backpressure ? { backpressure } : {}),
    },
    notes: notes.list(),
  };
}

/** `count` of `list`, spread evenly over it. */
function pickEvenly<T>(list: readonly T[], count: number): T[] {
  const step = list.length / Math.min(count, list.length);
  return Array.from({ length: Math.min(count, list.length) }, (_, k) => list[Math.floor(k * step)]!);
}

/** Server RSS now and its highest value, sampled every 100 ms until `stop`. */
function sampleRss(pids: readonly number[]) {
  const read = () => sum(pids.map(processRssKb));
  const rssStartKb = read();
  let rssPeakKb = rssStartKb;
  const timer = setInterval(() => (rssPeakKb = Math.max(rssPeakKb, read())), 100);
  return {
    stop() {
      clearInterval(timer);
      return { rssStartKb, rssPeakKb: Math.max(rssPeakKb, read()) };
    },
  };
}

/**
 * Lets the slow subscribers read again and waits (at most 5 s) for the server's close of those
 * it dropped: a dropped socket reads its backlog, then the close frame.
 */
async function slowOutcome(slow: readonly Subscriber[]): Promise<{ dropped: number; closeCodes: Record<string, number> }> {
  for (const subscriber of slow) subscriber.resumeReading();
  const codes = await Promise.all(slow.map((subscriber) => Promise.race([subscriber.closed, sleep(5_000).then(() => undefined)])));
  const closeCodes: Record<string, number> = {};
  for (const code of codes) if (code !== undefined) closeCodes[code] = (closeCodes[code] ?? 0) + 1;
  return { dropped: codes.filter((code) => code !== undefined).length, closeCodes };
}

/** The subscribers whose `live` resolved (the connect phase already waited for all of them). */
async function settledSubscribers(subscribers: Subscriber[]): Promise<Subscriber[]> {
  const outcomes = await Promise.allSettled(subscribers.map((s) => s.live));
  return subscribers.filter((_, i) => outcomes[i]!.status === "fulfilled");
}

/**
 * Publishes probe rounds (every channel once, seq < 0) until every live subscriber has seen a
 * probe and at least `warmupMessages` rounds went out, then waits for the stragglers. For the
 * peer this is how we know its subscriptions are live; for all it warms up the JIT and pools.
 */
async function warmUp(
  job: FanoutJob,
  publisher: Publisher,
  live: Subscriber[],
  channelNames: string[],
  notes: ReturnType<typeof createNotes>,
) {
  const deadline = performance.now() + job.connectTimeoutMs;
  let round = 0;
  const groups: string[][] = [];
  for (let i = 0; i < channelNames.length; i += job.channelsPerPublish) groups.push(channelNames.slice(i, i + job.channelsPerPublish));
  while (performance.now() < deadline) {
    round++;
    await Promise.all(groups.map((channels) => publisher.publish(channels, -round)));
    if (round >= job.warmupMessages && live.every((s) => s.sawProbe)) break;
    await sleep(PROBE_INTERVAL_MS);
  }
  const unseen = live.filter((s) => !s.sawProbe).length;
  if (unseen > 0) notes.add(`${unseen} subscribers never received a warm-up probe`);
  await sleep(Math.min(job.settleMs, 500)); // let the last probes drain before measuring
}

async function runRest(job: RestJob): Promise<RestResult> {
  const notes = createNotes();
  const redis = new Redis(job.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const publisher = createPublisher(job.publish, { maxSockets: job.concurrency, onProblem: notes.add });
  let seq = 0;
  await sendClosedLoop({ concurrency: job.concurrency, durationMs: job.warmupMs, send: () => publisher.publish([job.channel], seq++) });

  const latency = createSamples(1_000_000);
  const failures: Record<string, number> = {};
  let requests = 0;
  let ok = 0;
  const stopCpu = await startCpuWindow(job.serverPids, redis);
  await sendClosedLoop({
    concurrency: job.concurrency,
    durationMs: job.durationMs,
    async send() {
      const sentAt = performance.now();
      const outcome = await publisher.publish([job.channel], seq++);
      latency.add(performance.now() - sentAt);
      requests++;
      if (outcome.ok) ok++;
      else failures[outcome.status] = (failures[outcome.status] ?? 0) + 1;
    },
  });
  const cpu = await stopCpu();
  publisher.close();
  redis.disconnect();
  return {
    kind: "rest",
    requests,
    ok,
    failures,
    requestsPerSecond: ok / cpu.wallSeconds,
    requestsPerCpuSecond: ok / cpu.serverCpuSeconds,
    latencyMs: latency.summarize(),
    cpu,
    notes: notes.list(),
  };
}

/**
 * The queue scenario, on one Herald: (1) `messages` publishes at `publishRate` to a channel
 * without queues; (2) as many to a channel with `queues` pull queues, nobody pulling (Redis
 * memory per queued message from `used_memory`); (3) `consumers` loops pulling every queue in
 * batches of `pullBatch` until all are empty; (4) publishing again while they pull, then
 * pulling what is left. Every phase gets its own CPU window; every queue must yield every
 * publish of phases 2 and 4 exactly once.
 */
async function runQueue(job: QueueJob): Promise<QueueResult> {
  const notes = createNotes();
  const redis = new Redis(job.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const publisher = createPublisher(job.publish, { maxSockets: MAX_PUBLISHES_IN_FLIGHT, onProblem: notes.add });
  const agent = new Agent({ keepAlive: true, maxSockets: job.consumers + 4 });
  const graphql = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const body = JSON.stringify({ query, variables });
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const url = new URL(job.graphqlUrl);
      const req = httpRequest(
        { agent, method: "POST", host: url.hostname, port: url.port, path: url.pathname, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${job.secret}` } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    const parsed = JSON.parse(text) as { data?: T; errors?: { message: string }[] };
    if (status !== 200 || parsed.errors) throw new Error(`GraphQL ${status}: ${text.slice(0, 200)}`);
    return parsed.data!;
  };
  let seq = 0;
  const publishPhase = async (channel: string) => {
    let ok = 0;
    const first = seq;
    await sendPaced({
      count: job.messages,
      ratePerSecond: job.publishRate,
      maxInFlight: MAX_PUBLISHES_IN_FLIGHT,
      maxDurationMs: publishTimeLimitMs(job),
      send: async () => {
        if ((await publisher.publish([channel], seq++)).ok) ok++;
      },
    });
    return { ok, seqs: [first, seq] as const };
  };
  const phase = (count: number, cpu: CpuFigures): QueuePhase => ({
    count,
    perSecond: count / cpu.wallSeconds,
    serverCpuMicros: (cpu.serverCpuSeconds / count) * 1e6,
    redisCpuMicros: (cpu.redisCpuSeconds / count) * 1e6,
    cpu,
  });

  // Warm-up, not counted: the server's first requests build its caches.
  for (let i = 0; i < 20; i++) await publisher.publish([`${job.channel}-plain`], seq++);

  progress("plain publishes");
  let stopCpu = await startCpuWindow(job.serverPids, redis);
  const plain = await publishPhase(`${job.channel}-plain`);
  const plainPhase = phase(plain.ok, await stopCpu());

  const keys: string[] = [];
  for (let i = 0; i < job.queues; i++) {
    const { createQueue } = await graphql<{ createQueue: { key: string } }>(`mutation($c: String!) { createQueue(channel: $c) { key } }`, { c: job.channel });
    keys.push(createQueue.key);
  }
  /** Per queue, the seqs pulled (to find losses and duplicates). */
  const pulled = keys.map(() => new Map<number, number>());
  let pullRequests = 0;
  const PULL = `mutation($k: ID!, $m: Int) { pull(key: $k, max: $m) { data } }`;
  /** `consumers` loops over the queues, each pull one batch; stops when `until()` and a full round came back empty. */
  const consume = async (until: () => boolean, deadline: number) => {
    let next = 0;
    let emptyStreak = 0;
    let messages = 0;
    await Promise.all(
      Array.from({ length: job.consumers }, async () => {
        while (performance.now() < deadline) {
          const index = next++ % keys.length;
          const { pull } = await graphql<{ pull: { data: { seq: number } }[] }>(PULL, { k: keys[index], m: job.pullBatch });
          pullRequests++;
          messages += pull.length;
          for (const { data } of pull) pulled[index]!.set(data.seq, (pulled[index]!.get(data.seq) ?? 0) + 1);
          emptyStreak = pull.length === 0 ? emptyStreak + 1 : 0;
          if (until() && emptyStreak >= keys.length) return;
        }
        notes.add("pulling did not finish before its deadline");
      }),
    );
    return messages;
  };

  progress(`publishes into ${job.queues} queues, nobody pulling`);
  const memoryBefore = await usedMemory(redis);
  stopCpu = await startCpuWindow(job.serverPids, redis);
  const queued = await publishPhase(job.channel);
  const queuedPhase = phase(queued.ok, await stopCpu());
  const memoryAfter = await usedMemory(redis);

  progress(`pulling ${queued.ok * job.queues} queued messages in batches of ${job.pullBatch}`);
  stopCpu = await startCpuWindow(job.serverPids, redis);
  const drained = await consume(() => true, performance.now() + job.drainTimeoutMs);
  const drainPhase = phase(drained, await stopCpu());

  progress("publishing while consumers pull");
  let publishing = true;
  stopCpu = await startCpuWindow(job.serverPids, redis);
  const consumers = consume(() => !publishing, performance.now() + publishTimeLimitMs(job) + job.drainTimeoutMs);
  const steady = await publishPhase(job.channel).finally(() => (publishing = false));
  await consumers;
  const steadyPhase = phase(steady.ok, await stopCpu());

  // Every accepted publish of the queued and steady phases, in every queue, once.
  let lost = 0;
  let duplicates = 0;
  const expected = [queued.seqs, steady.seqs];
  for (const seen of pulled) {
    for (const [from, to] of expected) for (let n = from; n < to; n++) if (!seen.has(n)) lost++;
    for (const count of seen.values()) duplicates += count - 1;
  }
  // A publish that failed is not expected anywhere: do not count it as lost.
  lost -= (job.messages - queued.ok + job.messages - steady.ok) * job.queues;
  for (const key of keys) await graphql(`mutation($k: ID!) { deleteQueue(key: $k) }`, { k: key }).catch(() => {});
  publisher.close();
  agent.destroy();
  redis.disconnect();
  return {
    kind: "queue",
    queues: job.queues,
    plain: plainPhase,
    queued: queuedPhase,
    drain: drainPhase,
    steady: steadyPhase,
    pullRequests,
    redisBytesPerQueuedMessage: (memoryAfter - memoryBefore) / Math.max(1, queued.ok * job.queues),
    lost,
    duplicates,
    notes: notes.list(),
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info("memory"))?.[1] ?? Number.NaN);
}

// The runner dying (IPC gone) ends the generator too.
process.on("disconnect", () => process.exit(0));
process.once("message", (job: LoadJob) => {
  const run = job.kind === "fanout" ? runFanout(job) : job.kind === "queue" ? runQueue(job) : runRest(job);
  const exit = () => process.exit(0);
  run.then(
    (result) => report({ type: "result", result }, exit),
    (error) => report({ type: "failed", error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, exit),
  );
});
