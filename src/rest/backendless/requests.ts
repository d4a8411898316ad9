/**
 * Backendless Messaging requests, parsed once from `unknown` into typed values. Only the shape is
 * checked here; the rules (channel names, headers, times, limits) are the core's, so a bad time
 * reaches the core as an invalid `Date` and comes back as INVALID_PUBLISH_AT (5030).
 * See https://backendless.com/docs/rest/pubsub_general_publish_api.html
 */
import { z } from "zod";

/**
 * `POST …/messaging/<channel>`: `{ message, publisherId?, headers?, publishAt?, repeatEvery?,
 * repeatExpiresAt? }`. The SDK also sends `subtopic`, `publishPolicy` and push options; Herald
 * delivers to subscribers only and ignores them.
 */
export const publishBody = z
  .object({
    message: z.unknown(),
    publisherId: z.string({ invalid_type_error: "publisherId must be a string" }).nullish(),
    headers: z.unknown(),
    /** Milliseconds since the epoch (Backendless), or an ISO-8601 string (a `Date` the SDK serialized). */
    publishAt: z.unknown(),
    /** Seconds. */
    repeatEvery: z.unknown(),
    repeatExpiresAt: z.unknown(),
  })
  .refine((body) => body.message !== undefined, { message: "message is required", path: ["message"] });
export type PublishBody = z.output<typeof publishBody>;

/** A time as Backendless clients send it; anything else becomes an invalid `Date` for the core to reject. */
export function timeOf(value: unknown): Date | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") return new Date(value);
  if (typeof value === "string") return new Date(/^\d+$/.test(value) ? Number(value) : value);
  return new Date(Number.NaN);
}

/** Seconds as a number (a numeric string too); anything else is NaN, which the core rejects. */
export function secondsOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  return Number.NaN;
}

/**
 * Backendless header values may be numbers or booleans (`{ temperature: 30 }`); Herald headers
 * are strings, so those become their text. Anything else is left for the core to reject.
 */
export function headersOf(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, v]) => [name, typeof v === "number" || typeof v === "boolean" ? String(v) : v]),
  );
}
