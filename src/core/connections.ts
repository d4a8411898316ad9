import { randomInt } from "node:crypto";
import type { App, Limits } from "../config.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { assertEnabled } from "./apps.ts";
import type { SubscriberQueue } from "./subscriber-queue.ts";
import type { ChannelEvent, Connection } from "./types.ts";

/** A connection as the core holds it: its subscriptions are the core's to add and remove. */
export interface LiveConnection extends Connection {
  readonly subscriptions: Set<SubscriberQueue<ChannelEvent>>;
}

export interface ConnectionRegistry {
  /** Opens a connection of `app` (throws `TOO_MANY_CONNECTIONS` past the per-app limit). */
  connect(app: App, transport: Connection["transport"]): LiveConnection;
  count(appId?: string): number;
  all(): Iterable<LiveConnection>;
}

export function createConnectionRegistry(limits: Pick<Limits, "maxConnectionsPerApp">): ConnectionRegistry {
  const connections = new Set<LiveConnection>();
  const perApp = new Map<string, number>();
  // Socket ids: a random per-process prefix and a counter, unique across instances in practice.
  const socketPrefix = randomInt(1, 2 ** 31);
  let socketCounter = 0;

  return {
    connect(app, transport) {
      assertEnabled(app);
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
        socketId: `${socketPrefix}.${++socketCounter}`,
        transport,
        subscriptions,
        close() {
          if (!connections.delete(connection)) return;
          perApp.set(app.id, (perApp.get(app.id) ?? 1) - 1);
          for (const queue of [...subscriptions]) queue.return();
        },
      };
      connections.add(connection);
      return connection;
    },
    count(appId) {
      return appId === undefined ? connections.size : (perApp.get(appId) ?? 0);
    },
    all: () => [...connections],
  };
}
