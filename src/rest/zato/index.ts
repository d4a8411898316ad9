/**
 * Zato pub/sub REST API, as a thin adapter over the core: check HTTP Basic, parse the request,
 * call the same core function as the GraphQL twin, shape Zato's response. A Zato topic is a
 * Herald channel (`/customer/created` is a valid name); a subscription is a durable pull queue.
 * Producers and consumers authenticate with Basic `<app key>:<app secret>`.
 * See https://zato.io/en/docs/3.2/pubsub/api/rest.html
 */
import { assertEnabled, PLACEHOLDER_APP } from "../../core/apps.ts";
import type { HeraldCore } from "../../core/herald.ts";
import type { Caller, QueueMessage } from "../../core/types.ts";
import { ErrorCode, HeraldError } from "../../errors.ts";
import type { GraphQLTwin, RestRequest, RestRoute } from "../router.ts";
import { zatoErrorResponse } from "./errors.ts";
import { basicCredentials, maxOf, parsePublish, subKeyOf } from "./requests.ts";

export interface ZatoApiDeps {
  core: HeraldCore;
}

type BackendCaller = Extract<Caller, { role: "backend" }> & { readonly user: string };
type Handler = (request: RestRequest, caller: BackendCaller, topic: string) => Promise<Record<string, unknown>>;

/** Zato's times: UTC ISO 8601 without a zone (`2024-05-01T12:00:00.123`). */
const zatoTime = (iso: string | undefined | null) => (iso == null ? null : new Date(iso).toISOString().slice(0, -1));

export function useZatoApi({ core }: ZatoApiDeps): RestRoute[] {
  function authenticate(request: RestRequest): BackendCaller {
    const credentials = basicCredentials(request);
    if (!credentials) throw new HeraldError(ErrorCode.Unauthenticated, "Missing credentials: use HTTP Basic <app key>:<app secret>");
    const app = core.apps.byKey(credentials.user);
    // Compare even for an unknown key, so timing does not tell the two apart.
    const matches = core.apps.secretMatches(app ?? PLACEHOLDER_APP, credentials.password);
    if (!app || !matches) throw new HeraldError(ErrorCode.Unauthenticated, "Invalid credentials: unknown app key or wrong secret");
    return { role: "backend", app: assertEnabled(app), user: credentials.user };
  }

  function route(method: RestRoute["method"], base: string, twin: GraphQLTwin, handler: Handler): RestRoute {
    return {
      method,
      path: `${base}/*topic`,
      twins: [twin],
      handle: async (request) => {
        const caller = authenticate(request);
        return { status: 200, body: { status: "ZATO_OK", ...(await handler(request, caller, request.params.topic!)) } };
      },
      errorResponse: zatoErrorResponse,
    };
  }

  // The route table; each route names its GraphQL twin, which calls the same core function.
  return [
    route("POST", "/zato/pubsub/topic", "Mutation.publish", async (request, caller, topic) => {
      const { data, mimeType, priority, expiresIn, id } = parsePublish(request);
      // Sent values as they came (numbers or not): the core refuses anything but its rules allow.
      const input = { channels: [topic], data, mimeType, priority: priority as number, expiresIn: expiresIn as number, id, publisherId: caller.user };
      const result = await core.publish(caller, input, { surface: "zato" });
      return { msg_id: result.id };
    }),

    route("POST", "/zato/pubsub/subscribe/topic", "Mutation.createQueue", async (_request, caller, topic) => {
      const queue = await core.createQueue(caller, topic);
      return { sub_key: queue.key, queue_depth: queue.depth };
    }),

    route("DELETE", "/zato/pubsub/subscribe/topic", "Mutation.deleteQueue", async (request, caller, topic) => {
      await core.deleteQueue(caller, subKeyOf(request), topic);
      return {};
    }),

    route("POST", "/zato/pubsub/msg", "Mutation.pull", async (request, caller, topic) => {
      const messages = await core.pull(caller, subKeyOf(request), { max: maxOf(request), channel: topic });
      return { results_count: messages.length, results: messages.map(zatoMessage) };
    }),
  ];
}

/** A pulled message as Zato returns it: the payload as text, and its metadata. */
function zatoMessage(message: QueueMessage) {
  const { publishedAt, expiresAt } = message;
  return {
    payload: typeof message.data === "string" ? message.data : JSON.stringify(message.data),
    metadata: {
      msg_id: message.id,
      topic: message.channel,
      creation_time_utc: zatoTime(publishedAt),
      expiration: expiresAt == null || publishedAt == null ? null : Math.round((Date.parse(expiresAt) - Date.parse(publishedAt)) / 1000),
      expire_at_utc: zatoTime(expiresAt),
      producer: message.publisherId ?? null,
      priority: message.priority ?? 5,
      mime_type: message.mimeType ?? null,
    },
  };
}

