import { randomInt } from "node:crypto";
import type { App, Limits } from "../config.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { assertEnabled } from "./apps.ts";
import type { SubscriberQueue } from "./subscriber-queue.ts";
import { verifySubscriberToken } from "./auth-tokens.ts";
import type { ChannelEvent, ConnectOptions, Connection, ConnectionUser } from "./types.ts";

/** A connection as the core holds it: its subscriptions are the core's to add and remove. */
export interface LiveConnection extends Connection {
  readonly subscriptions: Set<SubscriberQueue<ChannelEvent>>;
}

export interface ConnectionRegistry {
  /** Opens a connection of `app` (throws `TOO_MANY_CONNECTIONS` past the per-app limit). */
  connect(app: App, transport: Connection["transport"], options?: ConnectOptions): LiveConnection;
  count(appId?: string): number;
  all(): Iterable<LiveConnection>;
  /** This instance's connections of `userId` in `appId` (token `sub`). */
  ofUser(appId: string, userId: string): LiveConnection[];
}

export function createConnectionRegistry(limits: Pick<Limits, "maxConnectionsPerApp">): ConnectionRegistry {
  const connections = new Set<LiveConnection>();
  const perApp = new Map<string, number>();
  // Socket ids: a random per-process prefix and a counter, unique across instances in practice.
  const socketPrefix = randomInt(1, 2 ** 31);
  let socketCounter = 0;

  return {
    connect(app, transport, options = {}) {
      assertEnabled(app);
      let user: ConnectionUser | undefined;
      if (options.token != null) {
        const check = verifySubscriberToken(app.secret, options.token);
        if (!check.ok) throw new HeraldError(ErrorCode.Forbidden, `Invalid connection token: ${check.reason}`);
        user = { id: check.claims.sub, claims: check.claims };
      }
      const open = perApp.get(app.id) ?? 0;
      if (open >= limits.maxConnectionsPerApp) {
        throw new HeraldError(ErrorCode.TooManyConnections, `App ${app.id} has reached ${limits.maxConnectionsPerApp} connections`, {
          limit: limits.maxConnectionsPerApp,
        });
      }
      perApp.set(app.id, open + 1);
      const subscriptions = new Set<SubscriberQueue<ChannelEvent>>();
      const connection: LiveConnection = {
        app,
        user,
        socketId: `${socketPrefix}.${++socketCounter}`,
        transport,
        subscriptions,
        close() {
          if (!connections.delete(connection)) return;
          perApp.set(app.id, (perApp.get(app.id) ?? 1) - 1);
          for (const queue of [...subscriptions]) queue.return();
        },
        terminate(reason) {
          if (options.onTerminate) options.onTerminate(reason);
          connection.close();
        },
      };
      connections.add(connection);
      return connection;
    },
    count(appId) {
      return appId === undefined ? connections.size : (perApp.get(appId) ?? 0);
    },
    all: () => [...connections],
    ofUser: (appId, userId) => [...connections].filter((c) => c.app.id === appId && c.user?.id === userId),
  };
}
