/**
 * Backendless Messaging REST API, as a thin adapter over the core: check the credentials, parse
 * the request, call the same core function as the GraphQL twin, shape Backendless' response.
 * A backend using the `backendless` SDK points `Backendless.serverURL` at Herald and calls
 * `initApp(<Herald app id>, <app secret>)`.
 * See https://backendless.com/docs/rest/pubsub_general_publish_api.html
 *
 * Two path shapes, same routes:
 * - `/<appId>/<apiKey>/messaging/…` (what the SDK sends with `initApp(appId, apiKey)`): the app
 *   id is Herald's, the API key is the app secret.
 * - `/api/messaging/…` (an app's own domain): the app secret in the `user-token` header.
 */
import { assertEnabled, PLACEHOLDER_APP } from "../../core/apps.ts";
import type { HeraldCore } from "../../core/herald.ts";
import type { Caller, MessageStatus } from "../../core/types.ts";
import { ErrorCode, HeraldError } from "../../errors.ts";
import type { GraphQLTwin, RestRequest, RestRoute } from "../router.ts";
import { backendlessErrorResponse } from "./errors.ts";
import { parseJsonBody } from "../parse-request.ts";
import { headersOf, publishBody, secondsOf, timeOf } from "./requests.ts";

export interface BackendlessApiDeps {
  core: HeraldCore;
}

type BackendCaller = Extract<Caller, { role: "backend" }>;
type Handler = (request: RestRequest, caller: BackendCaller) => Promise<unknown>;

/** Backendless' status words; `cancelled` with two l, as its Get Message Status answers. */
const statusWord: Readonly<Record<MessageStatus["status"], string>> = {
  SCHEDULED: "scheduled",
  PUBLISHED: "published",
  CANCELLED: "cancelled",
  FAILED: "failed",
  UNKNOWN: "unknown",
};

const LEGACY = "/:appId/:apiKey/messaging";
const DOMAIN = "/api/messaging";

export function useBackendlessApi({ core }: BackendlessApiDeps): RestRoute[] {
  /** The legacy path's app id and API key (the secret), or the `user-token` header's secret. */
  function authenticate(request: RestRequest): BackendCaller {
    const { appId, apiKey } = request.params;
    if (appId !== undefined && apiKey !== undefined) {
      const app = core.apps.byId(appId);
      // Compare even for an unknown app, so timing does not tell the two apart.
      const matches = core.apps.secretMatches(app ?? PLACEHOLDER_APP, apiKey);
      if (!app || !matches) throw new HeraldError(ErrorCode.Unauthenticated, "No permission: unknown application id or invalid API key");
      return { role: "backend", app: assertEnabled(app) };
    }
    const token = request.headers["user-token"];
    if (typeof token !== "string" || token === "") {
      throw new HeraldError(ErrorCode.Unauthenticated, "No permission: give the app secret in the user-token header");
    }
    const app = core.apps.bySecret(token);
    if (!app) throw new HeraldError(ErrorCode.Unauthenticated, "No permission: invalid user-token");
    return { role: "backend", app: assertEnabled(app) };
  }

  /** The route under both path shapes. */
  function routes(method: RestRoute["method"], suffix: string, twins: GraphQLTwin[], handler: Handler): RestRoute[] {
    return [LEGACY, DOMAIN].map((base) => {
      return {
        method,
        path: base + suffix,
        twins,
        handle: async (request: RestRequest) => ({ status: 200, body: await handler(request, authenticate(request)) }),
        errorResponse: backendlessErrorResponse,
      };
    });
  }

  // The route table; each route names its GraphQL twins, which call the same core functions.
  return [
    // publish, or schedule with publishAt / repeatEvery / repeatExpiresAt
    ...routes("POST", "/:channel", ["Mutation.publish", "Mutation.schedule"], async (request, caller) => {
      const body = parseJsonBody(publishBody, request.rawBody);
      const input = {
        channels: [request.params.channel!],
        data: body.message,
        headers: headersOf(body.headers),
        publisherId: body.publisherId,
      };
      const timing = { publishAt: timeOf(body.publishAt), repeatEvery: secondsOf(body.repeatEvery), repeatExpiresAt: timeOf(body.repeatExpiresAt) };
      if (timing.publishAt === undefined && timing.repeatEvery === undefined && timing.repeatExpiresAt === undefined) {
        const result = await core.publish(caller, input, { surface: "backendless" });
        return { status: statusWord.PUBLISHED, messageId: result.id };
      }
      const status = await core.schedule(caller, { ...input, ...timing });
      return { status: statusWord[status.status], messageId: status.id };
    }),

    ...routes("GET", "/:messageId", ["Query.messageStatus"], async (request, caller) => {
      const status = await core.messageStatus(caller, request.params.messageId!);
      return { status: statusWord[status.status], messageId: status.id, errorMessage: status.errorMessage ?? null };
    }),

    ...routes("DELETE", "/:messageId", ["Mutation.cancelScheduled"], async (request, caller) => {
      const status = await core.cancelScheduled(caller, request.params.messageId!);
      return { status: "canceled", messageId: status.id };
    }),

    // No twin: `initApp` fetches the app's info; Herald has none to give beyond the app's name.
    {
      method: "GET",
      path: "/:appId/:apiKey/info",
      twins: [],
      handle: async (request) => ({ status: 200, body: { appName: authenticate(request).app.name } }),
      errorResponse: backendlessErrorResponse,
    },
    { method: "GET", path: "/api/info", twins: [], handle: async () => ({ status: 200, body: {} }), errorResponse: backendlessErrorResponse },
  ];
}

