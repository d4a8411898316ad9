import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

/** A real HTTP receiver on 127.0.0.1 that records every POST and answers with `respond` (default 200). */
export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** The status to answer the next request with (called per request, in arrival order). */
  respond: (request: Received) => number;
  /** Milliseconds each answer waits (0: at once). */
  delayMs: number;
  /** Resolves once `count` requests matching `filter` arrived (rejects after `ms`). */
  waitFor(count: number, filter?: (r: Received) => boolean, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request = { path: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() };
      received.push(request);
      const status = receiver.respond(request);
      for (const waiter of [...waiters]) waiter();
      setTimeout(() => {
        res.writeHead(status, { "content-type": "text/plain" });
        res.end(status < 300 ? "ok" : "no");
      }, receiver.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}`,
    received,
    respond: () => 200,
    delayMs: 0,
    waitFor(count, filter = () => true, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const matching = received.filter(filter);
          if (matching.length < count) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(matching);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${count} requests; got ${received.filter(filter).length}`));
        }, ms);
        if (!check()) waiters.add(check);
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}
