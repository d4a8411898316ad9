import type { QueueInfo, QueueMessage } from "../core/types.ts";
import { builder } from "./builder.ts";

export const QueueRef = builder.objectRef<QueueInfo>("Queue").implement({
  description:
    "A durable pull queue of one channel: every message published to the channel after the queue was created is kept in it until pulled, " +
    "expired, dropped for depth (`HERALD_MAX_QUEUE_DEPTH`) or the queue is removed (deleted, or idle for `HERALD_QUEUE_IDLE_TTL_SECONDS`).",
  fields: (t) => ({
    key: t.exposeID("key", { description: "The queue's key (Zato `sub_key`): what `pull` and `deleteQueue` take." }),
    channel: t.exposeString("channel"),
    depth: t.exposeInt("depth", { description: "Messages waiting (expired ones count until a pull drops them)." }),
    dropped: t.exposeInt("dropped", { description: "Messages dropped because the queue was full: the lowest priority present, oldest first." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const QueueMessageRef = builder.objectRef<QueueMessage>("QueueMessage").implement({
  description: "A message pulled from a queue: the message fields, and the queue it came from.",
  fields: (t) => ({
    queue: t.exposeID("queue", { description: "The key of the queue it was pulled from." }),
    id: t.id({ resolve: (m) => m.id! }),
    channel: t.exposeString("channel"),
    event: t.exposeString("event"),
    data: t.expose("data", { type: "JSON", nullable: true }),
    headers: t.expose("headers", { type: "JSON", description: "String → string map." }),
    publisherId: t.exposeString("publisherId", { nullable: true }),
    priority: t.int({ description: "1–9; pulls return higher first.", resolve: (m) => m.priority ?? 5 }),
    mimeType: t.exposeString("mimeType", { nullable: true }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    publishedAt: t.field({ type: "DateTime", resolve: (m) => m.publishedAt! }),
    offset: t.expose("offset", { type: "Offset", nullable: true, description: "Position in the channel's history (absent when history is off)." }),
    epoch: t.exposeString("epoch", { nullable: true }),
  }),
});

builder.queryFields((t) => ({
  queue: t.field({
    type: QueueRef,
    nullable: true,
    description: "One of the app's pull queues; null when the key is unknown (needs the app secret).",
    args: { key: t.arg.id({ required: true }) },
    resolve: (_root, { key }, { herald, caller }) => herald.queue(caller, String(key)),
  }),
  queues: t.field({
    type: [QueueRef],
    description: "The app's pull queues, oldest first; of one channel when `channel` is given (needs the app secret).",
    args: { channel: t.arg.string() },
    resolve: (_root, { channel }, { herald, caller }) => herald.queues(caller, channel),
  }),
}));

builder.mutationFields((t) => ({
  createQueue: t.field({
    type: QueueRef,
    description: "A pull queue of `channel`: from now on every message published to it, on any surface and instance, is appended (needs the app secret).",
    args: { channel: t.arg.string({ required: true }) },
    resolve: (_root, { channel }, { herald, caller }) => herald.createQueue(caller, channel),
  }),
  pull: t.field({
    type: [QueueMessageRef],
    // Nullable: a failing field elsewhere in the request must not null the whole answer and
    // with it the messages this pull already removed.
    nullable: true,
    description:
      "Removes and returns up to `max` messages (default 50, at most `HERALD_MAX_PULL_MESSAGES`): highest priority first, then publish order; expired ones are dropped. " +
      "A pull first reserves `max` × `HERALD_MAX_PAYLOAD_BYTES` of the answer's `HERALD_MAX_RESPONSE_BYTES` (PAYLOAD_TOO_LARGE, nothing removed, past it) (needs the app secret).",
    args: { key: t.arg.id({ required: true }), max: t.arg.int() },
    resolve: (_root, { key, max }, { herald, caller, budget }) => herald.pull(caller, String(key), { max, budget }),
  }),
  deleteQueue: t.field({
    type: "Boolean",
    description: "Removes a queue and its messages; NOT_FOUND for an unknown key (needs the app secret).",
    args: { key: t.arg.id({ required: true }) },
    resolve: async (_root, { key }, { herald, caller }) => {
      await herald.deleteQueue(caller, String(key));
      return true;
    },
  }),
}));
