import type { PublishResult } from "../core/types.ts";
import type { PublishInput } from "../core/types.ts";
import { builder } from "./builder.ts";
import { formatsInputOf, MessageFormatsInputRef } from "./formats.ts";

const ChannelInfoField = builder.enumType("ChannelInfoField", {
  description: "Counts a publish may return per channel.",
  values: { SUBSCRIPTION_COUNT: { value: "subscriptionCount" }, USER_COUNT: { value: "userCount" } } as const,
});

/** The input builder of an input type's `fields`. */
type InputFields = Parameters<Parameters<typeof builder.inputType>[1]["fields"]>[0];

/** What every message input has (publish and schedule): where it goes, what it carries, its id. */
export const messageFields = (t: InputFields, idDescription: string) => ({
  channels: t.stringList({ required: true }),
  event: t.string({ defaultValue: "message", description: "Event name (default `message`)." }),
  data: t.field({ type: "JSON", description: "Any JSON value; a string stays a string." }),
  headers: t.field({ type: "JSON", description: "String → string map; subscribers' selectors filter on it." }),
  id: t.id({ description: idDescription }),
  publisherId: t.string(),
  priority: t.int({ description: "1–9 (default 5): pull queues return higher priorities first." }),
  mimeType: t.string({ description: "Content type of `data` (up to 200 printable ASCII characters)." }),
  expiresIn: t.int({ description: "Seconds after publishing when the message expires (not with `expiresAt`)." }),
  expiresAt: t.field({ type: "DateTime", description: "When the message expires; after it, nobody receives it." }),
});

export const PublishInputRef = builder.inputType("PublishInput", {
  description: "One event to publish to 1..100 channels.",
  fields: (t) => ({
    ...messageFields(t, "Message id; generated when absent."),
    excludeSocketId: t.string({ description: "A connection's socketId that must not receive this event." }),
    info: t.field({ type: [ChannelInfoField], description: "Counts to return per channel." }),
    formats: t.field({ type: MessageFormatsInputRef, description: "GRIP formats, for GRIP subscribers (/grip/*) and `ChannelEvent.formats`." }),
    prevId: t.id({ description: "GRIP ordering: published once the message with this id was published on the channels (or HERALD_GRIP_PREV_ID_WAIT_MS passed)." }),
  }),
});

/** The core's input from GraphQL's (formats renamed; the rest as it is). */
function publishInputOf(input: typeof PublishInputRef.$inferInput): PublishInput {
  const { formats, ...rest } = input;
  return formats == null ? rest : { ...rest, formats: formatsInputOf(formats as never) };
}

const ChannelPublishInfo = builder
  .objectRef<PublishResult["channels"][number]>("ChannelPublishInfo")
  .implement({
    fields: (t) => ({
      name: t.string({ resolve: (c) => c.name! }),
      subscriptionCount: t.exposeInt("subscriptionCount", { nullable: true }),
      userCount: t.exposeInt("userCount", { nullable: true }),
    }),
  });

const PublishResultRef = builder.objectRef<PublishResult>("PublishResult").implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    publishedAt: t.expose("publishedAt", { type: "DateTime" }),
    duplicate: t.exposeBoolean("duplicate", {
      description: "True when this id was already published within the idempotency window: nothing was sent again.",
    }),
    channels: t.expose("channels", {
      type: [ChannelPublishInfo],
      description: "Per-channel counts when `info` asked for them; empty otherwise.",
    }),
  }),
});

const BatchResultRef = builder.objectRef<{ results: PublishResult[] }>("BatchResult").implement({
  fields: (t) => ({ results: t.expose("results", { type: [PublishResultRef], description: "One per event, in order." }) }),
});

builder.mutationFields((t) => ({
  publish: t.field({
    type: PublishResultRef,
    description: "Publish one event to 1..100 channels (needs the app secret).",
    args: { input: t.arg({ type: PublishInputRef, required: true }) },
    resolve: (_root, { input }, { herald, caller }) => herald.publish(caller, publishInputOf(input)),
  }),
  triggerBatch: t.field({
    type: BatchResultRef,
    description: "Publish 1..10 events; if any is invalid, none is published (needs the app secret).",
    args: { events: t.arg({ type: [PublishInputRef], required: true }) },
    resolve: async (_root, { events }, { herald, caller }) => ({ results: await herald.triggerBatch(caller, events.map(publishInputOf)) }),
  }),
}));
