/**
 * Fastly Fanout publishing API and GRIP publish (Pushpin's control API), as a thin adapter over
 * the core: check the publisher's credentials, parse the items, call the same core function as
 * the GraphQL twin (every item validated before any is published), shape the GRIP answer.
 * A backend using `@fanoutio/grip`'s Publisher or the `fastly` client only changes its control
 * URI (or base path) to Herald.
 */
import type { Config } from "../../config.ts";
import { assertEnabled } from "../../core/apps.ts";
import type { HeraldCore } from "../../core/herald.ts";
import type { Caller } from "../../core/types.ts";
import { ErrorCode, HeraldError } from "../../errors.ts";
import type { RestRequest, RestResponse, RestRoute } from "../router.ts";
import { authenticateGripPublisher } from "./auth.ts";
import { gripErrorResponse } from "./errors.ts";
import { parseGripPublishBody } from "./requests.ts";

export interface GripApiDeps {
  core: HeraldCore;
  config: Pick<Config, "grip">;
}

type BackendCaller = Extract<Caller, { role: "backend" }>;

export function useGripApi({ core, config }: GripApiDeps): RestRoute[] {
  const publishOptions = { maxBatchSize: config.grip.maxItemsPerPublish, itemLabel: "Item", surface: "grip" };

  /** The credentials' app, enabled, and (on a service path) the app the service id names. */
  function authenticate(request: RestRequest): BackendCaller {
    const app = authenticateGripPublisher(core.apps, request);
    const { serviceId } = request.params;
    if (serviceId !== undefined && core.apps.byServiceId(serviceId) !== app) {
      throw new HeraldError(ErrorCode.Forbidden, `Service ${serviceId} is not the service of these credentials`);
    }
    return { role: "backend", app: assertEnabled(app) };
  }

  async function publish(request: RestRequest): Promise<RestResponse> {
    const caller = authenticate(request);
    await core.triggerBatch(caller, parseGripPublishBody(request.rawBody), publishOptions);
    return wantsJson(request) ? { status: 200, body: {} } : { status: 200, body: "Published\n" };
  }

  const route = (path: string): RestRoute => ({
    method: "POST",
    path,
    // One publish per item, all validated before any is published: the batch's rule.
    twins: ["Mutation.publish", "Mutation.triggerBatch"],
    handle: publish,
    errorResponse: gripErrorResponse,
  });

  // The route table. The router takes each path with and without its trailing slash.
  return [
    // Fastly Fanout: the service id is the app id, or the app's `fanoutServiceId`.
    route("/service/:serviceId/publish"),
    // Pushpin's control API: the app is the credentials'.
    route("/publish"),
  ];
}

/** JSON only for a client that asks for it and not for text (the SDKs send `*\/*` or `text/plain`). */
function wantsJson(request: RestRequest): boolean {
  const accept = request.headers.accept ?? "";
  return accept.includes("application/json") && !accept.includes("text/plain");
}
