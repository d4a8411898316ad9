import type { ChannelActivity } from "../core/lifecycle.ts";
import { HeraldError } from "../errors.ts";
import { builder } from "./builder.ts";

const ChannelActivityKind = builder.enumType("ChannelActivityKind", {
  description: "What happened to a channel (computed once, service-wide).",
  values: {
    OCCUPIED: { description: "The channel has its first subscription, on any instance." },
    VACATED: { description: "The channel's last subscription left (after `HERALD_PUSHER_WEBHOOK_DELAY_MS`, cancelled by a return)." },
    MEMBER_ADDED: { description: "Presence channels: a user joined (`userId`)." },
    MEMBER_REMOVED: { description: "Presence channels: a user's last connection left (`userId`), after the same delay." },
    SUBSCRIPTION_COUNT: { description: "The channel's subscription count changed (`subscriptionCount`); apps that count subscriptions only." },
  } as const,
});

const ChannelActivityRef = builder.objectRef<ChannelActivity>("ChannelActivity").implement({
  description: "One change of a channel of the app, as Pusher's lifecycle webhooks report them.",
  fields: (t) => ({
    kind: t.field({ type: ChannelActivityKind, resolve: (a) => a.kind }),
    channel: t.exposeString("channel"),
    userId: t.exposeString("userId", { nullable: true, description: "MEMBER_ADDED / MEMBER_REMOVED: the user." }),
    subscriptionCount: t.exposeInt("subscriptionCount", { nullable: true, description: "SUBSCRIPTION_COUNT: the count." }),
    at: t.expose("at", { type: "DateTime" }),
  }),
});

builder.subscriptionFields((t) => ({
  channelActivity: t.field({
    type: ChannelActivityRef,
    description:
      "Backend (app secret): the app's channels as they are occupied and vacated, presence members as they come and go, and subscription counts where the app counts them (`enableSubscriptionCount` or a `subscription_count` webhook) — each once, service-wide, whichever instance saw it.",
    args: { prefix: t.arg.string({ description: "Only channels whose name starts with this." }) },
    subscribe: (_root, args, { herald, caller }) => herald.channelActivity(caller, args),
    resolve: (activity: ChannelActivity | HeraldError) => {
      if (activity instanceof HeraldError) throw activity;
      return activity;
    },
  }),
}));
