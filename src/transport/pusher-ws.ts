import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import type { HeraldCore } from "../core/herald.ts";
import { verifyPusherUserAuth } from "../core/pusher-auth.ts";
import { channelKind } from "../core/channel-auth.ts";
import type { QueueSink, SubscriberQueue } from "../core/subscriber-queue.ts";
import type { Caller, ChannelEvent, Connection } from "../core/types.ts";
import { isRecord } from "../core/validation.ts";
import { ErrorCode, HeraldError, httpStatusOf, isHeraldError } from "../errors.ts";
import { createWriteCoalescer, type CoalescedWriter, type WriteCoalescer } from "./write-coalescer.ts";
import { idleStream, writeTextFrame } from "./ws-frames.ts";

/**
 * The Pusher Channels WebSocket protocol (version 7; 5 and 6 are accepted too) at
 * `ws://host/app/:key`, for pusher-js, Laravel Echo and the mobile SDKs: a transport beside
 * graphql-ws over the same core connections, channel authorization, presence and counts.
 * See https://pusher.com/docs/channels/library_auth_reference/pusher-websockets-protocol/
 *
 * Every server event's `data` is a JSON string, as Pusher sends it: a message's data is the
 * string its publisher sent (the Pusher HTTP API's `data`, byte for byte) or, for any other
 * JSON value (a GraphQL publish), its JSON text. A message's frame is built once per message
 * and written to every subscriber as is.
 */

/**
 * Codes of `pusher:error` and of the close frame, in Pusher's ranges: 4000–4099 the client must
 * not reconnect, 4100–4199 reconnect with backoff, 4200–4299 reconnect now, 4300–4399 errors
 * that do not close the connection.
 */
export enum PusherErrorCode {
  /** No app has this key. */
  AppNotFound = 4001,
  /** The app is disabled. */
  AppDisabled = 4003,
  /** `/app/` without a key, or another path below it. */
  PathNotFound = 4005,
  /** `protocol` is not a number. */
  InvalidVersion = 4006,
  /** A protocol other than 5, 6 or 7. */
  UnsupportedProtocol = 4007,
  /** No `protocol` query parameter. */
  NoProtocol = 4008,
  /** A failed `pusher:signin`, or the app terminated this user's connections. */
  Unauthorized = 4009,
  /** Over the app's connection limit, or reading too slowly: try again later. */
  OverCapacity = 4100,
  /** Server going away (shutting down): reconnect now, another instance takes you. */
  ReconnectNow = 4200,
  /** No `pusher:pong` came within the pong timeout. */
  PongTimeout = 4201,
  /** A frame that is not JSON, not an event Herald knows, or lacks a field it needs. */
  InvalidMessage = 4300,
  /** A client event over the per-connection rate (Pusher's own code for it). */
  ClientEventRateLimited = 4301,
  /** A client event that is not allowed: not enabled for the app, a public channel, a channel not subscribed, bad input. */
  ClientEventRejected = 4302,
}

export interface PusherWsOptions {
  server: Server;
  herald: HeraldCore;
  logger: Logger;
  /** Seconds of silence after which Herald pings; also sent to clients as `activity_timeout`. */
  activityTimeoutSeconds?: number;
  /** Time a client has to answer Herald's `pusher:ping` before it is closed with 4201. */
  pongTimeoutMs?: number;
  /** `client-*` events per second per connection. */
  clientEventsPerSecond?: number;
  /** A client event's data limit (the Pusher routes' `data` limit). */
  maxClientEventBytes?: number;
  /** A socket whose unsent data passes this is closed (4100) as a slow consumer. */
  maxSocketBufferBytes?: number;
  /** Largest frame a client may send; `ws` closes the socket with 1009 past it. */
  maxMessageBytes?: number;
}

export interface PusherWsTransport {
  /** Whether an upgrade to `pathname` is this transport's (`/app/...`). */
  handles(pathname: string): boolean;
  /** Closes every socket (4200: reconnect now) and stops accepting. */
  close(code?: number, reason?: string): Promise<void>;
  /** Sockets closed because they did not read fast enough. */
  readonly slowConsumerDisconnects: number;
}

