import Backendless from "backendless";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { HeraldCore } from "../src/core/herald.ts";
import { useBackendlessApi } from "../src/rest/backendless/index.ts";
import { expectTwinsInSchema } from "./helpers/route-twins.ts";
import { APP_OFF, APP_ONE, connectWs, sleep, startHerald, subscribeChannel, type TestServer, type WsConnection } from "./helpers/herald.ts";

/**
 * The Backendless Messaging routes, driven by the official `backendless` SDK pointed at Herald
 * (`Backendless.serverURL` + `initApp(<app id>, <app secret>)`), with delivery checked on a
 * graphql-ws subscriber.
 */

/** What these tests use of an SDK app (the SDK's own typings say `Object`). */
interface BackendlessApp {
  Messaging: {
    publish(channel: string, message: unknown, publishOptions?: object | null, deliveryOptions?: object | null): Promise<PublishStatus>;
    getMessageStatus(messageId: string): Promise<PublishStatus & { errorMessage: string | null }>;
    cancel(messageId: string): Promise<PublishStatus>;
  };
  UserService: { setCurrentUser(user: object): unknown };
}
interface PublishStatus {
  status: string;
  messageId: string;
}
interface BackendlessFault {
  message: string;
  code: number;
  status: number;
}

const sdk = Backendless as unknown as {
  serverURL: string;
  initApp(appIdOrConfig: string | object, apiKey?: string): BackendlessApp;
  Messaging: BackendlessApp["Messaging"];
  PublishOptions: new (args: object) => object;
  DeliveryOptions: new (args: object) => object;
};

const publishOptions = (args: { publisherId?: string; headers?: Record<string, unknown> }) => new sdk.PublishOptions(args);
const deliveryOptions = (args: { publishAt?: number | Date | string; repeatEvery?: number; repeatExpiresAt?: number | string }) =>
  new sdk.DeliveryOptions(args);

/** An SDK app of its own (`standalone`), so tests with other credentials do not disturb the global one. */
const standaloneApp = (server: TestServer, appId: string, apiKey: string) =>
  sdk.initApp({ appId, apiKey, serverURL: server.url, standalone: true });

async function fault(promise: Promise<unknown>): Promise<BackendlessFault> {
  try {
    await promise;
  } catch (error) {
    return error as BackendlessFault;
  }
  throw new Error("expected the call to fail");
}

let counter = 0;
const uniqueChannel = (name: string) => `${name}-${++counter}`;

