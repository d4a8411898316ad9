import { createHash } from "node:crypto";
import { Agent, request } from "node:http";
import { signPusherRequest } from "../../src/rest/pusher/signature.ts";
import type { PublishPath } from "./jobs.ts";

/**
 * Publishes benchmark messages through a server's own publish path over keep-alive HTTP. Every
 * message's data is `{ t, seq }`: `t` is `performance.now()` when the request is written, so a
 * subscriber in the same process gets publish → receive latency by subtraction. With
 * `payloadBytes`, a `pad` string of that length follows them.
 */
export interface Publisher {
  /** Never rejects: a failed request resolves with `ok: false` (status 0 if no response). */
  publish(channels: readonly string[], seq: number): Promise<PublishOutcome>;
  close(): void;
}

export interface PublishOutcome {
  readonly ok: boolean;
  readonly status: number;
}

export const PUBLISH_MUTATION = /* GraphQL */ `mutation BenchPublish($input: PublishInput!) { publish(input: $input) { id } }`;
const EVENT = "bench";
/** A publish without a response by then counts as failed. */
export const REQUEST_TIMEOUT_MS = 30_000;

export function createPublisher(path: PublishPath, options: { maxSockets: number; payloadBytes?: number; onProblem(text: string): void }): Publisher {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const base = new URL(path.url);

  const post = (target: string, headers: Record<string, string>, body: string, retried = false): Promise<PublishOutcome> =>
    new Promise<PublishOutcome>((resolve) => {
      const req = request(
        {
          agent,
          method: "POST",
          host: base.hostname,
          port: base.port,
          path: target,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString("utf8");
            // GraphQL reports failures with 200 and an `errors` array.
            const ok = status >= 200 && status < 300 && !text.includes('"errors"');
            if (!ok) options.onProblem(`publish ${target.split("?", 1)[0]} → ${status}: ${text.slice(0, 200)}`);
            resolve({ ok, status });
          });
          res.on("error", () => resolve({ ok: false, status: 0 }));
        },
      );
      req.on("error", (error: NodeJS.ErrnoException) => {
        // The server closed an idle keep-alive socket as we reused it: the request never
        // reached it, so sending it again cannot duplicate it (Node's documented remedy).
        if (req.reusedSocket && error.code === "ECONNRESET" && !retried) return resolve(post(target, headers, body, true));
        options.onProblem(`publish request failed: ${error.message}`);
        resolve({ ok: false, status: 0 });
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no response in ${REQUEST_TIMEOUT_MS} ms`)));
      req.end(body);
    });

  const pad = options.payloadBytes ? "x".repeat(options.payloadBytes) : undefined;
  const data = pad === undefined ? (seq: number) => ({ t: performance.now(), seq }) : (seq: number) => ({ t: performance.now(), seq, pad });

  return { publish: publishFunction(), close: () => agent.destroy() };

  function publishFunction(): Publisher["publish"] {
    switch (path.kind) {
      case "graphql": {
        const headers = { authorization: `Bearer ${path.secret}` };
        return (channels, seq) =>
          post("/graphql", headers, JSON.stringify({ query: PUBLISH_MUTATION, variables: { input: { channels, event: EVENT, data: data(seq) } } }));
      }
      case "limit":
        return (channels, seq) => post("/publish", {}, JSON.stringify({ channels, event: EVENT, data: data(seq) }));
      case "grip": {
        // A ws-message item per channel: its content is the data's JSON, which Herald delivers as `data`.
        const target = `/service/${path.serviceId}/publish/`;
        const headers = { authorization: `Bearer ${path.secret}` };
        return (channels, seq) => {
          const content = JSON.stringify(data(seq));
          return post(target, headers, JSON.stringify({ items: channels.map((channel) => ({ channel, formats: { "ws-message": { content } } })) }));
        };
      }
      case "pusher": {
        const target = `/apps/${path.appId}/events`;
        return (channels, seq) => {
          // Pusher's `data` is a string; the signature covers the body through body_md5.
          const body = JSON.stringify({ name: EVENT, channels, data: JSON.stringify(data(seq)) });
          const query = new URLSearchParams({
            auth_key: path.key,
            auth_timestamp: String(Math.floor(Date.now() / 1000)),
            auth_version: "1.0",
            body_md5: createHash("md5").update(body).digest("hex"),
          });
          query.set("auth_signature", signPusherRequest(path.secret, "POST", target, query));
          return post(`${target}?${query}`, {}, body);
        };
      }
    }
  }
}

/**
 * Calls `send(i)` for i = 0 … count−1 at `ratePerSecond`, catching up after a late timer but
 * never with more than `maxInFlight` unresolved sends: a server that cannot keep up slows the
 * publisher down instead of piling requests up (the achieved rate is then below the asked one).
 * Nothing new is sent after `maxDurationMs`; `sent` tells how many went out.
 */
export async function sendPaced(options: {
  count: number;
  ratePerSecond: number;
  maxInFlight: number;
  maxDurationMs: number;
  send(i: number): Promise<unknown>;
}): Promise<{ elapsedMs: number; sent: number }> {
  const { ratePerSecond, maxInFlight, maxDurationMs, send } = options;
  let count = options.count;
  const startedAt = performance.now();
  let next = 0;
  let inFlight = 0;
  let settled: () => void = () => {};
  const allSent = new Promise<void>((resolve) => (settled = resolve));
  if (count === 0) return { elapsedMs: 0, sent: 0 };

  const pump = () => {
    if (performance.now() - startedAt > maxDurationMs) {
      count = next; // give up on the rest
      if (inFlight === 0) settled();
      return;
    }
    const due = Math.min(count, Math.floor(((performance.now() - startedAt) * ratePerSecond) / 1000) + 1);
    while (next < due && inFlight < maxInFlight) {
      inFlight++;
      void send(next++).finally(() => {
        inFlight--;
        if (next === count && inFlight === 0) settled();
      });
    }
    if (next < count) {
      // Sleep until the next message is due (a free in-flight slot is picked up then too).
      const wait = Math.max(1, ((next + 1) * 1000) / ratePerSecond - (performance.now() - startedAt));
      setTimeout(pump, Math.min(wait, 20));
    }
  };
  pump();
  await allSent;
  return { elapsedMs: performance.now() - startedAt, sent: next };
}

/** `concurrency` loops each sending back-to-back until `durationMs` has passed. */
export async function sendClosedLoop(options: {
  concurrency: number;
  durationMs: number;
  send(): Promise<unknown>;
}): Promise<{ elapsedMs: number }> {
  const startedAt = performance.now();
  const deadline = startedAt + options.durationMs;
  const worker = async () => {
    while (performance.now() < deadline) await options.send();
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return { elapsedMs: performance.now() - startedAt };
}