const PATH_PREFIX = "/app/";
const SUPPORTED_PROTOCOLS = new Set([5, 6, 7]);
const EMPTY = Buffer.alloc(0);

/** What every session shares. */
interface SessionDeps {
  readonly herald: HeraldCore;
  readonly logger: Logger;
  readonly coalescer: WriteCoalescer;
  readonly maxSocketBufferBytes: number;
  readonly clientEventsPerSecond: number;
  readonly maxClientEventBytes: number;
  slowConsumerDisconnects: number;
}

/** One socket's side: its core connection, its channels, its activity and its client-event bucket. */
class PusherSession implements CoalescedWriter {
  readonly channels = new Map<string, ChannelEntry>();
  readonly caller: Caller;
  /** When the client last sent anything (ms, `Date.now()`). */
  lastSeen = Date.now();
  /** When Herald's unanswered `pusher:ping` went out; 0 when none is pending. */
  pingSentAt = 0;
  writeTurn = 0;
  #tokens: number;
  #tokensAt = Date.now();

  constructor(
    readonly socket: WebSocket,
    readonly connection: Connection,
    readonly deps: SessionDeps,
  ) {
    this.caller = { role: "subscriber", app: connection.app, connection };
    this.#tokens = deps.clientEventsPerSecond;
  }

  /** Sends a frame's bytes; a socket past the buffer bound is closed as a slow consumer. */
  write(frame: Buffer) {
    const socket = this.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > this.deps.maxSocketBufferBytes) {
      this.deps.slowConsumerDisconnects++;
      socket.close(PusherErrorCode.OverCapacity, "Slow consumer: too much unsent data");
      return;
    }
    const raw = idleStream(socket);
    if (raw) {
      this.deps.coalescer.beforeWrite(this, raw);
      writeTextFrame(raw, EMPTY, frame);
    } else {
      socket.send(frame, { binary: false });
    }
  }

  send(event: string, data: unknown, channel?: string) {
    this.write(Buffer.from(encode(event, data, channel)));
  }

  error(code: PusherErrorCode | null, message: string) {
    this.send("pusher:error", { code, message });
  }

  /** Takes one client event from the per-connection bucket; false when it is empty. */
  takeClientEvent(): boolean {
    const rate = this.deps.clientEventsPerSecond;
    const now = Date.now();
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#tokensAt) / 1000) * rate);
    this.#tokensAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** The socket closed: every channel ends, and the core connection with them. */
  dispose() {
    for (const entry of this.channels.values()) entry.cancel();
    this.channels.clear();
    this.connection.close();
  }
}

/** One channel of a session, from `pusher:subscribe` until unsubscribe: the sink of its core stream. */
class ChannelEntry implements QueueSink<ChannelEvent> {
  stream: SubscriberQueue<ChannelEvent> | undefined = undefined;
  cancelled = false;
  succeeded = false;
  /** A cache channel with no message to replay: `pusher:cache_miss` follows the success. */
  cacheMiss = false;

  constructor(
    readonly session: PusherSession,
    readonly name: string,
    /** On a presence channel, the member this connection joined as (its client events carry it). */
    readonly userId: string | undefined,
  ) {}

  next(item: ChannelEvent | HeraldError) {
    const session = this.session;
    if (isHeraldError(item)) {
      // The subscription ended on the server's side (it fell behind): say so, and forget it.
      session.error(PusherErrorCode.InvalidMessage, `Unsubscribed from ${this.name}: ${item.message}`);
      return;
    }
    if (item.kind === "SUBSCRIBED") {
      if (this.succeeded) return; // a later one announces lost messages: Pusher has no word for it
      this.succeeded = true;
      session.send("pusher_internal:subscription_succeeded", subscriptionData(item), this.name);
      if (this.cacheMiss) {
        session.send("pusher:cache_miss", {}, this.name);
        session.deps.herald.cacheMissed(session.connection, this.name);
      }
      return;
    }
    session.write(frameOf(item));
  }

