/**
 * The bare REST baseline for the REST publish scenario: the least a Pusher-compatible
 * `POST /apps/:appId/events` can do. Node `http`, the Pusher signature check Herald uses
 * (`verifyPusherRequest`), a minimal body check, one Redis PUBLISH per channel, `{}` back.
 */
import { createServer } from "node:http";
import { Redis } from "ioredis";
import { verifyPusherRequest } from "../src/rest/pusher/signature.ts";
import { answerHealth, readBody, readReferenceServerEnv, serveUntilStopped } from "./lib/reference-server.ts";

const env = readReferenceServerEnv();
const app = { id: env.appId, key: env.appKey, secret: env.appSecret };
const ROUTE = /^\/apps\/([^/]+)\/events\/?$/;

const publisher = new Redis(env.redisUrl, { enableAutoPipelining: true });

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  if (answerHealth(req, res, [publisher])) return;
  const match = ROUTE.exec(url.pathname);
  if (req.method !== "POST" || !match) return res.writeHead(404).end();
  const rawBody = await readBody(req);
  if (!rawBody) return res.writeHead(413).end();
  try {
    verifyPusherRequest({ method: req.method, path: url.pathname, query: url.searchParams, rawBody }, (key) => (key === app.key ? app : undefined), {
      maxClockSkewSeconds: 600,
    });
  } catch (error) {
    return res.writeHead(401).end((error as Error).message);
  }
  if (match[1] !== app.id) return res.writeHead(404).end();

  let body: { name?: unknown; channels?: unknown; channel?: unknown; data?: unknown };
  try {
    body = JSON.parse(rawBody.toString("utf8"));
  } catch {
    return res.writeHead(400).end("body must be JSON");
  }
  const channels = Array.isArray(body.channels) ? body.channels : [body.channel];
  const valid =
    typeof body.name === "string" &&
    typeof body.data === "string" &&
    channels.length > 0 &&
    channels.length <= 100 &&
    channels.every((c) => typeof c === "string" && c.length > 0);
  if (!valid) return res.writeHead(400).end("name, data (string) and channels are required");

  const message = JSON.stringify({ event: body.name, data: body.data });
  await Promise.all((channels as string[]).map((channel) => publisher.publish(`${env.redisPrefix}${channel}`, message)));
  res.writeHead(200, { "content-type": "application/json" }).end("{}");
});

serveUntilStopped(server, env.port, () => publisher.disconnect());
