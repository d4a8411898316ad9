import type { ChannelEvent } from "../core/types.ts";
import { HeraldError } from "../errors.ts";
import type { Member } from "../core/channel-auth.ts";
import { builder } from "./builder.ts";
import { MemberRef } from "./presence.ts";
import { MessageFormatsRef } from "./formats.ts";

const ChannelEventKind = builder.enumType("ChannelEventKind", {
  description: "What a `ChannelEvent` reports.",
  values: {
    SUBSCRIBED: {
      description:
        "First event of every subscription: from here on nothing published is missed. It comes again, with `recovered: false`, when messages were lost on their way (Redis restarted without them).",
    },
    MESSAGE: { description: "A published message." },
    MEMBER_ADDED: { description: "Presence channels: a user joined (`member`); not sent to the joining connection." },
    MEMBER_REMOVED: { description: "Presence channels: a user's last connection left (`member`)." },
    SUBSCRIPTION_COUNT: {
      description:
        "The channel's subscription count changed: `data` is `{\"subscriptionCount\": n}`. Only for apps with `enableSubscriptionCount`, and not on presence channels.",
    },
  } as const,
});

export const ChannelPositionRef = builder.inputType("ChannelPosition", {
  description: "A position in a channel's history.",
  fields: (t) => ({
    offset: t.field({ type: "Offset", required: true }),
    epoch: t.string({ required: true }),
  }),
});

export const ChannelEventRef = builder.objectRef<ChannelEvent>("ChannelEvent").implement({
  description: "One event on a channel subscription.",
  fields: (t) => ({
    kind: t.field({ type: ChannelEventKind, resolve: (e) => e.kind }),
    id: t.exposeID("id", { nullable: true, description: "The message id; null for control events." }),
    channel: t.exposeString("channel"),
    event: t.exposeString("event"),
    data: t.expose("data", {
      type: "JSON",
      nullable: true,
      description: "What was published. For a GRIP item: its ws-message content, else its http-stream content, else its http-response body (JSON when that is JSON text, else the string).",
    }),
    headers: t.expose("headers", { type: "JSON", description: "String → string map." }),
    publisherId: t.exposeString("publisherId", { nullable: true }),
    priority: t.exposeInt("priority", { nullable: true, description: "1–9 (default 5); null for control events." }),
    mimeType: t.exposeString("mimeType", { nullable: true, description: "Content type of `data`, when the publisher gave one." }),
    expiresAt: t.expose("expiresAt", {
      type: "DateTime",
      nullable: true,
      description: "After this the message is delivered to nobody (live, history, queues).",
    }),
    publishedAt: t.expose("publishedAt", { type: "DateTime", nullable: true }),
    offset: t.expose("offset", { type: "Offset", nullable: true, description: "Position in the channel's history (messages, and SUBSCRIBED with `since`)." }),
    epoch: t.exposeString("epoch", { nullable: true, description: "The history stream the offset belongs to." }),
    formats: t.expose("formats", {
      type: MessageFormatsRef,
      nullable: true,
      description: "GRIP formats of a message published as a Fanout / GRIP item; null for other messages (`data` then is what was published).",
    }),
    prevId: t.exposeID("prevId", { nullable: true, description: "GRIP `prev-id`: the id of the message this one follows on the channel." }),
    recovered: t.exposeBoolean("recovered", {
      nullable: true,
      description:
        "SUBSCRIBED with `since`: true when every message after that position follows; false when it could not be served (trimmed, expired, other epoch). A later SUBSCRIBED: false, messages up to `offset` were lost; every one after it follows.",
    }),
    member: t.field({
      type: MemberRef,
      nullable: true,
      description: "The user of a MEMBER_ADDED / MEMBER_REMOVED event.",
      resolve: (e) => (e.kind === "MEMBER_ADDED" || e.kind === "MEMBER_REMOVED" ? (e.data as Member) : null),
    }),
  }),
});

builder.subscriptionFields((t) => ({
  channel: t.field({
    type: ChannelEventRef,
    description:
      "Live events of one channel. The first event is `SUBSCRIBED`; every message published after it is delivered, in order.",
    args: {
      name: t.arg.string({ required: true }),
      selector: t.arg.string({
        description: "Deliver only messages whose headers match, e.g. `city = 'Tokyo' AND temperature > 30` (SQL-92 subset).",
      }),
      token: t.arg.string({
        description: "Subscriber JWT for private-/presence-/#server-to-user- channels (overrides connectionParams.token).",
      }),
      auth: t.arg.string({ description: "Pusher auth string `<key>:<signature>` for private- and presence- channels." }),
      channelData: t.arg.string({ description: "Pusher presence channel_data JSON, signed by `auth`." }),
      since: t.arg({
        type: ChannelPositionRef,
        description: "Resume after this position (the offset and epoch of the last message you have): replay, then live, no gap, no duplicate.",
      }),
    },
    subscribe: (_root, args, { herald, caller }) => herald.subscribe(caller, args),
    // A stream ends with a HeraldError as its last value (e.g. SLOW_CONSUMER): raise it here so
    // the client gets an ordinary GraphQL error before completion.
    resolve: (event: ChannelEvent | HeraldError) => {
      if (event instanceof HeraldError) throw event;
      return event;
    },
  }),
}));
