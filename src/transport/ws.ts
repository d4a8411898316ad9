import type { Server } from "node:http";
import { execute, subscribe, type ExecutionArgs } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import type { HeraldCore } from "../core/herald.ts";
import type { Caller, Connection } from "../core/types.ts";
import { ErrorCode, isHeraldError } from "../errors.ts";
import { HeraldCloseCode } from "./close-codes.ts";
import type { HeraldYoga } from "./yoga.ts";

export interface WsTransportOptions {
  server: Server;
  yoga: HeraldYoga;
  herald: HeraldCore;
  logger: Logger;
  connectionInitTimeoutMs?: number;
  /** Interval of WebSocket pings; a socket that missed one pong is closed. */
  pingIntervalMs?: number;
}

export interface WsTransport {
  /** Closes every socket with `code` and stops accepting. */
  close(code?: number, reason?: string): Promise<void>;
}

/**
 * GraphQL over WebSocket (graphql-ws, `graphql-transport-ws`), executed through Yoga's envelop
 * so both transports share plugins, masking and context. The app key comes in
 * `connectionParams.key`; `connection_ack` carries the connection's Pusher-shaped `socketId`.
 */
export function useGraphqlWs({
  server,
  yoga,
  herald,
  logger,
  connectionInitTimeoutMs = 3_000, // 3 seconds
  pingIntervalMs = 30_000, // 30 seconds
}: WsTransportOptions): WsTransport {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const connections = new WeakMap<WebSocket, Connection>();

  useServer(
    {
      connectionInitWaitTimeout: connectionInitTimeoutMs,
      execute: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onConnect: (ctx) => {
        const params = ctx.connectionParams ?? {};
        const key = typeof params.key === "string" ? params.key : undefined;
        const app = key === undefined ? undefined : herald.apps.byKey(key);
        if (!app) return false; // graphql-ws closes with 4403 Forbidden
        try {
          const socket = ctx.extra.socket;
          const connection = herald.connect(app, "ws", {
            token: params.token,
            onTerminate: (reason) => socket.close(HeraldCloseCode.Terminated, reason),
          });
          connections.set(ctx.extra.socket, connection);
          return { socketId: connection.socketId };
        } catch (error) {
          if (isHeraldError(error) && error.code === ErrorCode.TooManyConnections) {
            ctx.extra.socket.close(HeraldCloseCode.TooManyConnections, "Too many connections");
            return false;
          }
          if (isHeraldError(error)) return false;
          throw error;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        const connection = connections.get(ctx.extra.socket);
        const caller: Caller = connection
          ? { role: "subscriber", app: connection.app, connection }
          : { role: "anonymous", problem: "Connection not initialised" };
        const enveloped = yoga.getEnveloped({ caller, req: ctx.extra.request, socket: ctx.extra.socket, params: payload });
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
    },
    wss,
  );

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
    close(code = HeraldCloseCode.GoingAway, reason = "Server shutting down") {
      clearInterval(pinger);
      for (const socket of wss.clients) socket.close(code, reason);
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

interface EnvelopedRoot {
  execute: typeof execute;
  subscribe: typeof subscribe;
}
