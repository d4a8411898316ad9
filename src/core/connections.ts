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
  /** Forgets a connection and frees its slot; false if it was already gone. */
  const release = (connection: LiveConnection) => {
    if (!connections.delete(connection)) return false;
    perApp.set(connection.app.id, (perApp.get(connection.app.id) ?? 1) - 1);
    return true;
  };

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
      const connection = new OpenConnection(app, user, `${socketPrefix}.${++socketCounter}`, transport, options.onTerminate, release);
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

/**
 * A connection lives as long as its socket, so it is a class: its methods are shared by every
 * connection, where an object of closures would carry them (and their contexts) per connection.
 */
class OpenConnection implements LiveConnection {
  readonly subscriptions = new Set<SubscriberQueue<ChannelEvent>>();
  readonly #onTerminate: ((reason: string) => void) | undefined;
  readonly #release: (connection: LiveConnection) => boolean;

  constructor(
    readonly app: App,
    public user: ConnectionUser | undefined,
    readonly socketId: string,
    readonly transport: Connection["transport"],
    onTerminate: ((reason: string) => void) | undefined,
    release: (connection: LiveConnection) => boolean,
  ) {
    this.#onTerminate = onTerminate;
    this.#release = release;
  }

  close() {
    if (!this.#release(this)) return;
    for (const queue of [...this.subscriptions]) void queue.return();
  }

  signIn(userId: string, info: unknown) {
    this.user = { id: userId, claims: { sub: userId, info } };
  }

  terminate(reason: string) {
    if (this.#onTerminate) this.#onTerminate(reason);
    this.close();
  }
}