  end() {
    if (this.session.channels.get(this.name) === this) this.session.channels.delete(this.name);
  }

  cancel() {
    this.cancelled = true;
    void this.stream?.return();
  }
}

/** The events a client sends, checked once here. */
type ClientMessage =
  | { readonly event: "pusher:ping" | "pusher:pong" }
  | { readonly event: "pusher:subscribe"; readonly channel: string; readonly auth?: string; readonly channelData?: string }
  | { readonly event: "pusher:unsubscribe"; readonly channel: string }
  | { readonly event: "pusher:signin"; readonly auth: string; readonly userData: string }
  | { readonly event: "client"; readonly name: string; readonly channel: string; readonly data: unknown };

/** Parses one frame's text into a client message, or the reason it is not one. */
export function parseClientMessage(text: string): ClientMessage | { readonly invalid: string } {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return { invalid: "Invalid JSON: every message is a JSON object {event, data, channel?}" };
  }
  if (!isRecord(message) || typeof message.event !== "string") return { invalid: "A message is a JSON object with a string event" };
  const event = message.event;
  if (event === "pusher:ping" || event === "pusher:pong") return { event };
  if (event.startsWith("client-")) {
    if (typeof message.channel !== "string") return { invalid: `${event}: a client event needs a channel` };
    return { event: "client", name: event, channel: message.channel, data: message.data ?? null };
  }
  // pusher-js sends `data` as an object; some clients send it JSON-encoded.
  let data: unknown = message.data;
  if (typeof data === "string") {
    try {
      data = JSON.parse(data);
    } catch {
      return { invalid: `${event}: data is not JSON` };
    }
  }
  if (!isRecord(data)) return { invalid: `${event}: data must be an object` };
  const optionalString = (value: unknown) => (typeof value === "string" ? value : undefined);
  switch (event) {
    case "pusher:subscribe":
    case "pusher:unsubscribe": {
      if (typeof data.channel !== "string" || data.channel === "") return { invalid: `${event}: data.channel must be a channel name` };
      if (event === "pusher:unsubscribe") return { event, channel: data.channel };
      return { event, channel: data.channel, auth: optionalString(data.auth), channelData: optionalString(data.channel_data) };
    }
    case "pusher:signin":
      if (typeof data.auth !== "string" || typeof data.user_data !== "string") return { invalid: "pusher:signin: data needs auth and user_data strings" };
      return { event, auth: data.auth, userData: data.user_data };
    default:
      return { invalid: `Unknown event ${event.slice(0, 100)}` };
  }
}

