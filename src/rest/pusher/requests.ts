/**
 * Pusher HTTP API requests, parsed once from `unknown` into typed values. Only the shape is
 * checked here; the rules (channel names, limits, payload size) are the core's.
 * See https://pusher.com/docs/channels/library_auth_reference/rest-api/
 */
import { z } from "zod";
import type { PublishInfo } from "../../core/types.ts";
import { parseJson, parseWith } from "../parse-request.ts";

export type InfoAttribute = "subscription_count" | "user_count";

/** Pusher's `info` attribute names and the core's. */
export const coreInfoOf: Readonly<Record<InfoAttribute, PublishInfo>> = {
  subscription_count: "subscriptionCount",
  user_count: "userCount",
};

/** `info=a,b`: a comma-separated list of the attributes this route offers, each kept once. */
function infoList(allowed: readonly [InfoAttribute, ...InfoAttribute[]]) {
  const attribute = z.enum(allowed);
  return z
    .string()
    .transform((value, ctx): InfoAttribute[] => {
      const attributes = new Set<InfoAttribute>();
      for (const item of value.split(",").map((s) => s.trim())) {
        if (item === "") continue;
        const parsed = attribute.safeParse(item);
        if (!parsed.success) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown attribute ${JSON.stringify(item)} (allowed: ${allowed.join(", ")})` });
          return z.NEVER;
        }
        attributes.add(parsed.data);
      }
      return [...attributes];
    })
    .default("");
}

const eventFields = {
  name: z.string({ required_error: "name is required", invalid_type_error: "name must be a string" }),
  // Pusher event data is a string (the SDKs JSON-encode objects); it is delivered as sent.
  data: z.string({ required_error: "data is required", invalid_type_error: "data must be a string" }),
  socket_id: z.string({ invalid_type_error: "socket_id must be a string" }).optional(),
  info: infoList(["subscription_count", "user_count"]),
};

/** `POST /apps/:appId/events`: one event to `channels` (or a single `channel`). */
export const triggerBody = z
  .object({
    ...eventFields,
    channels: z.array(z.string({ invalid_type_error: "channel names must be strings" })).optional(),
    channel: z.string({ invalid_type_error: "channel must be a string" }).optional(),
  })
  .transform(({ channels, channel, ...event }, ctx) => {
    if ((channels === undefined) === (channel === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "give exactly one of channels and channel" });
      return z.NEVER;
    }
    return { ...event, channels: channels ?? [channel!] };
  });
export type TriggerBody = z.output<typeof triggerBody>;

/** `POST /apps/:appId/users/:userId/events`: one event to the user's `#server-to-user-<id>` channel. */
export const userEventBody = z.object({ name: eventFields.name, data: eventFields.data });

/** `POST /apps/:appId/batch_events`: events of one channel each; the core bounds their number. */
export const batchBody = z.object({
  batch: z.array(z.object({ ...eventFields, channel: z.string({ required_error: "channel is required", invalid_type_error: "channel must be a string" }) }), {
    required_error: "batch is required",
    invalid_type_error: "batch must be a list of events",
  }),
});
export type BatchEvent = z.output<typeof batchBody>["batch"][number];

/** `GET /apps/:appId/channels` */
export const channelsQuery = z.object({
  filter_by_prefix: z.string().default(""),
  info: infoList(["user_count"]),
});

/** `GET /apps/:appId/channels/:channelName` */
export const channelQuery = z.object({
  info: infoList(["subscription_count", "user_count"]),
});

/**
 * `triggerBody`, on the publish hot path: the usual body (strings `name` and `data`, one of
 * `channels` or `channel`, an optional string `socket_id`, no `info`) is read without zod, into
 * what `triggerBody` gives; anything else goes through `triggerBody`, which accepts it or names
 * the problem.
 */
export function parseTriggerBody(rawBody: Buffer): TriggerBody {
  const value = parseJson(rawBody);
  return plainTrigger(value) ?? parseWith(triggerBody, value, "body");
}

function plainTrigger(value: unknown): TriggerBody | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { name, data, socket_id, info, channels, channel } = value as Record<string, unknown>;
  if (typeof name !== "string" || typeof data !== "string" || info !== undefined) return undefined;
  if (socket_id !== undefined && typeof socket_id !== "string") return undefined;
  let names: string[];
  if (channel === undefined && Array.isArray(channels) && channels.every((c) => typeof c === "string")) names = channels;
  else if (channels === undefined && typeof channel === "string") names = [channel];
  else return undefined;
  return socket_id === undefined ? { name, data, info: [], channels: names } : { name, data, socket_id, info: [], channels: names };
}
