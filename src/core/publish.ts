import { randomUUID } from "node:crypto";
import type { App, Limits } from "../config.ts";
import type { ChannelMessage, Engine, MessageFormats } from "../engine/types.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import type { ChannelInfo, PublishInput, PublishOptions, PublishResult } from "./types.ts";
import {
  validateChannelList,
  validateEventName,
  validateExpiry,
  validateHeaders,
  validateMimeType,
  validatePriority,
  validateMessageId,
  validatePayloadSize,
  validatePublisherId,
  validateSocketId,
} from "./validation.ts";
import { validateJsonDepth } from "./json-depth.ts";
import { dataOfFormats, formatsSize, validateFormats } from "./formats.ts";
import { orderByPrevId, type PrevIdOrder } from "./prev-id.ts";
import type { Expiry } from "./validation.ts";

/** What a publish without `info` asks for (the usual case): nothing, shared. */
const NO_INFO: ReadonlySet<string> = new Set();

/** A publish input that passed every rule: what `deliver` sends. */
export interface PreparedEvent {
  readonly id: string;
  readonly channels: string[];
  readonly event: string;
  readonly data: unknown;
  readonly headers: Record<string, string>;
  readonly publisherId: string | undefined;
  readonly priority: number | undefined;
  readonly mimeType: string | undefined;
  readonly expiry: Expiry;
  readonly excludeSocketId: string | undefined;
  readonly info: ReadonlySet<string>;
  /** The caller chose the id: it is an idempotency key. */
  readonly idSupplied: boolean;
  readonly formats: MessageFormats | undefined;
  readonly prevId: string | undefined;
}

export interface PublishDeps {
  engine: Engine;
  limits: Limits;
  messageStatusTtlSeconds: number;
  /** A caller-supplied message id seen again within this window is not published again. */
  idempotencyWindowSeconds: number;
  /** False (HERALD_HISTORY_SIZE=0): messages are only fanned out, with no offset and nothing appended. */
  keepHistory: boolean;
  now: () => Date;
  /**
   * Called with every message as the engine is handed them, and with the engine's promise: it may
   * start its reads at once, and must store nothing unless `published` resolves (watch channels
   * store their notifications here). Awaited, so a publish returns after it. Its failures go to
   * `onError`: the messages are published already.
   */
  afterPublish?: (app: App, messages: readonly ChannelMessage[], published: Promise<void>) => Promise<void>;
  onError?: (error: unknown) => void;
  /** Per-channel counts for `info` (subscriptions and, for presence channels, users). */
  countsFor(app: App, channel: string, withUsers: boolean): Promise<Pick<ChannelInfo, "subscriptionCount" | "userCount">>;
  /** Holds events with a `prevId` until their predecessor was published (see prev-id.ts). */
  prevIdOrder: PrevIdOrder;
}

export interface Publisher {
  /** Validates one input; throws the `HeraldError` naming what is wrong. */
  prepare(input: PublishInput, options: PublishOptions): PreparedEvent;
  /** Validates every input (a bad one rejects the whole batch, naming its index). */
  prepareBatch(inputs: readonly PublishInput[], options: PublishOptions): PreparedEvent[];
  /** Publishes prepared events in order and records their status. */
  deliver(app: App, events: readonly PreparedEvent[], options?: DeliverOptions): Promise<PublishResult[]>;
  /**
   * `deliver`, with GRIP ordering: an event with a `prevId` waits for its predecessor (see
   * prev-id.ts), and one whose predecessor comes later in `events` goes after it. Results are
   * in the order of `events`.
   */
  deliverInOrder(app: App, events: readonly PreparedEvent[]): Promise<PublishResult[]>;
}

export interface DeliverOptions {
  /** False for a schedule's run: its status lives in the schedule store (see schedule.ts). */
  readonly recordStatus?: boolean;
  /**
   * Skip events whose caller-supplied id was published within the idempotency window. Defaults
   * to `recordStatus`: a schedule's runs publish the schedule's id every time, on purpose.
   */
  readonly deduplicate?: boolean;
}

