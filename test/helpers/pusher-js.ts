import PusherServer from "pusher";
import PusherJs from "pusher-js";
import type { Channel, Options } from "pusher-js";
import WebSocket from "ws";
import { afterAll } from "vitest";
import type { App } from "../../src/config.ts";
import { APP_ONE } from "./herald.ts";

// pusher-js's types declare an ES default export of a CommonJS module: under NodeNext the default
// import is the module itself, which at run time is the class.
type PusherClass = (typeof PusherJs)["default"];
export type Pusher = InstanceType<PusherClass>;
const Pusher = PusherJs as unknown as PusherClass;

/**
 * pusher-js (its Node build, which carries its own WebSocket client) against a test Herald,
 * with the app's backend played by the official `pusher` SDK: it signs channel authorizations
 * and sign-ins in the client's custom handlers, as an app's auth endpoint would.
 */
export interface PusherJsSuite {
  /** The backend SDK of `app` pointed at `server`. */
  backend(server: { url: string }, app?: App): PusherServer;
  /** A pusher-js client of `app`; disconnected after the suite. */
  client(server: { url: string }, options?: ClientOptions): Pusher;
}

export interface ClientOptions {
  app?: App;
  /** The presence member this client's authorizer signs (`user_id`, `user_info`). */
  member?: { user_id: string; user_info?: unknown };
  /** The user the sign-in handler signs. */
  user?: { id: string; user_info?: unknown };
  /** Breaks the channel authorizer's signature. */
  badAuth?: boolean;
  /** The backend SDK that signs (one with an encryption master key, for encrypted channels). */
  signer?: PusherServer;
  extra?: Partial<Options>;
}

export function usePusherJs(): PusherJsSuite {
  const clients: Pusher[] = [];
  afterAll(() => {
    for (const client of clients) client.disconnect();
  });
  const backend = (server: { url: string }, app: App = APP_ONE) =>
    new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: "127.0.0.1", port: new URL(server.url).port, useTLS: false });
  return {
    backend,
    client(server, { app = APP_ONE, member, user, badAuth = false, signer = backend(server, app), extra = {} } = {}) {
      const client = new Pusher(app.key, {
        cluster: "herald",
        wsHost: "127.0.0.1",
        wsPort: Number(new URL(server.url).port),
        forceTLS: false,
        enabledTransports: ["ws"],
        disableStats: true,
        channelAuthorization: {
          endpoint: "/unused",
          transport: "ajax",
          customHandler: ({ socketId, channelName }, callback) => {
            const signed = signer.authorizeChannel(socketId, channelName, channelName.startsWith("presence-") ? (member as PusherServer.PresenceChannelData) : undefined);
            callback(null, badAuth ? { ...signed, auth: `${app.key}:${"0".repeat(64)}` } : signed);
          },
        },
        userAuthentication: {
          endpoint: "/unused",
          transport: "ajax",
          customHandler: ({ socketId }, callback) => {
            if (!user) return callback(new Error("this client has no user"), null);
            callback(null, signer.authenticateUser(socketId, user) as never);
          },
        },
        ...extra,
      } as Options);
      clients.push(client);
      return client;
    },
  };
}

/** The client's socket id once connected. */
export function connected(client: Pusher, ms = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    if (client.connection.state === "connected") return resolve(client.connection.socket_id);
    const timer = setTimeout(() => reject(new Error(`not connected after ${ms} ms (state ${client.connection.state})`)), ms);
    client.connection.bind("connected", () => {
      clearTimeout(timer);
      resolve(client.connection.socket_id);
    });
  });
}

/** Subscribes; resolves with the subscription_succeeded data, rejects with the subscription_error data. */
export function subscribe(client: Pusher, name: string, ms = 5_000): Promise<{ channel: Channel; data: unknown }> {
  const channel = client.subscribe(name);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to subscribe ${name} after ${ms} ms`)), ms);
    channel.bind("pusher:subscription_succeeded", (data: unknown) => {
      clearTimeout(timer);
      resolve({ channel, data });
    });
    channel.bind("pusher:subscription_error", (data: unknown) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`subscription_error on ${name}`), { data }));
    });
  });
}

/** Collects every event of `channel` (all names) with its data, as the app's code sees it. */
export function collect(channel: Channel) {
  const events: { event: string; data: unknown }[] = [];
  channel.bind_global((event: string, data: unknown) => {
    if (!event.startsWith("pusher:") && !event.startsWith("pusher_internal:")) events.push({ event, data });
  });
  return {
    events,
    async count(n: number, ms = 5_000) {
      const deadline = Date.now() + ms;
      while (events.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (events.length < n) throw new Error(`got ${events.length}/${n} events: ${JSON.stringify(events).slice(0, 400)}`);
      return events.slice(0, n);
    },
  };
}

/** A raw socket to `/app/...`: every frame as sent, parsed; the close code once closed. */
export async function rawPusher(server: { url: string }, path = `/app/${APP_ONE.key}?protocol=7&client=js&version=8.6.0`) {
  const socket = new WebSocket(`ws://127.0.0.1:${new URL(server.url).port}${path}`);
  const frames: { event: string; channel?: string; data: string; user_id?: string }[] = [];
  const waiters: (() => void)[] = [];
  socket.on("message", (data) => {
    frames.push(JSON.parse(String(data)));
    waiters.forEach((w) => w());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once("close", (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  const until = (predicate: () => boolean, ms = 5_000) =>
    new Promise<void>((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => reject(new Error(`timeout; got ${JSON.stringify(frames).slice(0, 600)}`)), ms);
      waiters.push(() => {
        if (predicate()) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  return {
    socket,
    frames,
    closed,
    until,
    send: (message: unknown) => socket.send(typeof message === "string" ? message : JSON.stringify(message)),
    /** The frames of `event`, their data parsed as JSON. */
    of: (event: string) => frames.filter((f) => f.event === event).map((f) => ({ ...f, data: JSON.parse(f.data) as Record<string, unknown> })),
    /** Waits for the next frame of `event` after the ones already seen. */
    async next(event: string, ms = 5_000) {
      const seen = frames.filter((f) => f.event === event).length;
      await until(() => frames.filter((f) => f.event === event).length > seen, ms);
      const frame = frames.filter((f) => f.event === event)[seen]!;
      return { ...frame, data: JSON.parse(frame.data) as Record<string, unknown> };
    },
  };
}
