import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import type { GripConfig } from "../config.ts";
import { authenticate } from "../core/auth.ts";
import { bytesOf } from "../core/formats.ts";
import type { HeraldCore } from "../core/herald.ts";
import type { ChannelEvent, Connection } from "../core/types.ts";
import { ErrorCode, HeraldError, httpStatusOf } from "../errors.ts";
import { closeFor, HeraldCloseCode } from "./close-codes.ts";

/**
 * GRIP-style subscriber endpoints: what a Pushpin or Fastly Fanout user's frontend connects to,
 * for clients the proxy would have held open. Each is one subscription of the core (same
 * subscriber auth as SSE: the app key as `?key=` or `X-Herald-Key`, a subscriber token as
 * `?token=` or `X-Herald-Token` for private and presence channels; same limits), fed in push mode:
 *
 * - `GET /grip/stream/:channel`: HTTP streaming, each item's `http-stream` content written raw;
 *   `action: close` ends the response; a newline every HERALD_GRIP_KEEPALIVE_SECONDS.
 * - `GET /grip/poll/:channel`: long-polling, answered with the next item's `http-response`
 *   (code, reason, headers, body), or `204` after `?timeout=` seconds.
 * - `GET /grip/ws/:channel` (WebSocket): each `ws-message` content as a text frame (binary for
 *   `content-bin`); `action: close` closes with its code.
 *
 * A plain publish (no formats) reaches them too: its `data` as the content (JSON text unless it
 * is a string), and for long-polling as a `200` `application/json` answer. `?since=OFFSET:EPOCH`
 * resumes from history; poll answers carry `X-Herald-Since`, the value to resume from.
 */
export interface GripEndpointsOptions {
  herald: HeraldCore;
  logger: Logger;
  config: GripConfig;
  /** A client whose unsent data passes this is dropped as a slow consumer (as on graphql-ws). */
  maxSocketBufferBytes: number;
  /** Largest message a WebSocket client may send (it has nothing to say; the bound still holds). */
  maxMessageBytes: number;
  /** Interval of WebSocket pings; a socket that missed one pong is closed (as on graphql-ws). */
  pingIntervalMs?: number;
}

export interface GripEndpoints {
  /** Serves `GET /grip/stream/*` and `/grip/poll/*`; false for any other request. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Takes a WebSocket upgrade to `/grip/ws/*`; false for any other path. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Subscribers open now, by endpoint (for /metrics). */
  readonly open: Readonly<Record<Endpoint, number>>;
  /** Clients dropped because they read too slowly. */
  readonly slowConsumerDisconnects: number;
  /** Closes every GRIP WebSocket with 1001 (HTTP responses end with their subscriptions). */
  close(): void;
}

type Endpoint = "stream" | "poll" | "ws";

const PATH = /^\/grip\/(stream|poll|ws)\/([^/]+)$/;

