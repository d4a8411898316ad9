import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import type { AddressGuard } from "./address-guard.ts";

/** What one POST to a receiver came to. */
export type SendResult =
  | { readonly ok: true; readonly status: number }
  /** `retry`: a 5xx, 429, timeout or connection error; otherwise given up at once. */
  | { readonly ok: false; readonly retry: boolean; readonly status?: number | undefined; readonly error: string };

export interface Sender {
  send(url: string, headers: Readonly<Record<string, string>>, body: string): Promise<SendResult>;
  close(): void;
}

export interface SenderOptions {
  guard: AddressGuard;
  timeoutMs: number;
  /** Bytes of the response body read; the connection is dropped past them. */
  maxResponseBytes: number;
  /** Sockets per host:port (requests beyond wait for one). */
  maxConcurrencyPerAddress: number;
}

/**
 * POSTs with Node's own client: keep-alive sockets bounded per address, the guard's `lookup` on
 * every new connection, no redirects followed (a 3xx is an answer, and not a success), the
 * response body read only up to a bound.
 */
export function createSender({ guard, timeoutMs, maxResponseBytes, maxConcurrencyPerAddress }: SenderOptions): Sender {
  const agentOptions = { keepAlive: true, maxSockets: maxConcurrencyPerAddress, lookup: guard.lookup };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);

  return {
    send(text, headers, body) {
      const url = new URL(text);
      const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
      // An IP literal is never looked up: check it here.
      const refused = isIP(host) ? guard.refusal(host) : undefined;
      if (refused) return Promise.resolve({ ok: false, retry: false, error: `Refused: ${refused}` });
      const secure = url.protocol === "https:";
      return new Promise<SendResult>((resolve) => {
        let settled = false;
        const settle = (result: SendResult) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(result);
        };
        const request = (secure ? httpsRequest : httpRequest)(url, {
          method: "POST",
          agent: secure ? https : http,
          lookup: guard.lookup,
          headers: { ...headers, "content-length": String(Buffer.byteLength(body)), "user-agent": "Herald-Webhooks/1" },
        });
        const timer = setTimeout(() => {
          request.destroy();
          settle({ ok: false, retry: true, error: `timed out after ${timeoutMs} ms` });
        }, timeoutMs);
        request.on("response", (response: IncomingMessage) => {
          let read = 0;
          response.on("data", (chunk: Buffer) => {
            read += chunk.length;
            if (read > maxResponseBytes) response.destroy(); // enough: only the status matters
          });
          const finish = () => settle(resultOf(response.statusCode ?? 0));
          response.on("end", finish);
          response.on("close", finish);
          response.on("error", finish);
        });
        request.on("error", (error: NodeJS.ErrnoException) => {
          const refusedAddress = error.code === "EREFUSEDADDRESS";
          settle({ ok: false, retry: !refusedAddress, error: error.message || String(error.code) });
        });
        request.end(body);
      });
    },
    close() {
      http.destroy();
      https.destroy();
    },
  };
}

function resultOf(status: number): SendResult {
  if ((status >= 200 && status < 300) || status === 102) return { ok: true, status };
  if (status >= 500 || status === 429) return { ok: false, retry: true, status, error: `HTTP ${status}` };
  if (status >= 300 && status < 400) return { ok: false, retry: false, status, error: `HTTP ${status}: redirects are not followed` };
  return { ok: false, retry: false, status, error: `HTTP ${status}` };
}
