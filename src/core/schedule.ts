import type { App, ScheduleConfig } from "../config.ts";
import type { ClaimedRun, NewSchedule, RunOutcome, ScheduleRecord, ScheduleStore } from "../engine/schedule-types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import type { Publisher } from "./publish.ts";
import type { MessageStatus, PublishInput } from "./types.ts";
import { validateMessageId } from "./validation.ts";

/**
 * Scheduled and repeating publish: rules for a new schedule, the status of a scheduled message,
 * and the runner that publishes due runs.
 *
 * Semantics (also in the README):
 * - A schedule publishes its message at `publishAt`, then every `repeatEvery` seconds on that
 *   cadence (`publishAt + k * repeatEvery`) while the run is not after `repeatExpiresAt`. Every
 *   run publishes with the schedule's message id.
 * - Every instance runs the runner; the store's atomic claim makes each run fire once.
 * - Runs missed while no instance was up (or while the app was disabled) collapse into one
 *   catch-up publish as soon as an instance looks, then the normal cadence resumes.
 * - A run whose claimer dies before publishing it is lost (at most once, never twice).
 */

/** A publish input plus when to publish it, as every surface hands it to the core (unvalidated). */
export interface ScheduleInput extends Omit<PublishInput, "excludeSocketId" | "info"> {
  /** First run. Absent means now, which only a repeating schedule may ask for. */
  readonly publishAt?: Date | null | undefined;
  /** Seconds between runs; absent for a one-shot schedule. */
  readonly repeatEvery?: number | null | undefined;
  /** No run after this time; needs `repeatEvery`. */
  readonly repeatExpiresAt?: Date | null | undefined;
}

export interface ValidSchedule {
  readonly publishAt: number;
  readonly repeatEveryMs: number | undefined;
  readonly repeatExpiresAt: number | undefined;
}

/** Largest `repeatEvery` (seconds): GraphQL's Int, about 68 years. */
const MAX_REPEAT_SECONDS = 2_147_483_647;

const isTime = (value: unknown): value is Date => value instanceof Date && !Number.isNaN(value.getTime());

/** Checks the timing fields of a schedule; throws the `HeraldError` naming what is wrong. */
export function validateScheduleTiming(input: ScheduleInput, config: Pick<ScheduleConfig, "minRepeatSeconds">, now: number): ValidSchedule {
  const { publishAt, repeatEvery, repeatExpiresAt } = input;
  let repeatEveryMs: number | undefined;
  if (repeatEvery != null) {
    if (typeof repeatEvery !== "number" || !Number.isInteger(repeatEvery) || repeatEvery < config.minRepeatSeconds || repeatEvery > MAX_REPEAT_SECONDS) {
      throw new HeraldError(
        ErrorCode.InvalidRepeatEvery,
        `repeatEvery must be a whole number of seconds from ${config.minRepeatSeconds} to ${MAX_REPEAT_SECONDS}, got ${JSON.stringify(repeatEvery)}`,
        { minimum: config.minRepeatSeconds },
      );
    }
    repeatEveryMs = repeatEvery * 1000;
  }
  let start = now;
  if (publishAt != null) {
    if (!isTime(publishAt)) throw new HeraldError(ErrorCode.InvalidPublishAt, "publishAt is not a valid time");
    if (publishAt.getTime() < now) {
      throw new HeraldError(ErrorCode.InvalidPublishAt, `publishAt ${publishAt.toISOString()} is in the past (server time ${new Date(now).toISOString()})`);
    }
    start = publishAt.getTime();
  } else if (repeatEveryMs === undefined) {
    throw new HeraldError(ErrorCode.InvalidPublishAt, "publishAt is required unless the message repeats");
  }
  let expiresAt: number | undefined;
  if (repeatExpiresAt != null) {
    if (!isTime(repeatExpiresAt)) throw new HeraldError(ErrorCode.InvalidRepeatExpiresAt, "repeatExpiresAt is not a valid time");
    if (repeatEveryMs === undefined) throw new HeraldError(ErrorCode.InvalidRepeatExpiresAt, "repeatExpiresAt needs repeatEvery");
    if (repeatExpiresAt.getTime() < start) {
      throw new HeraldError(
        ErrorCode.InvalidRepeatExpiresAt,
        `repeatExpiresAt ${repeatExpiresAt.toISOString()} is before publishAt ${new Date(start).toISOString()}`,
      );
    }
    expiresAt = repeatExpiresAt.getTime();
  }
  return { publishAt: start, repeatEveryMs, repeatExpiresAt: expiresAt };
}

/** A schedule record as the `MessageStatus` every surface shows. */
export function statusOfSchedule(record: ScheduleRecord): MessageStatus {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  return {
    id: record.id,
    status: record.status,
    channels: record.message.channels,
    publishedAt: iso(record.firstPublishedAt),
    runs: record.runs,
    lastPublishedAt: iso(record.lastPublishedAt),
    nextRunAt: iso(record.nextRunAt),
    errorMessage: record.errorMessage,
    repeatEvery: record.repeatEveryMs === undefined ? undefined : record.repeatEveryMs / 1000,
    repeatExpiresAt: iso(record.repeatExpiresAt),
  };
}

export interface SchedulerDeps {
  store: ScheduleStore;
  publisher: Publisher;
  config: ScheduleConfig;
  /** Limits for message ids (the rest of the input is checked by `publisher.prepare`). */
  limits: Parameters<typeof validateMessageId>[1];
  /** How long a finished or cancelled schedule's status stays readable. */
  retainSeconds: number;
  now: () => Date;
}

