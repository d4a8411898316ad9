/**
 * Pusher Channels HTTP API, as a thin adapter over the core: check Pusher's signature, parse
 * the request, call the same core function as the GraphQL twin, shape Pusher's response.
 * A backend using a Pusher server SDK only changes its host and port.
 * See https://pusher.com/docs/channels/library_auth_reference/rest-api/
 */
import type { Config } from "../../config.ts";
import { assertEnabled } from "../../core/apps.ts";
import { channelKind, userChannel } from "../../core/channel-auth.ts";
import type { HeraldCore } from "../../core/herald.ts";
import type { Caller, ChannelInfo, PublishInput, PublishResult } from "../../core/types.ts";
import { ErrorCode, HeraldError } from "../../errors.ts";
import type { GraphQLTwin, RestRequest, RestRoute } from "../router.ts";
import { parseJsonBody, parseQuery } from "../parse-request.ts";
import { pusherErrorResponse } from "./errors.ts";
import {
  batchBody,
  channelQuery,
  channelsQuery,
  coreInfoOf,
  parseTriggerBody,
  userEventBody,
  type BatchEvent,
  type InfoAttribute,
  type TriggerBody,
} from "./requests.ts";
import { verifyPusherRequest } from "./signature.ts";

export interface PusherApiDeps {
  core: HeraldCore;
  config: Pick<Config, "pusher">;
}

type BackendCaller = Extract<Caller, { role: "backend" }>;
type Handler = (request: RestRequest, caller: BackendCaller) => Promise<unknown>;

/** Pusher's `GET /channels` returns every occupied channel; this bounds one answer. */
const MAX_CHANNELS_LISTED = 1000;

export function usePusherApi({ core, config }: PusherApiDeps): RestRoute[] {
  const publishOptions = { maxPayloadBytes: config.pusher.maxPayloadBytes, surface: "pusher" };

  /** Pusher's signature, then the key's app must be the app in the path and enabled. */
  function authenticate(request: RestRequest): BackendCaller {
    const app = verifyPusherRequest(request, (k) => core.apps.byKey(k), {
      maxClockSkewSeconds: config.pusher.maxClockSkewSeconds,
    });
    if (app.id !== request.params.appId) {
      throw new HeraldError(ErrorCode.Unauthenticated, `auth_key does not belong to app ${request.params.appId}: app id mismatch`);
    }
    return { role: "backend", app: assertEnabled(app) };
  }

  function route(method: RestRoute["method"], path: string, twin: GraphQLTwin, handler: Handler): RestRoute {
    return {
      method,
      path,
      twins: [twin],
      handle: async (request) => ({ status: 200, body: await handler(request, authenticate(request)) }),
      errorResponse: pusherErrorResponse,
    };
  }

  // The route table; each route names its GraphQL twin, which calls the same core function.
  return [
    // Also what the SDK's `sendToUser` sends: a trigger on `#server-to-user-<id>`.
    route("POST", "/apps/:appId/events", "Mutation.publish", async (request, caller) => {
      const event = parseTriggerBody(request.rawBody);
      const result = await core.publish(caller, toPublishInput(event), publishOptions);
      return event.info.length === 0 ? {} : { channels: channelAttributes(result, event.info) };
    }),

    route("POST", "/apps/:appId/batch_events", "Mutation.triggerBatch", async (request, caller) => {
      const { batch } = parseJsonBody(batchBody, request.rawBody);
      const results = await core.triggerBatch(caller, batch.map(batchEventInput), publishOptions);
      if (batch.every((event) => event.info.length === 0)) return {};
      return {
        batch: results.map((result, i) => {
          const [channel] = result.channels;
          return channel ? attributesOf(channel, batch[i]!.info) : {};
        }),
      };
    }),

    route("GET", "/apps/:appId/channels", "Query.channels", async (request, caller) => {
      const { filter_by_prefix: prefix, info } = parseQuery(channelsQuery, request.query);
      if (info.includes("user_count") && channelKind(prefix) !== "presence") {
        throw new HeraldError(ErrorCode.BadRequest, "info=user_count needs filter_by_prefix to start with presence-");
      }
      const channels = await core.channels(caller, prefix, MAX_CHANNELS_LISTED);
      return { channels: Object.fromEntries(channels.map((c) => [c.name, attributesOf(c, info)])) };
    }),

    route("GET", "/apps/:appId/channels/:channelName", "Query.channel", async (request, caller) => {
      const { info } = parseQuery(channelQuery, request.query);
      const name = request.params.channelName!;
      if (info.includes("user_count") && channelKind(name) !== "presence") {
        throw new HeraldError(ErrorCode.BadRequest, "info=user_count is only available for presence channels");
      }
      const channel = await core.channel(caller, name);
      return { occupied: channel.occupied, ...attributesOf(channel, info) };
    }),

    // Presence channels only: the core refuses any other with BAD_REQUEST (400).
    route("GET", "/apps/:appId/channels/:channelName/users", "Query.presence", async (request, caller) => {
      const { members } = await core.presence(caller, request.params.channelName!);
      return { users: members.map((member) => ({ id: member.userId })) };
    }),

    // The body (the SDK sends `{}`) carries nothing; the signature still covers it.
    route("POST", "/apps/:appId/users/:userId/terminate_connections", "Mutation.terminateUserConnections", async (request, caller) => {
      await core.terminateUserConnections(caller, request.params.userId!);
      return {};
    }),

    // `{name, data}` to the user's own channel, which only connections authenticated as the user may join.
    route("POST", "/apps/:appId/users/:userId/events", "Mutation.publish", async (request, caller) => {
      const { name, data } = parseJsonBody(userEventBody, request.rawBody);
      await core.publish(caller, { channels: [userChannel(request.params.userId!)], event: name, data }, publishOptions);
      return {};
    }),
  ];
}

function toPublishInput(event: TriggerBody): PublishInput {
  return {
    channels: event.channels,
    event: event.name,
    data: event.data,
    excludeSocketId: event.socket_id,
    info: event.info.map((attribute) => coreInfoOf[attribute]),
  };
}

function batchEventInput(event: BatchEvent): PublishInput {
  return toPublishInput({ ...event, channels: [event.channel] });
}

function channelAttributes(result: PublishResult, info: readonly InfoAttribute[]): Record<string, PusherAttributes> {
  return Object.fromEntries(result.channels.map((c) => [c.name!, attributesOf(c, info)]));
}

interface PusherAttributes {
  subscription_count?: number;
  user_count?: number;
}

/** The attributes asked for, in Pusher's names; only presence channels have users (the core counts them). */
function attributesOf(channel: Partial<ChannelInfo>, info: readonly InfoAttribute[]): PusherAttributes {
  const attributes: PusherAttributes = {};
  if (info.includes("subscription_count")) attributes.subscription_count = channel.subscriptionCount ?? 0;
  if (info.includes("user_count") && channel.userCount !== undefined) attributes.user_count = channel.userCount;
  return attributes;
}
