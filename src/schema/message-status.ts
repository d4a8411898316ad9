import type { MessageStatus } from "../core/types.ts";
import { builder } from "./builder.ts";

const MessageStatusCode = builder.enumType("MessageStatusCode", {
  values: ["SCHEDULED", "PUBLISHED", "CANCELLED", "FAILED", "UNKNOWN"] as const,
});

export const MessageStatusRef = builder.objectRef<MessageStatus>("MessageStatus").implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.field({ type: MessageStatusCode, resolve: (s) => s.status }),
    channels: t.exposeStringList("channels"),
    publishedAt: t.expose("publishedAt", { type: "DateTime", nullable: true }),
    runs: t.exposeInt("runs", { description: "How many times the message was published." }),
    lastPublishedAt: t.expose("lastPublishedAt", { type: "DateTime", nullable: true }),
    nextRunAt: t.expose("nextRunAt", { type: "DateTime", nullable: true }),
    errorMessage: t.exposeString("errorMessage", { nullable: true }),
  }),
});

builder.queryFields((t) => ({
  messageStatus: t.field({
    type: MessageStatusRef,
    description: "A message's status by id; `UNKNOWN` for ids never seen or expired (needs the app secret).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { herald, caller }) => herald.messageStatus(caller, String(id)),
  }),
}));