export function useGripEndpoints({
  herald,
  logger,
  config,
  maxSocketBufferBytes,
  maxMessageBytes,
  pingIntervalMs = 30_000, // 30 seconds
}: GripEndpointsOptions): GripEndpoints {
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });
  // Dead peers (a laptop lid closed) never send a close frame: ping, and drop who stays silent.
  const silent = new WeakSet<WebSocket>();
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (silent.has(ws)) {
        ws.close(HeraldCloseCode.PingTimeout, "Ping timeout");
        continue;
      }
      silent.add(ws);
      ws.ping();
    }
  }, pingIntervalMs);
  pinger.unref();
  const open: Record<Endpoint, number> = { stream: 0, poll: 0, ws: 0 };
  let slowConsumerDisconnects = 0;

  function route(req: IncomingMessage): { endpoint: Endpoint; channel: string; url: URL } | undefined {
    const url = new URL(req.url ?? "/", "http://herald.local");
    const match = PATH.exec(url.pathname);
    if (!match) return undefined;
    let channel: string;
    try {
      channel = decodeURIComponent(match[2]!);
    } catch {
      return undefined;
    }
    return { endpoint: match[1] as Endpoint, channel, url };
  }

  /** Authenticates the subscriber and subscribes; the connection is the caller's to close. */
  async function subscribe(req: IncomingMessage, url: URL, channel: string, onTerminate: (reason: string) => void) {
    const key = header(req, "x-herald-key") ?? url.searchParams.get("key") ?? undefined;
    const caller = authenticate(herald.apps, { key });
    if (caller.role !== "subscriber") {
      const problem = caller.role === "anonymous" ? caller.problem : undefined;
      throw new HeraldError(ErrorCode.Unauthenticated, `${problem ?? "Missing app key"}: give the app key as ?key= or X-Herald-Key`);
    }
    const token = header(req, "x-herald-token") ?? url.searchParams.get("token") ?? undefined;
    const since = positionOf(url.searchParams.get("since"));
    const connection = herald.connect(caller.app, "grip", { token, onTerminate });
    try {
      const stream = await herald.subscribe({ role: "subscriber", app: caller.app, connection }, { name: channel, since });
      return { connection, stream };
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  /** A subscription's life on one endpoint: counted while open; the release closes it, once (true then). */
  function track(endpoint: Endpoint, connection: Connection): () => boolean {
    open[endpoint]++;
    let done = false;
    return () => {
      if (done) return false;
      done = true;
      open[endpoint]--;
      connection.close();
      return true;
    };
  }

  function serveStream(req: IncomingMessage, res: ServerResponse, url: URL, channel: string) {
    let finish = (_drop?: boolean) => {};
    subscribe(req, url, channel, () => finish()).then(({ connection, stream }) => {
      if (res.destroyed) return connection.close();
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" });
      res.flushHeaders();
      const keepAlive = config.streamKeepAliveSeconds > 0 ? setInterval(() => res.write("\n"), config.streamKeepAliveSeconds * 1000) : undefined;
      keepAlive?.unref();
      const release = track("stream", connection);
      finish = (drop = false) => {
        clearInterval(keepAlive);
        if (!release()) return;
        if (drop) res.destroy();
        else res.end();
      };
      res.once("close", () => finish());
      // Last: attaching hands over at once what is queued (SUBSCRIBED, a resume's history).
      stream.attach({
        next(item) {
          if (item instanceof HeraldError) return finish();
          const content = streamContent(item);
          if (content === undefined) return;
          if (content.bytes.length > 0) res.write(content.bytes);
          if (content.close) return finish();
          if (res.writableLength > maxSocketBufferBytes) {
            slowConsumerDisconnects++;
            finish(true);
          }
        },
        end: () => finish(),
      });
    }, (error) => answerError(res, error));
  }

  function servePoll(req: IncomingMessage, res: ServerResponse, url: URL, channel: string) {
    let seconds: number;
    try {
      seconds = timeoutOf(url.searchParams.get("timeout"), config);
    } catch (error) {
      return answerError(res, error);
    }
    let finish = (_event?: ChannelEvent) => {};
    subscribe(req, url, channel, () => finish()).then(({ connection, stream }) => {
      if (res.destroyed) return connection.close();
      const timer = setTimeout(() => finish(), seconds * 1000);
      const release = track("poll", connection);
      finish = (event) => {
        clearTimeout(timer);
        if (!release()) return;
        if (!event) {
          res.writeHead(204, { "cache-control": "no-store" });
          res.end();
          return;
        }
        const answer = pollAnswer(event);
        res.writeHead(answer.code, answer.reason, { "cache-control": "no-store", ...answer.headers, "content-length": String(answer.body.length) });
        res.end(answer.body);
      };
      res.once("close", () => finish());
      stream.attach({
        next(item) {
          if (item instanceof HeraldError) return finish();
          if (item.kind === "MESSAGE" && (!item.formats || item.formats.httpResponse)) finish(item);
        },
        end: () => finish(),
      });
    }, (error) => answerError(res, error));
  }

  function serveWs(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, channel: string) {
    let terminate = (_reason: string) => {};
    subscribe(req, url, channel, (reason) => terminate(reason)).then(({ connection, stream }) => {
      if (socket.destroyed) return connection.close();
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const release = track("ws", connection);
        const close = (code: number, reason: string) => {
          if (release()) ws.close(code, reason);
        };
        terminate = (reason) => close(HeraldCloseCode.Terminated, reason);
        ws.on("close", () => release());
        ws.on("error", () => release());
        ws.on("pong", () => silent.delete(ws));
        stream.attach({
          next(item) {
            if (item instanceof HeraldError) {
              const { code, reason } = closeFor(item, logger);
              return close(code, reason);
            }
            const message = wsContent(item);
            if (message === undefined || ws.readyState !== ws.OPEN) return;
            if (message.close) return close(message.code ?? 1000, "");
            if (ws.bufferedAmount > maxSocketBufferBytes) {
              slowConsumerDisconnects++;
              return close(HeraldCloseCode.SlowConsumer, "Slow consumer: too much unsent data");
            }
            ws.send(message.data, { binary: message.binary });
          },
          end: () => close(HeraldCloseCode.GoingAway, "Server shutting down"),
        });
      });
    }, (error) => refuseUpgrade(socket, error, logger));
  }

  function answerError(res: ServerResponse, error: unknown) {
    const { status, body } = httpAnswer(error, logger);
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": String(Buffer.byteLength(body)) });
    res.end(body);
  }

  return {
    handle(req, res) {
      if (req.method !== "GET" || !req.url?.startsWith("/grip/")) return false;
      const matched = route(req);
      if (!matched || matched.endpoint === "ws") return false;
      if (matched.endpoint === "stream") serveStream(req, res, matched.url, matched.channel);
      else servePoll(req, res, matched.url, matched.channel);
      return true;
    },
    upgrade(req, socket, head) {
      const matched = req.url?.startsWith("/grip/") ? route(req) : undefined;
      if (!matched || matched.endpoint !== "ws") return false;
      serveWs(req, socket, head, matched.url, matched.channel);
      return true;
    },
    open,
    get slowConsumerDisconnects() {
      return slowConsumerDisconnects;
    },
    close() {
      clearInterval(pinger);
      for (const ws of wss.clients) ws.close(HeraldCloseCode.GoingAway, "Server shutting down");
      wss.close();
    },
  };
}

