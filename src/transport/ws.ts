import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { GraphQLError, type ExecutionArgs, type execute, type subscribe } from "graphql";
import { CloseCode, handleProtocols, makeServer } from "graphql-ws";
import type { Logger } from "pino";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { authenticate } from "../core/auth.ts";
import type { HeraldCore } from "../core/herald.ts";
import { isRecord } from "../core/validation.ts";
import type { Caller, Connection } from "../core/types.ts";
import type { HeraldContext } from "../schema/context.ts";
import { closeFor, HeraldCloseCode } from "./close-codes.ts";
import type { DocumentPolicy } from "./document-policy.ts";
import { createFastPath, type FastSubscriber, type FastSubscription } from "./fast-path.ts";
import { createWriteCoalescer, type CoalescedWriter, type WriteCoalescer } from "./write-coalescer.ts";
import { idleStream, writeTextFrame } from "./ws-frames.ts";
import type { HeraldYoga } from "./yoga.ts";

export interface WsTransportOptions {
  server: Server;
  yoga: HeraldYoga;
  herald: HeraldCore;
  logger: Logger;
  /** Maps any error to what a client may see (the GraphQL surface's mapper). */
  maskError: (error: unknown) => Error;
  connectionInitTimeoutMs?: number;
  /** Interval of WebSocket pings; a socket that missed one pong is closed. */
  pingIntervalMs?: number;
  /** A socket whose unsent data passes this is dropped as a slow consumer (close 4032). */
  maxSocketBufferBytes?: number;
  /** Largest message a client may send; `ws` closes the socket with 1009 past it, before buffering more. */
  maxMessageBytes?: number;
  /** The bounds every document passes (shared with Yoga and the fast path). */
  documents: DocumentPolicy;
  /** WebSocket paths another transport's upgrade listener serves (Pusher's `/app/:key`); others get 400. */
  servedElsewhere?: (pathname: string) => boolean;
}

export interface WsTransport {
  /** Closes every socket with `code` and stops accepting. */
  close(code?: number, reason?: string): Promise<void>;
  /** Sockets dropped because they did not read fast enough. */
  readonly slowConsumerDisconnects: number;
}

/**
 * A `ws` socket that carries its Herald session, so the socket's listeners can be functions
 * shared by every socket (`this` is the socket) instead of closures per socket.
 */
class HeraldSocket extends WebSocket {
  session: Session | undefined;
}

/** What every session shares: the transport's settings and counters. */
interface SessionDeps {
  readonly herald: HeraldCore;
  readonly maxSocketBufferBytes: number;
  readonly coalescer: WriteCoalescer;
  slowConsumerDisconnects: number;
}

const ANONYMOUS: Caller = { role: "anonymous", problem: "Connection not initialised" };

/**
 * Herald's side of one socket, in one object (an idle connection costs what it keeps): what
 * graphql-ws sees of the socket (`protocol`, `send`, `close`, `onMessage`) and as its `extra`,
 * the core connection once acknowledged, the fast path's subscriber, and the ping flag.
 */
class Session implements FastSubscriber, CoalescedWriter {
  connection: Connection | undefined = undefined;
  /** What fast-path executions see; one per connection, shared by its subscriptions. */
  #context: HeraldContext | undefined = undefined;
  /** The fast path's subscriptions by operation id (made with the first). */
  fast: Map<string, FastSubscription> | undefined = undefined;
  /** Cleared by each ping round, set again by the pong. */
  alive = true;
  /** graphql-ws's handler of the messages the fast path leaves to it. */
  handleMessage: ((data: string) => Promise<void>) | undefined = undefined;
  /** graphql-ws's operations of this socket by id (its context's, set on connect). */
  protocolSubscriptions: Readonly<Record<string, unknown>> | undefined = undefined;
  /** Tells graphql-ws that the socket closed. */
  closed: ((code: number, reason: string) => Promise<void>) | undefined = undefined;
  /** Runs until `connection_init` arrives; dropped then, so an idle socket keeps no timer. */
  initTimer: NodeJS.Timeout | undefined = undefined;
  /** The write coalescer's mark: the turn of the event loop this socket was last written in. */
  writeTurn = 0;

  readonly #deps: SessionDeps;

  constructor(
    readonly socket: HeraldSocket,
    deps: SessionDeps,
  ) {
    this.#deps = deps;
  }

  get protocol() {
    return this.socket.protocol;
  }

  get caller(): Caller {
    return this.#context?.caller ?? ANONYMOUS;
  }

  get context(): HeraldContext {
    return this.#context ?? { herald: this.#deps.herald, caller: ANONYMOUS };
  }

  open(connection: Connection) {
    this.connection = connection;
    this.#context = { herald: this.#deps.herald, caller: { role: "subscriber", app: connection.app, connection } };
  }

  /** Closes the core connection (ending its subscriptions); the socket is gone. */
  dispose() {
    this.connection?.close();
    this.connection = undefined;
    this.#context = undefined;
  }

