import type { Server } from "node:http";
import type { ExecutionArgs, execute, subscribe } from "graphql";
import { CloseCode, handleProtocols, makeServer } from "graphql-ws";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import type { HeraldCore } from "../core/herald.ts";
import type { Caller, Connection } from "../core/types.ts";
import { ErrorCode, isHeraldError } from "../errors.ts";
import { HeraldCloseCode } from "./close-codes.ts";
import { createFastPath, type FastSubscription } from "./fast-path.ts";
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
}

export interface WsTransport {
  /** Closes every socket with `code` and stops accepting. */
  close(code?: number, reason?: string): Promise<void>;
  /** Sockets dropped because they did not read fast enough. */
  readonly slowConsumerDisconnects: number;
}

/** What graphql-ws keeps per socket. Not the upgrade request: nothing needs it after the handshake. */
interface Extra {
  readonly socket: WebSocket;
}

/** What the fast path keeps per socket: its subscriptions by operation id. */
interface SocketState {
  readonly fast: Map<string, FastSubscription | "starting">;
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
}: WsTransportOptions): WsTransport {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, handleProtocols });
  const connections = new WeakMap<WebSocket, Connection>();
  const fastPath = createFastPath({ schema: yoga.getEnveloped().schema, maskError });
  let slowConsumerDisconnects = 0;

  const callerOf = (socket: WebSocket): Caller => {
    const connection = connections.get(socket);
    return connection ? { role: "subscriber", app: connection.app, connection } : { role: "anonymous", problem: "Connection not initialised" };
  };

  const protocol = makeServer<Record<string, unknown> | undefined, Extra>({
    connectionInitWaitTimeout: connectionInitTimeoutMs,
    execute: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).execute(args),
    subscribe: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).subscribe(args),
    onConnect: (ctx) => {
      const params = ctx.connectionParams ?? {};
      const key = typeof params.key === "string" ? params.key : undefined;
      const app = key === undefined ? undefined : herald.apps.byKey(key);
      if (!app) return false; // graphql-ws closes with 4403 Forbidden
      const socket = ctx.extra.socket;
      try {
        const connection = herald.connect(app, "ws", {
          token: params.token,
          onTerminate: (reason) => socket.close(HeraldCloseCode.Terminated, reason),
        });
        connections.set(socket, connection);
        return { socketId: connection.socketId };
      } catch (error) {
        if (isHeraldError(error) && error.code === ErrorCode.TooManyConnections) {
          socket.close(HeraldCloseCode.TooManyConnections, "Too many connections");
          return false;
        }
        if (isHeraldError(error)) return false;
        throw error;
      }
    },
    onSubscribe: async (ctx, _id, payload) => {
      const enveloped = yoga.getEnveloped({ caller: callerOf(ctx.extra.socket), socket: ctx.extra.socket, params: payload });
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
    onClose: (ctx) => {
      connections.get(ctx.extra.socket)?.close();
      connections.delete(ctx.extra.socket);
    },
  });

  /** Sends without waiting; a socket that cannot keep up is dropped rather than buffered forever. */
  function sendTo(socket: WebSocket, data: string | Buffer) {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > maxSocketBufferBytes) {
      slowConsumerDisconnects++;
      socket.close(HeraldCloseCode.SlowConsumer, "Slow consumer: too much unsent data");
      return;
    }
    socket.send(data, TEXT_FRAME);
  }

  /** Handles a `subscribe` or `complete` message on the fast path; false to let graphql-ws have it. */
  function handleFast(socket: WebSocket, state: SocketState, text: string): boolean {
    if (!text.startsWith("{") || !connections.has(socket)) return false;
    let message: { type?: unknown; id?: unknown; payload?: { query?: unknown; operationName?: unknown; variables?: unknown } };
    try {
      message = JSON.parse(text);
    } catch {
      return false;
    }
    if (message.type === "complete" && typeof message.id === "string" && state.fast.has(message.id)) {
      const subscription = state.fast.get(message.id)!;
      state.fast.delete(message.id);
      if (subscription !== "starting") subscription.stop();
      return true;
    }
    if (message.type !== "subscribe" || typeof message.id !== "string" || typeof message.payload?.query !== "string") return false;
    const { id, payload } = message as { id: string; payload: { query: string; operationName?: unknown; variables?: unknown } };
    const operation = fastPath.analyse(payload.query, typeof payload.operationName === "string" ? payload.operationName : undefined);
    if (!operation) return false;
    if (state.fast.has(id)) {
      socket.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
      return true;
    }
    const variables = isRecord(payload.variables) ? payload.variables : undefined;
    state.fast.set(id, "starting");
    const contextValue = { herald, caller: callerOf(socket) };
    let ended = false;
    const onEnd = () => {
      ended = true;
      if (state.fast.get(id) !== "starting") state.fast.delete(id);
    };
    fastPath
      .start(operation, id, variables, contextValue, (data) => sendTo(socket, data), onEnd)
      .then((subscription) => {
        if (ended) return void state.fast.delete(id);
        // The client completed (or the socket closed) while the subscription was starting.
        if (state.fast.get(id) !== "starting") return subscription.stop();
        state.fast.set(id, subscription);
      })
      .catch((error) => {
        state.fast.delete(id);
        logger.error({ err: error }, "fast-path subscribe failed");
        sendTo(socket, JSON.stringify({ id, type: "error", payload: [maskError(error)] }));
      });
    return true;
  }

  wss.on("connection", (socket) => {
    const state: SocketState = { fast: new Map() };
    let onMessage: ((data: string) => Promise<void>) | undefined;
    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        send: async (data) => sendTo(socket, data),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) => (onMessage = cb),
      },
      { socket },
    );
    socket.on("message", (raw) => {
      const text = String(raw);
      if (handleFast(socket, state, text)) return;
      onMessage?.(text).catch((error: unknown) => {
        logger.error({ err: error }, "graphql-ws message handling failed");
        socket.close(CloseCode.InternalServerError, "Internal server error");
      });
    });
    socket.once("error", (error) => {
      logger.warn({ err: error }, "websocket error");
      socket.close(CloseCode.InternalServerError, "Internal server error");
    });
    socket.once("close", (code, reason) => {
      for (const subscription of state.fast.values()) if (subscription !== "starting") subscription.stop();
      state.fast.clear();
      void closed(code, String(reason));
    });
  });

  // Dead peers (a laptop lid closed) never send a close frame: ping, and drop who stays silent.
  const alive = new WeakSet<WebSocket>();
  wss.on("connection", (socket) => {
    alive.add(socket);
    socket.on("pong", () => alive.add(socket));
  });
  const pinger = setInterval(() => {
    for (const socket of wss.clients) {
      if (!alive.has(socket)) {
        socket.close(HeraldCloseCode.PingTimeout, "Ping timeout");
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, pingIntervalMs);
  pinger.unref();

  wss.on("error", (error) => logger.error({ err: error }, "websocket server error"));

  return {
    get slowConsumerDisconnects() {
      return slowConsumerDisconnects;
    },
    close(code = HeraldCloseCode.GoingAway, reason = "Server shutting down") {
      clearInterval(pinger);
      for (const socket of wss.clients) socket.close(code, reason);
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Every protocol message is a text frame, whether handed over as a string or as UTF-8 bytes. */
const TEXT_FRAME = { binary: false } as const;

interface EnvelopedRoot {
  execute: typeof execute;
  subscribe: typeof subscribe;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
