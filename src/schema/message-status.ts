import type { MessageStatus } from "../core/types.ts";
import { builder } from "./builder.ts";

const MessageStatusCode = builder.enumType("MessageStatusCode", {
  values: {
    SCHEDULED: { description: "Runs remain (a repeating message stays SCHEDULED between runs)." },
    PUBLISHED: { description: "Published; for a schedule, its last run was." },
    CANCELLED: { description: "A schedule cancelled with `cancelScheduled`; no run follows." },
    FAILED: { description: "A run could not be published and the schedule stopped; see `errorMessage`." },
    UNKNOWN: { description: "No message with this id, or its status expired." },
  } as const,
});

export const MessageStatusRef = builder.objectRef<MessageStatus>("MessageStatus").implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.field({ type: MessageStatusCode, resolve: (s) => s.status }),
    channels: t.exposeStringList("channels"),
    publishedAt: t.expose("publishedAt", { type: "DateTime", nullable: true, description: "First publish." }),
    runs: t.exposeInt("runs", { description: "How many times the message was published." }),
    lastPublishedAt: t.expose("lastPublishedAt", { type: "DateTime", nullable: true }),
    nextRunAt: t.expose("nextRunAt", { type: "DateTime", nullable: true, description: "A schedule's next run; null once none remains." }),
    errorMessage: t.exposeString("errorMessage", { nullable: true, description: "Why the latest run failed, if it did." }),
    repeatEvery: t.exposeInt("repeatEvery", { nullable: true, description: "A repeating schedule's seconds between runs." }),
    repeatExpiresAt: t.expose("repeatExpiresAt", { type: "DateTime", nullable: true, description: "No run of the schedule after this time." }),
  }),
});

builder.queryFields((t) => ({
  messageStatus: t.field({
    type: MessageStatusRef,
    description: "A message's status by id; `UNKNOWN` for ids never seen or expired (needs the app secret).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { herald, caller }) => herald.messageStatus(caller, id),
  }),
}));
