import type { ClaimedRun, ScheduleRecord, ScheduleStore } from "./schedule-types.ts";

/**
 * The embedded schedule store: one process's memory. Every method runs to completion without
 * awaiting, so each is atomic with respect to the others — which is all the contract asks of a
 * single instance. Not durable across restarts (nothing in the memory engine is).
 */
export function createMemorySchedules(options: { now?: () => number } = {}): ScheduleStore {
  const { now = Date.now } = options;
  /** appId → id → record, with the time a finished record is dropped. */
  const apps = new Map<string, Map<string, { record: ScheduleRecord; expiresAt?: number }>>();

  function recordsOf(appId: string) {
    let records = apps.get(appId);
    if (!records) apps.set(appId, (records = new Map()));
    return records;
  }

  /** The live entry, dropping it once its retention passed. */
  function entryOf(appId: string, id: string) {
    const records = apps.get(appId);
    const entry = records?.get(id);
    if (entry && expired(entry)) {
      records!.delete(id);
      return undefined;
    }
    return entry;
  }

  const isActive = (record: ScheduleRecord) => record.nextRunAt !== undefined;
  const retain = (retainSeconds: number) => now() + retainSeconds * 1000;
  const expired = (entry: { expiresAt?: number | undefined }) => entry.expiresAt !== undefined && entry.expiresAt <= now();
  function countActive(appId: string): number {
    let active = 0;
    for (const { record } of apps.get(appId)?.values() ?? []) if (isActive(record)) active++;
    return active;
  }

  return {
    async add(appId, schedule, maxActive) {
      if (entryOf(appId, schedule.id)) return "exists";
      if (countActive(appId) >= maxActive) return "limit";
      recordsOf(appId).set(schedule.id, { record: { ...schedule, status: "SCHEDULED", runs: 0, nextRunAt: schedule.publishAt } });
      return "added";
    },

    async get(appId, id) {
      return entryOf(appId, id)?.record;
    },

    async cancel(appId, id, retainSeconds) {
      const entry = entryOf(appId, id);
      if (!entry || !isActive(entry.record)) return { cancelled: false, record: entry?.record };
      entry.record = { ...entry.record, status: "CANCELLED", nextRunAt: undefined };
      entry.expiresAt = retain(retainSeconds);
      return { cancelled: true, record: entry.record };
    },

    async claimDue(appId, at, limit, retainSeconds) {
      const due: { id: string; entry: { record: ScheduleRecord; expiresAt?: number } }[] = [];
      const records = apps.get(appId) ?? new Map();
      for (const [id, entry] of records) {
        if (expired(entry)) records.delete(id); // retention over
        else if (entry.record.nextRunAt !== undefined && entry.record.nextRunAt <= at) due.push({ id, entry });
      }
      due.sort((a, b) => a.entry.record.nextRunAt! - b.entry.record.nextRunAt!);
      return due.slice(0, limit).map(({ id, entry }): ClaimedRun => {
        const { record } = entry;
        const dueAt = record.nextRunAt!;
        const nextRunAt = nextRunAfter(record, dueAt, at);
        entry.record = { ...record, nextRunAt };
        // A last run's claimer may die before recording it: let the record expire regardless.
        if (nextRunAt === undefined) entry.expiresAt = retain(retainSeconds);
        return { appId, id, message: record.message, dueAt, last: nextRunAt === undefined };
      });
    },

    async recordRun(appId, id, outcome, retainSeconds) {
      const entry = entryOf(appId, id);
      if (!entry) return;
      const record = entry.record;
      if (outcome.ok) {
        const last = record.status === "SCHEDULED" && !isActive(record);
        entry.record = {
          ...record,
          runs: record.runs + 1,
          firstPublishedAt: record.firstPublishedAt ?? outcome.publishedAt,
          lastPublishedAt: outcome.publishedAt,
          ...(last ? { status: "PUBLISHED" as const } : {}),
        };
        return;
      }
      const ends = record.status === "SCHEDULED" && (outcome.stop || !isActive(record));
      entry.record = {
        ...record,
        errorMessage: outcome.errorMessage,
        ...(ends ? { status: "FAILED" as const, nextRunAt: undefined } : {}),
      };
      if (ends) entry.expiresAt = retain(retainSeconds);
    },

    async activeCount(appId) {
      return countActive(appId);
    },
  };
}

/**
 * The run after the one due at `dueAt`, claimed at `now`: the first of the cadence
 * `dueAt + k * repeatEvery` later than `now` (missed runs collapse into the one being claimed),
 * or undefined when the schedule does not repeat or that run would come after `repeatExpiresAt`.
 * `redis-schedules.ts` computes the same in Lua.
 */
export function nextRunAfter(schedule: Pick<ScheduleRecord, "repeatEveryMs" | "repeatExpiresAt">, dueAt: number, now: number): number | undefined {
  const every = schedule.repeatEveryMs;
  if (every === undefined || every <= 0) return undefined;
  const next = dueAt + (Math.floor(Math.max(0, now - dueAt) / every) + 1) * every;
  return schedule.repeatExpiresAt !== undefined && next > schedule.repeatExpiresAt ? undefined : next;
}
