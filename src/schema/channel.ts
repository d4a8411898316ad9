import type { ChannelHistory, ChannelInfo } from "../core/types.ts";
import { ChannelEventRef, ChannelPositionRef } from "./channel-event.ts";
import { builder } from "./builder.ts";

const ChannelHistoryRef = builder.objectRef<ChannelHistory>("ChannelHistory").implement({
  fields: (t) => ({
    offset: t.expose("offset", { type: "Offset", description: "The last offset assigned." }),
    epoch: t.exposeString("epoch"),
    recoverable: t.exposeBoolean("recoverable", { description: "False when `since` can no longer be served." }),
    messages: t.expose("messages", { type: [ChannelEventRef] }),
  }),
});

export const ChannelRef = builder.objectRef<ChannelInfo>("Channel").implement({
  description: "The live state of one channel, across every Herald instance.",
  fields: (t) => ({
    name: t.exposeString("name"),
    occupied: t.exposeBoolean("occupied", { description: "True while the channel has at least one subscription." }),
    subscriptionCount: t.exposeInt("subscriptionCount"),
    userCount: t.exposeInt("userCount", { nullable: true, description: "Distinct users; presence channels only." }),
    history: t.field({
      type: ChannelHistoryRef,
      description: "Messages the channel keeps, oldest first, and its current position.",
      args: {
        limit: t.arg.int({ description: "At most this many (default: 100, or HERALD_HISTORY_SIZE if smaller): without `since` the latest, with it the first after it." }),
        since: t.arg({ type: ChannelPositionRef, description: "Only what came after this position." }),
      },
      resolve: async (channel, { limit, since }, { herald, caller, budget }) => {
        const history = await herald.history(caller, channel.name, { limit: limit ?? undefined, since });
        budget?.chargeMessages(history.messages);
        return history;
      },
    }),
  }),
});

builder.queryFields((t) => ({
  channel: t.field({
    type: ChannelRef,
    description: "One channel's state (backends: needs the app secret).",
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, { herald, caller }) => herald.channel(caller, name),
  }),
  channels: t.field({
    type: [ChannelRef],
    description: "Occupied channels whose name starts with `prefix`, by name (backends: needs the app secret).",
    args: {
      prefix: t.arg.string({ defaultValue: "" }),
      first: t.arg.int({ defaultValue: 100 }),
    },
    resolve: (_root, { prefix, first }, { herald, caller }) => herald.channels(caller, prefix ?? "", first ?? 100),
  }),
}));