  /** Sends without waiting; a socket that cannot keep up is dropped rather than buffered forever. */
  send(data: string | Buffer) {
    if (this.#writable()) this.socket.send(data, TEXT_FRAME);
  }

  sendJoined(head: Buffer, tail: Buffer) {
    if (!this.#writable()) return;
    const raw = idleStream(this.socket);
    if (raw) {
      this.#deps.coalescer.beforeWrite(this, raw);
      writeTextFrame(raw, head, tail);
    } else {
      this.socket.send(Buffer.concat([head, tail], head.length + tail.length), TEXT_FRAME);
    }
  }

  /** Open and keeping up; a socket past the buffer bound is closed as a slow consumer. */
  #writable(): boolean {
    const socket = this.socket;
    if (socket.readyState !== socket.OPEN) return false;
    if (socket.bufferedAmount > this.#deps.maxSocketBufferBytes) {
      this.#deps.slowConsumerDisconnects++;
      socket.close(HeraldCloseCode.SlowConsumer, "Slow consumer: too much unsent data");
      return false;
    }
    return true;
  }

  close(code?: number, reason?: string) {
    this.socket.close(code, reason);
  }

  onMessage(handler: (data: string) => Promise<void>) {
    this.handleMessage = handler;
  }

  ended(subscription: FastSubscription) {
    if (this.fast?.get(subscription.id) === subscription) this.fast.delete(subscription.id);
  }

  /** Every fast subscription ends with the socket (also those still starting). */
  stopFast() {
    if (!this.fast) return;
    for (const subscription of this.fast.values()) subscription.stop();
    this.fast.clear();
  }
}

/**
 * GraphQL over WebSocket (graphql-ws, `graphql-transport-ws`). graphql-ws's protocol core
 * (`makeServer`) runs behind a thin adapter for `ws`, executing through Yoga's envelop so both
 * transports share plugins, masking and context. The app key comes in `connectionParams.key`
 * (and a subscriber token in `connectionParams.token`); `connection_ack` carries the
 * connection's Pusher-shaped `socketId`. `channel` subscriptions of acknowledged connections take
 * the fast path (fast-path.ts): one execution and serialization per message per operation.
 */
export function useGraphqlWs({
  server,
  yoga,
  herald,
  logger,
  maskError,
  connectionInitTimeoutMs = 3_000, // 3 seconds
  pingIntervalMs = 30_000, // 30 seconds
  maxSocketBufferBytes = 4 * 1024 * 1024, // 4 MiB
  maxMessageBytes = 256 * 1024, // 256 KiB
  documents,
  servedElsewhere = () => false,
}: WsTransportOptions): WsTransport {
  // Not `{ server, path }`: `ws` would answer 400 to every other path, other transports' too.
  const wss = new WebSocketServer<typeof HeraldSocket>({ noServer: true, handleProtocols, WebSocket: HeraldSocket, maxPayload: maxMessageBytes });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? "/").split("?", 1)[0]!;
    if (pathname === yoga.graphqlEndpoint) wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
    else if (!servedElsewhere(pathname)) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });
  const fastPath = createFastPath({ schema: yoga.getEnveloped().schema, maskError, documents });
  const deps: SessionDeps = { herald, maxSocketBufferBytes, coalescer: createWriteCoalescer(), slowConsumerDisconnects: 0 };

  const protocol = makeServer<Record<string, unknown> | undefined, Session>({
    // The connection_init timeout is ours (see `initTimer`): graphql-ws would keep its timer
    // (and the closure that fired it) for the whole life of every socket.
    connectionInitWaitTimeout: Infinity,
    execute: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).execute(args),
    subscribe: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).subscribe(args),
    onConnect: (ctx) => {
      const session = ctx.extra;
      clearTimeout(session.initTimer);
      session.initTimer = undefined;
      session.protocolSubscriptions = ctx.subscriptions;
      const params = ctx.connectionParams ?? {};
      const caller = authenticate(herald.apps, { key: typeof params.key === "string" ? params.key : undefined });
      if (caller.role !== "subscriber") return false; // graphql-ws closes with 4403 Forbidden
      try {
        const onTerminate = (reason: string) => session.close(HeraldCloseCode.Terminated, reason);
        session.open(herald.connect(caller.app, "ws", { token: params.token, onTerminate }));
        return { socketId: session.connection!.socketId };
      } catch (error) {
        const { code, reason } = closeFor(error, logger);
        session.close(code, reason);
        return false;
      }
    },
    onSubscribe: async (ctx, id, payload) => {
      const session = ctx.extra;
      // One id, one operation, whichever path took the first (graphql-ws checks only its own).
      if (session.fast?.has(id)) {
        session.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
        return [new GraphQLError(`Subscriber for ${id} already exists`)];
      }
      const enveloped = yoga.getEnveloped({ caller: session.caller, socket: session.socket, params: payload });
      let document;
      try {
        document = enveloped.parse(payload.query);
      } catch (error) {
        return [error as never];
      }
      const errors = enveloped.validate(enveloped.schema, document);
      if (errors.length > 0) return errors;
      const args: ExecutionArgs = {
        schema: enveloped.schema,
        operationName: payload.operationName,
        document,
        variableValues: payload.variables,
        contextValue: await enveloped.contextFactory(),
        rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies EnvelopedRoot,
      };
      return args;
    },
    onClose: (ctx) => ctx.extra.dispose(),
  });

  /** Handles a `subscribe` or `complete` message on the fast path; false to let graphql-ws have it. */
  function handleFast(session: Session, text: string): boolean {
    if (!text.startsWith("{") || !session.connection) return false;
    let message: { type?: unknown; id?: unknown; payload?: { query?: unknown; operationName?: unknown; variables?: unknown } };
    try {
      message = JSON.parse(text);
    } catch {
      return false;
    }
    if (message.type === "complete" && typeof message.id === "string") {
      const subscription = session.fast?.get(message.id);
      if (!subscription) return false;
      session.fast!.delete(message.id);
      subscription.stop();
      return true;
    }
    if (message.type !== "subscribe" || typeof message.id !== "string" || typeof message.payload?.query !== "string") return false;
    const { id, payload } = message as { id: string; payload: { query: string; operationName?: unknown; variables?: unknown } };
    const operation = fastPath.analyse(payload.query, typeof payload.operationName === "string" ? payload.operationName : undefined);
    if (!operation) return false;
    const fast = (session.fast ??= new Map());
    if (fast.has(id) || (session.protocolSubscriptions !== undefined && id in session.protocolSubscriptions)) {
      session.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
      return true;
    }
    const subscription = fastPath.subscription(operation, id, session);
    fast.set(id, subscription);
    subscription.start(isRecord(payload.variables) ? payload.variables : undefined).catch((error) => {
      session.ended(subscription);
      logger.error({ err: error }, "fast-path subscribe failed");
      session.send(JSON.stringify({ id, type: "error", payload: [maskError(error)] }));
    });
    return true;
  }

  // The socket's listeners, shared by every socket: `this` is the socket.
  function onSocketMessage(this: WebSocket, raw: RawData) {
    const session = sessionOf(this);
    const text = String(raw);
    if (handleFast(session, text)) return;
    session.handleMessage?.(text).catch((error: unknown) => {
      logger.error({ err: error }, "graphql-ws message handling failed");
      session.close(CloseCode.InternalServerError, "Internal server error");
    });
  }
  function onSocketError(this: WebSocket, error: Error) {
    logger.warn({ err: error }, "websocket error");
    this.close(CloseCode.InternalServerError, "Internal server error");
  }
  function onSocketClose(this: WebSocket, code: number, reason: Buffer) {
    const session = sessionOf(this);
    clearTimeout(session.initTimer);
    session.initTimer = undefined;
    session.stopFast();
    void session.closed?.(code, String(reason));
  }
  function onSocketPong(this: WebSocket) {
    sessionOf(this).alive = true;
  }
  function onInitTimeout(session: Session) {
    session.initTimer = undefined;
    session.close(CloseCode.ConnectionInitialisationTimeout, "Connection initialisation timeout");
  }

  wss.on("connection", (socket: HeraldSocket) => {
    const session = new Session(socket, deps);
    socket.session = session;
    session.closed = protocol.opened(session, session);
    if (connectionInitTimeoutMs > 0 && Number.isFinite(connectionInitTimeoutMs) && socket.readyState === socket.OPEN) {
      session.initTimer = setTimeout(onInitTimeout, connectionInitTimeoutMs, session);
    }
    socket.on("message", onSocketMessage);
    socket.on("error", onSocketError);
    socket.on("close", onSocketClose);
    // Dead peers (a laptop lid closed) never send a close frame: ping, and drop who stays silent.
    socket.on("pong", onSocketPong);
  });

  const pinger = setInterval(() => {
    for (const socket of wss.clients) {
      const session = socket.session!;
      if (!session.alive) {
        socket.close(HeraldCloseCode.PingTimeout, "Ping timeout");
        continue;
      }
      session.alive = false;
      socket.ping();
    }
  }, pingIntervalMs);
  pinger.unref();

  wss.on("error", (error) => logger.error({ err: error }, "websocket server error"));

  return {
    get slowConsumerDisconnects() {
      return deps.slowConsumerDisconnects;
    },
    close(code = HeraldCloseCode.GoingAway, reason = "Server shutting down") {
      clearInterval(pinger);
      for (const socket of wss.clients) socket.close(code, reason);
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Every socket of the server is a HeraldSocket whose session was set on `connection`. */
function sessionOf(socket: WebSocket): Session {
  return (socket as HeraldSocket).session!;
}

/** Every protocol message is a text frame, whether handed over as a string or as UTF-8 bytes. */
const TEXT_FRAME = { binary: false } as const;

interface EnvelopedRoot {
  execute: typeof execute;
  subscribe: typeof subscribe;
}
