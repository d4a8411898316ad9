import type { ChannelInfo } from "../core/types.ts";
import { builder } from "./builder.ts";

export const ChannelRef = builder.objectRef<ChannelInfo>("Channel").implement({
  description: "The live state of one channel, across every Herald instance.",
  fields: (t) => ({
    name: t.exposeString("name"),
    occupied: t.exposeBoolean("occupied", { description: "True while the channel has at least one subscription." }),
    subscriptionCount: t.exposeInt("subscriptionCount"),
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
