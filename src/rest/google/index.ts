/**
 * Google-style watch channels (googleapiclient.channel), as a thin adapter over the core: a
 * backend authenticates with the app secret (Bearer, or Basic key:secret), asks for a channel's
 * messages to be POSTed to an address, and stops it again. Google's request and response fields,
 * Google's error shape. See https://developers.google.com/workspace/drive/api/guides/push
 */
import { authenticate, credentialsFromHttp } from "../../core/auth.ts";
import type { HeraldCore } from "../../core/herald.ts";
import type { Caller } from "../../core/types.ts";
import type { WatchChannel } from "../../core/watch.ts";
import { ErrorCode, HeraldError } from "../../errors.ts";
import { parseJsonBody } from "../parse-request.ts";
import type { RestRequest, RestRoute } from "../router.ts";
import { googleErrorResponse } from "./errors.ts";
import { z } from "zod";

export interface GoogleApiDeps {
  core: HeraldCore;
}

/** Field types are checked by the core, which names what is wrong; here only the shape. */
const watchBody = z.object({
  id: z.unknown(),
  type: z.unknown(),
  address: z.unknown(),
  token: z.unknown().optional(),
  expiration: z.unknown().optional(),
  params: z.object({ ttl: z.unknown().optional() }).passthrough().optional(),
});
const stopBody = z.object({ id: z.unknown(), resourceId: z.unknown() });

export function useGoogleWatchApi({ core }: GoogleApiDeps): RestRoute[] {
  function backend(request: RestRequest): Caller {
    const header = request.headers.authorization;
    const caller = authenticate(core.apps, credentialsFromHttp(typeof header === "string" ? header : undefined, undefined));
    if (caller.role !== "backend") {
      throw new HeraldError(ErrorCode.Unauthenticated, `${caller.role === "anonymous" && caller.problem ? caller.problem : "Login Required"}: send Authorization: Bearer <app secret>`);
    }
    return caller;
  }

  return [
    {
      method: "POST",
      path: "/channels/:channel/watch",
      twins: ["Mutation.watch"],
      errorResponse: googleErrorResponse,
      async handle(request) {
        const caller = backend(request);
        const body = parseJsonBody(watchBody, request.rawBody);
        const host = request.headers.host;
        const proto = request.headers["x-forwarded-proto"] === "https" ? "https" : "http";
        const watch = await core.watch(
          caller,
          request.params.channel!,
          { id: body.id, type: body.type, address: body.address, token: body.token, expiration: body.expiration, ttlSeconds: body.params?.ttl },
          { baseUrl: typeof host === "string" ? `${proto}://${host}` : undefined },
        );
        return { status: 200, body: channelResource(watch) };
      },
    },
    {
      method: "POST",
      path: "/channels/stop",
      twins: ["Mutation.stopWatch"],
      errorResponse: googleErrorResponse,
      async handle(request) {
        const caller = backend(request);
        const body = parseJsonBody(stopBody, request.rawBody);
        await core.stopWatch(caller, body.id, body.resourceId);
        return { status: 204 };
      },
    },
  ];
}

/** Google's `api#channel` resource; `expiration` is milliseconds since the epoch, as a string. */
function channelResource(watch: WatchChannel) {
  return {
    kind: "api#channel",
    id: watch.id,
    resourceId: watch.resourceId,
    resourceUri: watch.resourceUri,
    ...(watch.token !== undefined ? { token: watch.token } : {}),
    expiration: String(watch.expiration),
    type: "web_hook",
    address: watch.address,
  };
}
