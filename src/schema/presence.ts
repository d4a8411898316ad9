import type { Member } from "../core/channel-auth.ts";
import type { Presence } from "../core/types.ts";
import { builder } from "./builder.ts";

export const MemberRef = builder.objectRef<Member>("Member").implement({
  description: "A user present in a presence channel.",
  fields: (t) => ({
    userId: t.exposeID("userId"),
    info: t.expose("info", { type: "JSON", nullable: true }),
  }),
});

const PresenceRef = builder.objectRef<Presence>("Presence").implement({
  fields: (t) => ({
    channel: t.exposeString("channel"),
    count: t.exposeInt("count", { description: "Distinct users present." }),
    members: t.expose("members", { type: [MemberRef] }),
  }),
});

builder.queryFields((t) => ({
  presence: t.field({
    type: PresenceRef,
    description: "Who is in a presence channel, across every instance (needs the app secret).",
    args: { channel: t.arg.string({ required: true }) },
    resolve: (_root, { channel }, { herald, caller }) => herald.presence(caller, channel),
  }),
}));

builder.mutationFields((t) => ({
  terminateUserConnections: t.boolean({
    description: "Closes every connection of a user (token `sub`) on every instance, with close code 4031 (needs the app secret).",
    args: { userId: t.arg.id({ required: true }) },
    resolve: async (_root, { userId }, { herald, caller }) => {
      await herald.terminateUserConnections(caller, userId);
      return true;
    },
  }),
}));