export function usePusherWs({
  server,
  herald,
  logger,
  activityTimeoutSeconds = 120, // 2 minutes, as Pusher
  pongTimeoutMs = 30_000, // 30 seconds, as Pusher
  clientEventsPerSecond = 10, // as Pusher
  maxClientEventBytes = 10 * 1024, // 10 KiB, as Pusher
  maxSocketBufferBytes = 4 * 1024 * 1024, // 4 MiB
  maxMessageBytes = 256 * 1024, // 256 KiB
}: PusherWsOptions): PusherWsTransport {
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });
  const deps: SessionDeps = {
    herald,
    logger,
    coalescer: createWriteCoalescer(),
    maxSocketBufferBytes,
    clientEventsPerSecond,
    maxClientEventBytes,
    slowConsumerDisconnects: 0,
  };
  const sessions = new Map<WebSocket, PusherSession>();
  const established = (socketId: string) => JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeoutSeconds });

  const handles = (pathname: string) => pathname.startsWith(PATH_PREFIX);

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://herald");
    if (!handles(url.pathname)) return;
    wss.handleUpgrade(req, socket, head, (ws) => open(ws, url));
  });

  /** Refuses a connection the Pusher way: `pusher:error`, then the close with the same code. */
  function refuse(socket: WebSocket, code: PusherErrorCode, message: string) {
    socket.send(encode("pusher:error", { code, message }));
    socket.close(code, message.slice(0, 120));
  }

  function open(socket: WebSocket, url: URL) {
    socket.on("error", (error) => logger.warn({ err: error }, "pusher websocket error"));
    const key = decodeURIComponent(url.pathname.slice(PATH_PREFIX.length));
    if (key === "" || key.includes("/")) return refuse(socket, PusherErrorCode.PathNotFound, "Path not found: connect to /app/<key>");
    const protocol = url.searchParams.get("protocol");
    if (protocol === null) return refuse(socket, PusherErrorCode.NoProtocol, "No protocol version supplied (?protocol=7)");
    if (!/^\d{1,3}$/.test(protocol)) return refuse(socket, PusherErrorCode.InvalidVersion, "Invalid version string format");
    if (!SUPPORTED_PROTOCOLS.has(Number(protocol))) {
      return refuse(socket, PusherErrorCode.UnsupportedProtocol, `Unsupported protocol version ${protocol}: Herald speaks 5 to 7`);
    }
    const app = herald.apps.byKey(key);
    if (!app) return refuse(socket, PusherErrorCode.AppNotFound, `Application does not exist: no app has the key ${key.slice(0, 100)}`);
    if (!app.enabled) return refuse(socket, PusherErrorCode.AppDisabled, `Application disabled: ${app.id}`);
    let connection: Connection;
    try {
      connection = herald.connect(app, "pusher", { onTerminate: (reason) => refuse(socket, PusherErrorCode.Unauthorized, reason) });
    } catch (error) {
      const { code, message } = connectRefusal(error, logger);
      return refuse(socket, code, message);
    }
    const session = new PusherSession(socket, connection, deps);
    sessions.set(socket, session);
    socket.on("message", (raw: RawData) => onMessage(session, raw));
    socket.on("close", () => {
      sessions.delete(socket);
      session.dispose();
    });
    session.send("pusher:connection_established", established(connection.socketId));
  }

  function onMessage(session: PusherSession, raw: RawData) {
    session.lastSeen = Date.now();
    session.pingSentAt = 0;
    const message = parseClientMessage(String(raw));
    if ("invalid" in message) return session.error(PusherErrorCode.InvalidMessage, message.invalid);
    switch (message.event) {
      case "pusher:ping":
        return session.send("pusher:pong", {});
      case "pusher:pong":
        return;
      case "pusher:subscribe":
        return void subscribe(session, message).catch((error: unknown) => logger.error({ err: error }, "pusher subscribe failed"));
      case "pusher:unsubscribe": {
        const entry = session.channels.get(message.channel);
        session.channels.delete(message.channel);
        entry?.cancel();
        return;
      }
      case "pusher:signin":
        return signIn(session, message.auth, message.userData);
      case "client":
        return void clientEvent(session, message).catch((error: unknown) => logger.error({ err: error }, "pusher client event failed"));
      default:
        message satisfies never;
    }
  }

  async function subscribe(session: PusherSession, message: Extract<ClientMessage, { event: "pusher:subscribe" }>) {
    const name = message.channel;
    if (session.channels.has(name)) return; // already subscribed (or subscribing): nothing changes
    const entry = new ChannelEntry(session, name, channelKind(name) === "presence" ? memberIdOf(message.channelData) : undefined);
    session.channels.set(name, entry);
    let stream: SubscriberQueue<ChannelEvent>;
    try {
      // A cache channel replays its last message: subscribe from just before it.
      const cache = isCacheChannel(name) ? await herald.cachePosition(session.caller, name) : undefined;
      entry.cacheMiss = cache?.cached === false;
      const args = { name, auth: message.auth, channelData: message.channelData, since: cache?.since };
      // The core's streams are its subscriber queues: push mode delivers each event synchronously.
      stream = (await herald.subscribe(session.caller, args)) as SubscriberQueue<ChannelEvent>;
    } catch (error) {
      if (session.channels.get(name) === entry) session.channels.delete(name);
      return session.send("pusher:subscription_error", subscriptionError(error, logger), name);
    }
    entry.stream = stream;
    if (entry.cancelled) return void stream.return(); // unsubscribed (or closed) meanwhile
    stream.attach(entry);
  }

  function signIn(session: PusherSession, auth: string, userData: string) {
    const { connection } = session;
    let user: unknown;
    try {
      user = JSON.parse(userData);
    } catch {
      user = undefined;
    }
    const id = isRecord(user) ? user.id : undefined;
    if (typeof id !== "string" || id === "" || !verifyPusherUserAuth(connection.app, auth, connection.socketId, userData)) {
      // As Pusher: a connection that fails to sign in is not let in at all.
      const why = typeof id !== "string" || id === "" ? "user_data must be JSON with a non-empty string id" : "the auth signature does not match this socket and user_data";
      return refuse(session.socket, PusherErrorCode.Unauthorized, `Sign-in failed: ${why}`);
    }
    connection.signIn(id, (user as Record<string, unknown>).user_info ?? null);
    session.send("pusher:signin_success", JSON.stringify({ user_data: userData }));
  }

  async function clientEvent(session: PusherSession, message: Extract<ClientMessage, { event: "client" }>) {
    const { channel, name } = message;
    if (!session.channels.get(channel)?.succeeded) {
      return session.send("pusher:error", { code: PusherErrorCode.ClientEventRejected, message: `${name}: not subscribed to ${channel}` });
    }
    if (!session.takeClientEvent()) {
      return session.error(PusherErrorCode.ClientEventRateLimited, `Client event rejected due to rate limit (${deps.clientEventsPerSecond} per second)`);
    }
    const userId = session.channels.get(channel)!.userId;
    try {
      await herald.clientEvent(session.connection, { channel, event: name, data: message.data, userId }, { maxPayloadBytes: deps.maxClientEventBytes });
    } catch (error) {
      if (!isHeraldError(error) || error.code === ErrorCode.EngineUnavailable || error.code === ErrorCode.Internal) {
        logger.error({ err: error }, "pusher client event failed");
        return session.error(PusherErrorCode.ClientEventRejected, `${name}: could not be sent`);
      }
      session.error(PusherErrorCode.ClientEventRejected, `${name}: ${error.message}`);
    }
  }

  // Pusher's liveness: after `activity_timeout` of silence Herald pings; no pong in time closes with 4201.
  const activityMs = activityTimeoutSeconds * 1000;
  const sweepMs = Math.max(50, Math.min(1_000, Math.floor(Math.min(activityMs, pongTimeoutMs) / 4)));
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const session of sessions.values()) {
      if (session.pingSentAt !== 0) {
        if (now - session.pingSentAt >= pongTimeoutMs) session.socket.close(PusherErrorCode.PongTimeout, "Pong reply not received");
      } else if (now - session.lastSeen >= activityMs) {
        session.pingSentAt = now;
        session.send("pusher:ping", {});
      }
    }
  }, sweepMs);
  sweeper.unref();

  return {
    handles,
    get slowConsumerDisconnects() {
      return deps.slowConsumerDisconnects;
    },
    close(code = PusherErrorCode.ReconnectNow, reason = "Server shutting down") {
      clearInterval(sweeper);
      for (const socket of wss.clients) socket.close(code, reason);
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

/** One server event as Pusher frames it: `data` is always a string. */
function encode(event: string, data: unknown, channel?: string): string {
  const text = typeof data === "string" ? data : JSON.stringify(data);
  return JSON.stringify(channel === undefined ? { event, data: text } : { event, channel, data: text });
}

/** Each event's frame, built once and shared by every subscriber of it on this instance. */
const frames = new WeakMap<ChannelEvent, Buffer>();
function frameOf(item: ChannelEvent): Buffer {
  let frame = frames.get(item);
  if (!frame) {
    frame = Buffer.from(eventText(item));
    frames.set(item, frame);
  }
  return frame;
}

function eventText(item: ChannelEvent): string {
  if (item.kind === "MEMBER_ADDED" || item.kind === "MEMBER_REMOVED") {
    const member = item.data as { userId: string; info: unknown };
    return item.kind === "MEMBER_ADDED"
      ? encode("pusher_internal:member_added", { user_id: member.userId, user_info: member.info }, item.channel)
      : encode("pusher_internal:member_removed", { user_id: member.userId }, item.channel);
  }
  if (item.kind === "SUBSCRIPTION_COUNT") {
    const { subscriptionCount } = item.data as { subscriptionCount: number };
    return encode("pusher_internal:subscription_count", { subscription_count: subscriptionCount }, item.channel);
  }
  const data = typeof item.data === "string" ? item.data : JSON.stringify(item.data);
  // Pusher names the sender of a client event on a presence channel.
  if (item.publisherId !== undefined && item.event.startsWith("client-") && channelKind(item.channel) === "presence") {
    return JSON.stringify({ event: item.event, channel: item.channel, data, user_id: item.publisherId });
  }
  return JSON.stringify({ event: item.event, channel: item.channel, data });
}

/** `cache-`, `private-cache-`, `private-encrypted-cache-` and `presence-cache-` channels. */
function isCacheChannel(name: string): boolean {
  return /^(private-(encrypted-)?|presence-)?cache-/.test(name);
}

/** The `user_id` of presence `channel_data` (the core checks it before the subscription succeeds). */
function memberIdOf(channelData: string | undefined): string | undefined {
  try {
    const id = (JSON.parse(channelData ?? "null") as { user_id?: unknown } | null)?.user_id;
    return typeof id === "string" || typeof id === "number" ? String(id) : undefined;
  } catch {
    return undefined;
  }
}

/** `subscription_succeeded`'s data: `{}`, or on a presence channel the members in Pusher's shape. */
function subscriptionData(item: ChannelEvent): unknown {
  const presence = item.data as { count: number; members: readonly { userId: string; info: unknown }[] } | null;
  if (!presence) return {};
  const hash: Record<string, unknown> = {};
  for (const member of presence.members) hash[member.userId] = member.info;
  return { presence: { ids: presence.members.map((m) => m.userId), hash, count: presence.count } };
}

/** `pusher:subscription_error`'s data: Pusher's `{type, error, status}` for every refusal. */
function subscriptionError(error: unknown, logger: Pick<Logger, "error">): { type: string; error: string; status: number } {
  if (!isHeraldError(error) || error.code === ErrorCode.Internal) {
    logger.error({ err: error }, "pusher subscribe failed");
    return { type: "SubscriptionError", error: "Internal server error", status: 500 };
  }
  const status = httpStatusOf(error.code);
  const auth = error.code === ErrorCode.Forbidden || error.code === ErrorCode.Unauthenticated;
  return { type: auth ? "AuthError" : status === 429 ? "LimitReached" : "SubscriptionError", error: error.message, status };
}

/** How a refused `connect` closes: the Pusher socket's one mapper of what opening can throw. */
function connectRefusal(error: unknown, logger: Pick<Logger, "error">): { code: PusherErrorCode; message: string } {
  if (isHeraldError(error)) {
    switch (error.code) {
      case ErrorCode.TooManyConnections:
        return { code: PusherErrorCode.OverCapacity, message: error.message };
      case ErrorCode.Forbidden:
        return { code: PusherErrorCode.AppDisabled, message: error.message };
      case ErrorCode.ShuttingDown:
        return { code: PusherErrorCode.ReconnectNow, message: "Server shutting down" };
      default:
        // Every other code comes from a rule opening a connection does not reach: describe it here if one does.
        break;
    }
  }
  logger.error({ err: error }, "unexpected error while opening a Pusher WebSocket connection");
  return { code: PusherErrorCode.ReconnectNow, message: "Internal server error" };
}