/** What the stream writes for an event: its `http-stream` content (or a plain message's data). */
function streamContent(event: ChannelEvent): { bytes: Buffer; close: boolean } | undefined {
  if (event.kind !== "MESSAGE") return undefined;
  if (!event.formats) return { bytes: Buffer.from(textOfData(event.data)), close: false };
  const format = event.formats.httpStream;
  // `hint` asks the proxy to fetch the content from the origin: Herald has none to ask.
  if (!format || format.action === "hint") return undefined;
  return { bytes: bytesOf(format.content, format.contentBin), close: format.action === "close" };
}

/** What the WebSocket sends for an event: its `ws-message` (or a plain message's data as text). */
function wsContent(event: ChannelEvent): { data: Buffer | string; binary: boolean; close: boolean; code?: number | undefined } | undefined {
  if (event.kind !== "MESSAGE") return undefined;
  if (!event.formats) return { data: textOfData(event.data), binary: false, close: false };
  const format = event.formats.wsMessage;
  if (!format) return undefined;
  if (format.action === "close") return { data: "", binary: false, close: true, code: format.code };
  if (format.contentBin !== undefined) return { data: Buffer.from(format.contentBin, "base64"), binary: true, close: false };
  return { data: format.content ?? "", binary: false, close: false };
}

/** A long-poll's answer: the `http-response` (or a plain message's data as JSON). */
function pollAnswer(event: ChannelEvent): { code: number; reason: string; headers: Record<string, string>; body: Buffer } {
  const position: Record<string, string> = event.offset === undefined ? {} : { "x-herald-since": `${event.offset}:${event.epoch}` };
  const id: Record<string, string> = event.id ? { "x-herald-id": event.id } : {};
  const format = event.formats?.httpResponse;
  if (!format) {
    return { code: 200, reason: "OK", headers: { "content-type": "application/json", ...id, ...position }, body: Buffer.from(JSON.stringify(event.data ?? null)) };
  }
  return {
    code: format.code,
    reason: format.reason ?? STATUS_CODES[format.code] ?? "",
    headers: { ...format.headers, ...id, ...position },
    body: bytesOf(format.body, format.bodyBin),
  };
}

const textOfData = (data: unknown) => (typeof data === "string" ? data : JSON.stringify(data ?? null));

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** `?since=OFFSET:EPOCH` (what a poll answer's `X-Herald-Since` says); the core checks the values. */
function positionOf(value: string | null): { offset: number; epoch: string } | undefined {
  if (value === null || value === "") return undefined;
  const match = /^(\d+):(.+)$/.exec(value);
  if (!match) throw new HeraldError(ErrorCode.BadRequest, "since must be OFFSET:EPOCH (a poll answer's X-Herald-Since)");
  return { offset: Number(match[1]), epoch: match[2]! };
}

/** `?timeout=` seconds: a whole number from 1 to the cap; the default without one. */
function timeoutOf(value: string | null, config: GripConfig): number {
  if (value === null || value === "") return config.pollTimeoutSeconds;
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || seconds < 1 || seconds > config.maxPollTimeoutSeconds) {
    throw new HeraldError(ErrorCode.BadRequest, `timeout must be a whole number of seconds from 1 to ${config.maxPollTimeoutSeconds}`, {
      limit: config.maxPollTimeoutSeconds,
    });
  }
  return seconds;
}

/** The HTTP answer of a refusal: the code's status and a plain-text reason; anything else is logged and masked. */
function httpAnswer(error: unknown, logger: Pick<Logger, "error">): { status: number; body: string } {
  if (error instanceof HeraldError && error.code !== ErrorCode.Internal) return { status: httpStatusOf(error.code), body: `${error.message}\n` };
  logger.error({ err: error }, "GRIP subscriber endpoint failed");
  return { status: 500, body: "Internal server error\n" };
}

/** Refuses a WebSocket handshake with an HTTP answer, as a server that never upgraded. */
function refuseUpgrade(socket: Duplex, error: unknown, logger: Pick<Logger, "error">) {
  const { status, body } = httpAnswer(error, logger);
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