describe("Backendless Messaging API with the backendless SDK", () => {
  let server: TestServer;
  let ws: WsConnection;
  let app: BackendlessApp;

  beforeAll(async () => {
    server = await startHerald();
    ws = connectWs(server);
    // Exactly as a Backendless backend configures the SDK, with Herald's address.
    sdk.serverURL = server.url;
    sdk.initApp(APP_ONE.id, APP_ONE.secret);
    app = sdk as unknown as BackendlessApp;
  });
  afterAll(async () => {
    await ws?.dispose();
    await server?.close();
  });

  async function subscribed(channel: string, selector?: string) {
    const sub = subscribeChannel(ws, channel, selector ? { selector } : {});
    await sub.subscribed;
    return sub;
  }

  it("publishes now: status published, delivered with headers and publisherId", async () => {
    const channel = uniqueChannel("news");
    const sub = await subscribed(channel);
    const result = await app.Messaging.publish(channel, { text: "hello" }, publishOptions({ publisherId: "backend-1", headers: { city: "Tokyo", temperature: 31 } }));
    expect(result).toEqual({ status: "published", messageId: expect.any(String) });
    const [event] = await sub.messages(1);
    expect(event).toMatchObject({
      id: result.messageId,
      channel,
      event: "message",
      data: { text: "hello" },
      headers: { city: "Tokyo", temperature: "31" }, // Herald headers are strings
      publisherId: "backend-1",
    });
    expect(await app.Messaging.getMessageStatus(result.messageId)).toEqual({ status: "published", messageId: result.messageId, errorMessage: null });
  });

  it("keeps a string message a string, and headers work with selectors", async () => {
    const channel = uniqueChannel("weather");
    const hot = await subscribed(channel, "city = 'Tokyo' AND temperature > 30");
    const all = await subscribed(channel);
    await app.Messaging.publish(channel, "mild", publishOptions({ headers: { city: "Tokyo", temperature: 20 } }));
    await app.Messaging.publish(channel, "hot", publishOptions({ headers: { city: "Tokyo", temperature: 35 } }));
    await all.messages(2);
    await sleep(50);
    expect(hot.events.map((e) => e.data)).toEqual(["hot"]);
  });

  it("publishes at publishAt: status scheduled, then published, delivered on time", async () => {
    const channel = uniqueChannel("later");
    const sub = await subscribed(channel);
    const publishAt = Date.now() + 700;
    const result = await app.Messaging.publish(channel, "on time", null, deliveryOptions({ publishAt }));
    expect(result).toEqual({ status: "scheduled", messageId: expect.any(String) });
    expect(await app.Messaging.getMessageStatus(result.messageId)).toEqual({ status: "scheduled", messageId: result.messageId, errorMessage: null });
    const [event] = await sub.messages(1, 3_000);
    const late = Date.parse(event!.publishedAt!) - publishAt;
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1_000);
    expect(event).toMatchObject({ id: result.messageId, data: "on time" });
    await sleep(50);
    expect((await app.Messaging.getMessageStatus(result.messageId)).status).toBe("published");
  });

  it("takes publishAt as a Date too (the SDK sends its ISO string)", async () => {
    const channel = uniqueChannel("date");
    const sub = await subscribed(channel);
    const result = await app.Messaging.publish(channel, 1, null, deliveryOptions({ publishAt: new Date(Date.now() + 600) }));
    expect(result.status).toBe("scheduled");
    await sub.messages(1, 2_000);
  });

  it("repeats every repeatEvery seconds from now until repeatExpiresAt", async () => {
    const channel = uniqueChannel("repeat");
    const sub = await subscribed(channel);
    const start = Date.now();
    const result = await app.Messaging.publish(channel, "tick", null, deliveryOptions({ repeatEvery: 1, repeatExpiresAt: start + 2_300 }));
    expect(result.status).toBe("scheduled");
    const events = await sub.messages(3, 4_000);
    expect(events.every((e) => e.id === result.messageId)).toBe(true);
    await sleep(1_200);
    expect(sub.events).toHaveLength(3);
    expect((await app.Messaging.getMessageStatus(result.messageId)).status).toBe("published");
  });

  it("cancels a scheduled message: canceled, then its status is cancelled and it never arrives; again → 5040", async () => {
    const channel = uniqueChannel("cancel");
    const sub = await subscribed(channel);
    const { messageId } = await app.Messaging.publish(channel, "never", null, deliveryOptions({ publishAt: Date.now() + 600 }));
    expect(await app.Messaging.cancel(messageId)).toEqual({ status: "canceled", messageId });
    expect(await app.Messaging.getMessageStatus(messageId)).toEqual({ status: "cancelled", messageId, errorMessage: null });
    const again = await fault(app.Messaging.cancel(messageId));
    expect(again).toMatchObject({ code: 5040, status: 404 });
    expect(again.message).toMatch(/already cancelled/);
    await sleep(900);
    expect(sub.events).toHaveLength(0);
  });

  it("reports unknown ids as unknown, and cannot cancel them (5040)", async () => {
    expect(await app.Messaging.getMessageStatus("no-such-message")).toEqual({ status: "unknown", messageId: "no-such-message", errorMessage: null });
    expect(await fault(app.Messaging.cancel("no-such-message"))).toMatchObject({ code: 5040 });
  });

  it("serves /api/messaging with the app secret in the user-token header (an app domain)", async () => {
    const domainApp = sdk.initApp({ domain: server.url, standalone: true });
    expect(await fault(domainApp.Messaging.publish("anonymous", "x"))).toMatchObject({ code: 5007, status: 401 });
    domainApp.UserService.setCurrentUser({ "user-token": APP_ONE.secret });
    const channel = uniqueChannel("domain");
    const sub = await subscribed(channel);
    const result = await domainApp.Messaging.publish(channel, "via domain");
    expect(result.status).toBe("published");
    await sub.messages(1);
    expect((await domainApp.Messaging.getMessageStatus(result.messageId)).status).toBe("published");
  });

  describe("errors, as { message, code }", () => {
    const future = () => Date.now() + 60_000;
    const cases: { name: string; call: () => Promise<unknown>; code: number; message: RegExp }[] = [
      { name: "publishAt in the past", call: () => app.Messaging.publish("c", 1, null, deliveryOptions({ publishAt: Date.now() - 5_000 })), code: 5030, message: /in the past/ },
      { name: "publishAt not a time", call: () => app.Messaging.publish("c", 1, null, deliveryOptions({ publishAt: "soon" })), code: 5030, message: /not a valid time/ },
      {
        name: "repeatExpiresAt before publishAt",
        call: () => app.Messaging.publish("c", 1, null, deliveryOptions({ publishAt: future(), repeatEvery: 1, repeatExpiresAt: future() - 10_000 })),
        code: 5003,
        message: /before publishAt/,
      },
      {
        name: "repeatExpiresAt not a time",
        call: () => app.Messaging.publish("c", 1, null, deliveryOptions({ repeatEvery: 1, repeatExpiresAt: "later" })),
        code: 5003,
        message: /not a valid time/,
      },
      { name: "repeatEvery below the minimum", call: () => app.Messaging.publish("c", 1, null, deliveryOptions({ repeatEvery: -1 })), code: 5911, message: /repeatEvery/ },
      { name: "repeatEvery not whole seconds", call: () => app.Messaging.publish("c", 1, null, deliveryOptions({ repeatEvery: 1.5 })), code: 5911, message: /whole number/ },
      { name: "an invalid channel name", call: () => app.Messaging.publish("bad!name", 1), code: 5902, message: /channel name/ },
      { name: "headers that are not strings", call: () => app.Messaging.publish("c", 1, publishOptions({ headers: { nested: { a: 1 } } })), code: 5907, message: /must be a string/ },
      { name: "a message over the payload limit", call: () => app.Messaging.publish("c", "x".repeat(70_000)), code: 5906, message: /over the limit/ },
      { name: "a wrong API key", call: () => standaloneApp(server, APP_ONE.id, "not-the-secret-of-app-one").Messaging.publish("c", 1), code: 5007, message: /No permission/ },
      { name: "an unknown application id", call: () => standaloneApp(server, "nope", APP_ONE.secret).Messaging.publish("c", 1), code: 5007, message: /No permission/ },
      { name: "a disabled app", call: () => standaloneApp(server, APP_OFF.id, APP_OFF.secret).Messaging.publish("c", 1), code: 5007, message: /disabled/ },
      { name: "a wrong API key reading a status", call: () => standaloneApp(server, APP_ONE.id, "wrong-wrong-wrong").Messaging.getMessageStatus("x"), code: 5007, message: /No permission/ },
      { name: "a wrong API key cancelling", call: () => standaloneApp(server, APP_ONE.id, "wrong-wrong-wrong").Messaging.cancel("x"), code: 5007, message: /No permission/ },
    ];
    it.each(cases)("$name → $code", async ({ call, code, message }) => {
      // The SDK's initApp asks for the app's info and logs when that fails (wrong credentials).
      const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
      try {
        const error = await fault(call());
        expect(error.code).toBe(code);
        expect(error.message).toMatch(message);
      } finally {
        quiet.mockRestore();
      }
    });

    const raw = (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}/${APP_ONE.id}/${APP_ONE.secret}/messaging/${path}`, { headers: { "content-type": "application/json" }, ...init });

    it("a body that is not JSON, or has no message → 5901", async () => {
      for (const body of ["{not json", JSON.stringify({ publisherId: "p" })]) {
        const response = await raw("c", { method: "POST", body });
        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({ code: 5901, message: expect.stringMatching(/JSON|message is required/) });
      }
    });

    it("a request body over HERALD_MAX_REQUEST_BYTES → 413 with 5906, in Backendless' shape", async () => {
      const response = await raw("c", { method: "POST", body: JSON.stringify({ message: "x".repeat(1024 * 1024) }) });
      expect(response.status).toBe(413);
      expect(await response.json()).toEqual({ code: 5906, message: "Request body is larger than 1048576 bytes" });
    });

    it("an invalid message id → 5909", async () => {
      const response = await raw("has%20space");
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: 5909 });
    });

    it("no user-token on /api/messaging → 5007", async () => {
      const response = await fetch(`${server.url}/api/messaging/c`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"message":1}' });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ code: 5007, message: expect.stringMatching(/user-token/) });
    });
  });
});

describe("Backendless Messaging API limits", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startHerald({ env: { HERALD_MAX_SCHEDULES_PER_APP: "1" } });
  });
  afterAll(() => server?.close());

  it("too many schedules → 5912", async () => {
    const app = standaloneApp(server, APP_ONE.id, APP_ONE.secret);
    await app.Messaging.publish("c", 1, null, deliveryOptions({ publishAt: Date.now() + 60_000 }));
    const error = await fault(app.Messaging.publish("c", 2, null, deliveryOptions({ publishAt: Date.now() + 60_000 })));
    expect(error).toMatchObject({ code: 5912, status: 429 });
    // Publishing now is not scheduling: still allowed.
    expect((await app.Messaging.publish("c", 3)).status).toBe("published");
  });
});

describe("the Backendless route table", () => {
  // Building the table calls nothing on the core; the handlers are never run here.
  const routes = useBackendlessApi({ core: {} as HeraldCore });

  it("names the GraphQL twins of every messaging route, and they exist in the printed schema", () => {
    const messaging = routes.filter((r) => r.path.includes("/messaging/"));
    expect(messaging.map((r) => `${r.method} ${r.path} → ${r.twins.join(" | ")}`)).toEqual([
      "POST /:appId/:apiKey/messaging/:channel → Mutation.publish | Mutation.schedule",
      "POST /api/messaging/:channel → Mutation.publish | Mutation.schedule",
      "GET /:appId/:apiKey/messaging/:messageId → Query.messageStatus",
      "GET /api/messaging/:messageId → Query.messageStatus",
      "DELETE /:appId/:apiKey/messaging/:messageId → Mutation.cancelScheduled",
      "DELETE /api/messaging/:messageId → Mutation.cancelScheduled",
    ]);
    expectTwinsInSchema(routes);
  });
});
