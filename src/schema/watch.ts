import type { WatchChannel, WatchChannelState } from "../core/watch.ts";
import type { DeliveryResult } from "../engine/webhook-types.ts";
import { builder } from "./builder.ts";

const DeliveryState = builder.enumType("DeliveryState", {
  values: {
    PENDING: { description: "Stored, not attempted yet." },
    RETRYING: { description: "Attempted and failed in a way worth retrying (5xx, 429, timeout, connection error); tried again later." },
    DELIVERED: { description: "The receiver answered 2xx." },
    FAILED: { description: "Given up: any other answer, a refused address, or the retry window ended." },
  } as const,
});

const WebhookDeliveryRef = builder.objectRef<DeliveryResult>("WebhookDelivery").implement({
  description: "One notification of a watch channel.",
  fields: (t) => ({
    number: t.exposeInt("number", { description: "X-Goog-Message-Number: 1 is the sync, then one per message." }),
    state: t.field({ type: DeliveryState, resolve: (d) => d.state }),
    status: t.exposeInt("status", { nullable: true, description: "The receiver's last HTTP status, if it answered." }),
    attempts: t.exposeInt("attempts"),
    lastError: t.exposeString("lastError", { nullable: true }),
  }),
});

const WatchChannelRef = builder.objectRef<WatchChannel | WatchChannelState>("WatchChannel").implement({
  description: "A Google-style watch channel: every message of `channel` is POSTed to `address`.",
  fields: (t) => ({
    id: t.exposeString("id"),
    channel: t.exposeString("channel"),
    resourceId: t.exposeString("resourceId", { description: "Herald's opaque id of the channel (X-Goog-Resource-ID)." }),
    resourceUri: t.exposeString("resourceUri", { description: "Where the channel's state can be read (X-Goog-Resource-URI)." }),
    address: t.exposeString("address"),
    token: t.exposeString("token", { nullable: true }),
    expiration: t.field({ type: "DateTime", description: "When the watch stops by itself.", resolve: (w) => new Date(w.expiration) }),
    deliveries: t.field({
      type: [WebhookDeliveryRef],
      description: "Pending notifications (oldest first), then the latest finished ones (newest first), at most HERALD_WEBHOOK_KEEP_RESULTS of each.",
      resolve: async (w, _args, { herald, caller }) => ("deliveries" in w ? w.deliveries : ((await herald.watchChannel(caller, w.id))?.deliveries ?? [])),
    }),
  }),
});

const WatchInputRef = builder.inputType("WatchInput", {
  description: "What `POST /channels/:channel/watch` takes.",
  fields: (t) => ({
    id: t.string({ required: true, description: "Your id of the watch channel, unique per app while it lives (1–64 of A-Z a-z 0-9 - _ + / =)." }),
    type: t.string({ defaultValue: "web_hook", description: "Only `web_hook`." }),
    address: t.string({ required: true, description: "The http(s) URL notifications are POSTed to; private networks are refused." }),
    token: t.string({ description: "Sent back as X-Goog-Channel-Token with every notification." }),
    expiration: t.string({ description: "Milliseconds since the epoch; capped by HERALD_WATCH_MAX_TTL_SECONDS." }),
    ttl: t.int({ description: "Seconds to live when there is no `expiration` (Google's `params.ttl`)." }),
  }),
});

builder.mutationFields((t) => ({
  watch: t.field({
    type: WatchChannelRef,
    description: "Start POSTing the channel's messages to an address: a `sync` first, then one `exists` per message (needs the app secret).",
    args: { channel: t.arg.string({ required: true }), input: t.arg({ type: WatchInputRef, required: true }) },
    resolve: (_root, { channel, input }, { herald, caller }) =>
      herald.watch(caller, channel, { id: input.id, type: input.type, address: input.address, token: input.token, expiration: input.expiration, ttlSeconds: input.ttl }),
  }),
  stopWatch: t.boolean({
    description: "Stop a watch channel: nothing more is sent (needs the app secret); NOT_FOUND when there is none.",
    args: { id: t.arg.string({ required: true }), resourceId: t.arg.string({ required: true }) },
    resolve: async (_root, { id, resourceId }, { herald, caller }) => {
      await herald.stopWatch(caller, id, resourceId);
      return true;
    },
  }),
}));

builder.queryFields((t) => ({
  watchChannel: t.field({
    type: WatchChannelRef,
    nullable: true,
    description: "A live watch channel of the app and its latest notifications; null when there is none (needs the app secret).",
    args: { id: t.arg.string({ required: true }) },
    resolve: (_root, { id }, { herald, caller }) => herald.watchChannel(caller, id),
  }),
  watchChannels: t.field({
    type: [WatchChannelRef],
    description: "The app's live watch channels, by channel name, at most `first` (1–100; needs the app secret).",
    args: { first: t.arg.int({ defaultValue: 20 }) },
    resolve: (_root, { first }, { herald, caller }) => herald.watchChannels(caller, first ?? 20),
  }),
}));
