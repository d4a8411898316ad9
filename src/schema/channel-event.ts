import type { ChannelEvent } from "../core/types.ts";
import { HeraldError } from "../errors.ts";
import { builder } from "./builder.ts";

const ChannelEventKind = builder.enumType("ChannelEventKind", {
  description: "What a `ChannelEvent` reports.",
  values: {
    SUBSCRIBED: { description: "First event of every subscription: from here on nothing published is missed." },
    MESSAGE: { description: "A published message." },
  } as const,
});

export const ChannelEventRef = builder.objectRef<ChannelEvent>("ChannelEvent").implement({
  description: "One event on a channel subscription.",
  fields: (t) => ({
    kind: t.field({ type: ChannelEventKind, resolve: (e) => e.kind }),
    id: t.exposeID("id", { nullable: true, description: "The message id; null for control events." }),
    channel: t.exposeString("channel"),
    event: t.exposeString("event"),
    data: t.expose("data", { type: "JSON", nullable: true }),
    headers: t.expose("headers", { type: "JSON", description: "String → string map." }),
    publisherId: t.exposeString("publisherId", { nullable: true }),
    publishedAt: t.expose("publishedAt", { type: "DateTime", nullable: true }),
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
    },
    subscribe: (_root, { name, selector }, { herald, caller }) => herald.subscribe(caller, { name, selector }),
    // A stream ends with a HeraldError as its last value (e.g. SLOW_CONSUMER): raise it here so
    // the client gets an ordinary GraphQL error before completion.
    resolve: (event: ChannelEvent | HeraldError) => {
      if (event instanceof HeraldError) throw event;
      return event;
    },
  }),
}));
