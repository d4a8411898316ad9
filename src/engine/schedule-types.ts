/**
 * The schedule store: delayed and repeating publications, kept by the engine so they survive
 * restarts and fire once however many Herald instances share the store. Two implementations sit
 * side by side — `memory-schedules.ts` and `redis-schedules.ts` — and one contract test suite
 * (`test/schedule-store-contract.test.ts`) runs against both.
 *
 * Guarantees every store gives:
 * - Durable: a schedule stays until its last run was claimed or it was cancelled; with Redis that
 *   means across the restart of every instance.
 * - Exactly-once claim: `claimDue` moves a due run atomically (the schedule advances to its next
 *   run, or leaves the due set after its last), so every due run is returned by exactly one
 *   `claimDue` call, across any number of concurrent callers and instances. A claimed run is
 *   never handed out again, even if its claimer dies before publishing (at most once).
 * - Cancel vs claim: both are atomic on the same schedule, so exactly one wins. A run claimed
 *   before `cancel` still publishes (and is counted by `recordRun`); after a successful `cancel`
 *   no further run is ever claimed.
 * - Catch-up: runs missed while nobody claimed (every instance down) collapse into one run,
 *   claimed as soon as someone looks; the next run is the first one of the original cadence
 *   (`publishAt + k * repeatEvery`) that is later than the claim time.
 * - Isolation: an app sees only its own schedules; `activeCount` counts those not finished or
 *   cancelled.
 * - Finished (published, failed, cancelled) records are kept `retainSeconds` for status queries,
 *   then dropped.
 */

/** What a schedule publishes on each run: a publish input that passed every rule. */
export interface ScheduledPublish {
  readonly channels: readonly string[];
  readonly event: string;
  /** Any JSON value; stored as JSON, so a string stays a string. */
  readonly data: unknown;
  readonly headers: Readonly<Record<string, string>>;
  readonly publisherId?: string | undefined;
  readonly priority?: number | undefined;
  readonly mimeType?: string | undefined;
  /** Each run's message expires this many seconds after that run. */
  readonly expiresIn?: number | undefined;
  /** Every run's message expires then (ms since the epoch); a run after it fails the schedule. */
  readonly expiresAt?: number | undefined;
}

export interface NewSchedule {
  /** The message id, unique per app; every run publishes with it. */
  readonly id: string;
  readonly message: ScheduledPublish;
  /** First run, in ms since the epoch. */
  readonly publishAt: number;
  /** Milliseconds between runs; absent for a one-shot schedule. */
  readonly repeatEveryMs?: number | undefined;
  /** No run is due after this (ms since the epoch); only with `repeatEveryMs`. */
  readonly repeatExpiresAt?: number | undefined;
}

export type ScheduleStatus = "SCHEDULED" | "PUBLISHED" | "FAILED" | "CANCELLED";

export interface ScheduleRecord extends NewSchedule {
  /**
   * SCHEDULED while runs remain (also while the last one is being published); PUBLISHED after
   * the last run; FAILED when a run could not be published and the schedule stopped; CANCELLED.
   */
  readonly status: ScheduleStatus;
  /** Runs published so far. */
  readonly runs: number;
  /** The due time of the next run (ms); absent once no run remains. */
  readonly nextRunAt?: number | undefined;
  /** Server time of the first and the latest publish (ms). */
  readonly firstPublishedAt?: number | undefined;
  readonly lastPublishedAt?: number | undefined;
  /** Why the latest run failed, if it did. */
  readonly errorMessage?: string | undefined;
}

/** A run handed to exactly one claimer, which must publish it and then call `recordRun`. */
export interface ClaimedRun {
  readonly appId: string;
  readonly id: string;
  readonly message: ScheduledPublish;
  /** When the run was due (ms); earlier than the claim time after downtime (catch-up). */
  readonly dueAt: number;
  /** True when no run follows this one. */
  readonly last: boolean;
}

export type AddResult = "added" | "exists" | "limit";

/** How a claimed run ended, as its claimer reports it. */
export type RunOutcome =
  | { readonly ok: true; readonly publishedAt: number }
  /** `stop`: the schedule cannot publish any more (e.g. its input no longer passes the limits). */
  | { readonly ok: false; readonly errorMessage: string; readonly stop: boolean };

export interface ScheduleStore {
  /**
   * Stores a schedule, atomically checking the app's active count against `maxActive`. Returns
   * `exists` (and changes nothing) when the app has a record with this id, active or retained.
   */
  add(appId: string, schedule: NewSchedule, maxActive: number): Promise<AddResult>;

  get(appId: string, id: string): Promise<ScheduleRecord | undefined>;

  /**
   * Cancels an active schedule: no run is claimed after this resolves. Returns the record as it
   * is after the call and whether this call cancelled it (`false`: unknown id, already cancelled,
   * or finished — including a last run already claimed).
   */
  cancel(appId: string, id: string, retainSeconds: number): Promise<{ cancelled: boolean; record: ScheduleRecord | undefined }>;

  /** Claims at most `limit` runs of `appId` due at or before `now` (ms), earliest first. */
  claimDue(appId: string, now: number, limit: number, retainSeconds: number): Promise<ClaimedRun[]>;

  /**
   * Records how a claimed run ended: counts a publish, or notes the error. A last run's record
   * turns PUBLISHED or FAILED; `stop` ends an active schedule as FAILED. A CANCELLED record stays
   * CANCELLED (the run was claimed before the cancel won), but still counts the publish.
   */
  recordRun(appId: string, id: string, outcome: RunOutcome, retainSeconds: number): Promise<void>;

  /** Schedules of the app that are neither finished nor cancelled. */
  activeCount(appId: string): Promise<number>;
}