export interface Scheduler {
  /** Validates and stores a schedule. An id the app already scheduled returns that schedule's status. */
  schedule(app: App, input: ScheduleInput): Promise<MessageStatus>;
  /** Cancels an active schedule; `NOT_FOUND` when there is none to cancel (unknown, cancelled, finished). */
  cancel(app: App, id: string): Promise<MessageStatus>;
  /** The status of a scheduled message, or undefined when the id is no schedule's. */
  status(app: App, id: string): Promise<MessageStatus | undefined>;
}

export function createScheduler({ store, publisher, config, limits, retainSeconds, now }: SchedulerDeps): Scheduler {
  async function schedule(app: App, input: ScheduleInput): Promise<MessageStatus> {
    const { publishAt: _publishAt, repeatEvery: _repeatEvery, repeatExpiresAt: _repeatExpiresAt, ...publish } = input;
    const event = publisher.prepare(publish, {});
    const timing = validateScheduleTiming(input, config, now().getTime());
    const { id, channels, data, headers, publisherId, priority, mimeType, expiry } = event;
    const message = { channels, event: event.event, data, headers, publisherId, priority, mimeType, ...expiry };
    const created: NewSchedule = { id, message, ...timing };
    switch (await store.add(app.id, created, config.maxPerApp)) {
      case "added":
        return statusOfSchedule({ ...created, status: "SCHEDULED", runs: 0, nextRunAt: created.publishAt });
      case "exists": {
        const existing = await store.get(app.id, id);
        // Gone between the two calls (its retention ended): the id is free again.
        return existing ? statusOfSchedule(existing) : schedule(app, input);
      }
      case "limit":
        throw new HeraldError(
          ErrorCode.TooManySchedules,
          `App ${app.id} has ${config.maxPerApp} active schedules, the most it may have; cancel one or wait for one to finish`,
          { limit: config.maxPerApp },
        );
    }
  }

  return {
    schedule,

    async cancel(app, id) {
      const { cancelled, record } = await store.cancel(app.id, validateMessageId(id, limits), retainSeconds);
      if (cancelled) return statusOfSchedule(record!);
      const why =
        record === undefined
          ? "no scheduled message has this id"
          : record.status === "CANCELLED"
            ? "it is already cancelled"
            : record.status === "SCHEDULED"
              ? "its last run is being published"
              : `it has finished (${record.status})`;
      throw new HeraldError(ErrorCode.NotFound, `Cannot cancel message ${id}: ${why}`, record ? { status: record.status } : {});
    },

    async status(app, id) {
      const record = await store.get(app.id, id);
      return record && statusOfSchedule(record);
    },
  };
}

export interface ScheduleRunnerDeps {
  store: ScheduleStore;
  publisher: Publisher;
  /** The apps whose schedules run (disabled ones are skipped: their runs wait, then catch up). */
  apps: readonly App[];
  config: Pick<ScheduleConfig, "pollMs" | "claimBatchSize">;
  retainSeconds: number;
  now: () => Date;
  /** Failures of the loop itself (e.g. the engine is unreachable); it keeps polling. */
  onError: (error: unknown) => void;
}

export interface ScheduleRunner {
  start(): void;
  /** Stops polling and resolves once the runs in flight are published and recorded. */
  close(): Promise<void>;
}

/**
 * Polls every `pollMs` (the next look starts `pollMs` after the previous one ended), claims the
 * due runs of every enabled app and publishes them. A run fires at most about `pollMs` plus one
 * claim round trip after its due time.
 */
export function createScheduleRunner({ store, publisher, apps, config, retainSeconds, now, onError }: ScheduleRunnerDeps): ScheduleRunner {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  let stopped = false;

  async function runOnce(app: App, run: ClaimedRun): Promise<void> {
    let outcome: RunOutcome;
    try {
      const { expiresAt, ...message } = run.message;
      const event = publisher.prepare({ ...message, id: run.id, expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt) }, {});
      const [result] = await publisher.deliver(app, [event], { recordStatus: false });
      outcome = { ok: true, publishedAt: Date.parse(result!.publishedAt) };
    } catch (error) {
      // A rule that no longer passes (limits lowered since it was scheduled) will not pass next
      // time either; an engine failure might.
      const transient = !(error instanceof HeraldError) || error.code === ErrorCode.EngineUnavailable || error.code === ErrorCode.ShuttingDown;
      if (!(error instanceof HeraldError)) onError(error);
      outcome = { ok: false, errorMessage: error instanceof Error ? error.message : String(error), stop: !transient };
    }
    await store.recordRun(app.id, run.id, outcome, retainSeconds);
  }

  async function runDue(app: App): Promise<void> {
    let claimed: ClaimedRun[];
    do {
      claimed = await store.claimDue(app.id, now().getTime(), config.claimBatchSize, retainSeconds);
      await Promise.all(claimed.map((run) => runOnce(app, run).catch(onError)));
    } while (claimed.length === config.claimBatchSize && !stopped);
  }

  /** While the engine is unreachable every look fails: report the first failure of a streak only. */
  let failing = false;
  async function look(): Promise<void> {
    const looked = await Promise.all(
      apps
        .filter((app) => app.enabled)
        .map((app) =>
          runDue(app).then(
            () => true,
            (error: unknown) => {
              if (!failing) onError(error);
              return false;
            },
          ),
        ),
    );
    failing = !looked.every(Boolean);
  }

  /** The next look starts `pollMs` after this one ended, so looks never overlap. */
  function lookLater() {
    if (stopped) return;
    timer = setTimeout(() => {
      current = look().then(lookLater);
    }, config.pollMs);
    timer.unref();
  }

  return {
    start() {
      if (timer === undefined && !stopped) lookLater();
    },
    async close() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