export function createPublisher(deps: PublishDeps): Publisher {
  const { engine, limits, messageStatusTtlSeconds, idempotencyWindowSeconds, keepHistory, now, countsFor, prevIdOrder, afterPublish, onError = () => {} } = deps;
  function prepare(input: PublishInput, options: PublishOptions): PreparedEvent {
    if (!Array.isArray(input.channels)) throw new HeraldError(ErrorCode.BadRequest, "channels must be a list");
    const channels = validateChannelList(input.channels, limits);
    const event = validateEventName(input.event ?? "message", limits);
    const headers = validateHeaders(input.headers, limits);
    const formats = input.formats == null ? undefined : validateFormats(input.formats, limits);
    // A GRIP item's data is its content (unless the caller gave data too); its formats weigh, not both.
    const data = formats && input.data === undefined ? dataOfFormats(formats) : (input.data ?? null);
    validateJsonDepth(data, limits);
    validatePayloadSize(data, headers, options.maxPayloadBytes ?? limits.maxPayloadBytes, formats && formatsSize(formats));
    const id = input.id == null ? randomUUID() : validateMessageId(input.id, limits);
    const prevId = input.prevId == null ? undefined : validateMessageId(input.prevId, limits);
    const excludeSocketId = input.excludeSocketId == null ? undefined : validateSocketId(input.excludeSocketId);
    const publisherId = validatePublisherId(input.publisherId, limits);
    const priority = validatePriority(input.priority);
    const mimeType = validateMimeType(input.mimeType);
    const expiry = validateExpiry(input.expiresIn, input.expiresAt, now().getTime());
    const info = input.info?.length ? new Set(input.info) : NO_INFO;
    return { id, channels, event, data, headers, publisherId, priority, mimeType, expiry, excludeSocketId, info, idSupplied: input.id != null, formats, prevId };
  }

  async function deliverInOrder(app: App, all: readonly PreparedEvent[]): Promise<PublishResult[]> {
    if (all.every((e) => e.prevId === undefined)) return deliver(app, all);
    const results = new Map<PreparedEvent, PublishResult>();
    // Events without a prevId go out together, as one delivery; each with one waits, then goes alone.
    let run: PreparedEvent[] = [];
    const flush = async () => {
      if (run.length === 0) return;
      const events = run;
      run = [];
      (await deliver(app, events)).forEach((result, i) => results.set(events[i]!, result));
    };
    for (const event of orderByPrevId(all)) {
      if (event.prevId === undefined) {
        run.push(event);
        continue;
      }
      await flush();
      const id = event.idSupplied ? event.id : undefined;
      const [result] = await prevIdOrder.after(app.id, event.channels, id, event.prevId, () => deliver(app, [event]));
      results.set(event, result!);
    }
    await flush();
    return all.map((e) => results.get(e)!);
  }

  return {
    prepare,
    deliverInOrder,
    prepareBatch(inputs, options) {
      const maxBatchSize = options.maxBatchSize ?? limits.maxBatchSize;
      if (inputs.length === 0) throw new HeraldError(ErrorCode.BadRequest, "A batch needs at least one event");
      if (inputs.length > maxBatchSize) {
        throw new HeraldError(ErrorCode.BatchTooLarge, `A batch may hold at most ${maxBatchSize} events, got ${inputs.length}`, {
          limit: maxBatchSize,
        });
      }
      return inputs.map((input, index) => {
        try {
          return prepare(input, options);
        } catch (error) {
          if (error instanceof HeraldError) {
            throw new HeraldError(error.code, `${options.itemLabel ?? "Event"} ${index}: ${error.message}`, { ...error.details, index });
          }
          throw error;
        }
      });
    },
    deliver,
  };

  async function deliver(app: App, all: readonly PreparedEvent[], { recordStatus = true, deduplicate = recordStatus }: DeliverOptions = {}): Promise<PublishResult[]> {
    const at = now();
    const publishedAt = at.toISOString();
    // Only caller-supplied ids are claimed; without any (the usual publish) nothing waits.
    const fresh = deduplicate && all.some((e) => e.idSupplied) ? await claimIds(app, all) : undefined;
    const events = fresh ? all.filter((_, i) => fresh[i]) : all;
    const messages: ChannelMessage[] = [];
    for (const e of events) {
      const expiresAt = expiresAtOf(e.expiry, at.getTime());
      for (const channel of e.channels) {
        messages.push({
          id: e.id,
          channel,
          event: e.event,
          data: e.data,
          headers: e.headers,
          publisherId: e.publisherId,
          // Absent ones stay undefined: JSON leaves them out.
          priority: e.priority,
          mimeType: e.mimeType,
          expiresAt,
          publishedAt,
          excludeSocketId: e.excludeSocketId,
          ...(e.formats ? { formats: e.formats } : {}),
          ...(e.prevId === undefined ? {} : { prevId: e.prevId }),
        });
      }
    }
    // The statuses are stored in the same step as the publish.
    const records = recordStatus
      ? events.map((e) => ({ id: e.id, status: "PUBLISHED" as const, channels: e.channels, publishedAt, runs: 1, lastPublishedAt: publishedAt }))
      : [];
    const published = engine.publish(app.id, messages, {
      history: keepHistory,
      ...(records.length > 0 ? { statuses: { records, ttlSeconds: messageStatusTtlSeconds } } : {}),
    });
    const notified = afterPublish && messages.length > 0 ? afterPublish(app, messages, published).catch(onError) : undefined;
    await published;
    await notified;
    // No duplicate and no counts asked for (the usual publish): the results are at hand.
    if (!fresh && all.every((e) => e.info.size === 0)) {
      return all.map((e) => ({ id: e.id, publishedAt, duplicate: false, channels: [] }));
    }
    return Promise.all(
      all.map(async (e, i) => {
        const duplicate = fresh ? !fresh[i] : false;
        // A duplicate reports when the original was published, if its status is still kept.
        const original = duplicate ? await engine.getMessageStatus(app.id, e.id) : undefined;
        return {
          id: e.id,
          publishedAt: original?.publishedAt ?? publishedAt,
          duplicate,
          channels: e.info.size === 0 ? [] : await Promise.all(e.channels.map((name) => infoFor(app, name, e.info))),
        };
      }),
    );
  }

  /** Per event, whether it is new: a caller-supplied id seen within the window is not. */
  function claimIds(app: App, events: readonly PreparedEvent[]): Promise<boolean[]> {
    return Promise.all(events.map((e) => (e.idSupplied ? engine.claimMessageId(app.id, e.id, idempotencyWindowSeconds) : true)));
  }

  async function infoFor(app: App, name: string, info: ReadonlySet<string>): Promise<Partial<ChannelInfo>> {
    const counts = await countsFor(app, name, info.has("userCount"));
    return {
      name,
      ...(info.has("subscriptionCount") ? { subscriptionCount: counts.subscriptionCount } : {}),
      // Presence channels only, as in `channel`: elsewhere there are no users to count.
      ...(info.has("userCount") ? { userCount: counts.userCount } : {}),
    };
  }
}

/** The message's `expiresAt` field, if it expires, for a publish at `publishedAt` (ms). */
function expiresAtOf({ expiresIn, expiresAt }: Expiry, publishedAt: number): string | undefined {
  const at = expiresAt ?? (expiresIn === undefined ? undefined : publishedAt + expiresIn * 1000);
  return at === undefined ? undefined : new Date(at).toISOString();
}
