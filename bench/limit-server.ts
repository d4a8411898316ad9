/**
 * The limit server: how fast a bare Node WebSocket broadcaster on Redis can deliver, the
 * ceiling Herald is measured against. It speaks just enough `graphql-transport-ws` for the load
 * generator (init → ack, subscribe with `variables.name`, complete, ping) and does no GraphQL at
 * all:
 * - one Redis SUBSCRIBE per channel, shared by every subscription of that channel;
 * - the event is serialized once, at publish; on each Redis message the `next` frame is built
 *   once and only the subscription id is spliced in per socket;
 * - like Herald, the first `next` of a subscription is `kind: SUBSCRIBED`, sent once Redis
 *   confirmed the SUBSCRIBE.
 * `POST /publish {channels, event?, data}` (or `channel`) publishes with auto-pipelining.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Redis } from "ioredis";
import { WebSocketServer, type WebSocket } from "ws";
import { answerHealth, readBody, readReferenceServerEnv, serveUntilStopped } from "./lib/reference-server.ts";

const env = readReferenceServerEnv();
const topicOf = (channel: string) => `${env.redisPrefix}${channel}`;

const publisher = new Redis(env.redisUrl, { enableAutoPipelining: true });
const subscriber = new Redis(env.redisUrl);

interface Subscription {
  readonly socket: WebSocket;
  readonly channel: string;
  /** `{"id":"<id>"` as bytes: the only per-subscription part of a `next` frame. */
  readonly head: Buffer;
}

/** channel → its subscriptions; a channel is in here exactly while Redis-subscribed. */
const channels = new Map<string, Set<Subscription>>();
/** channel → the SUBSCRIBE confirmation, so a subscription is acknowledged only once live. */
const confirmed = new Map<string, Promise<unknown>>();

const NEXT_MIDDLE = Buffer.from(',"type":"next","payload":{"data":{"channel":');
const NEXT_END = Buffer.from("}}}");

subscriber.on("messageBuffer", (topic: Buffer, event: Buffer) => {
  const members = channels.get(topic.toString("utf8", Buffer.byteLength(env.redisPrefix)));
  if (!members) return;
  // Built once per message; per socket only the id prefix is concatenated in front.
  const tail = Buffer.concat([NEXT_MIDDLE, event, NEXT_END]);
  for (const { socket, head } of members) {
    socket.send(Buffer.concat([head, tail], head.length + tail.length), { binary: false });
  }
});

async function add(subscription: Subscription) {
  let members = channels.get(subscription.channel);
  if (!members) {
    members = new Set();
    channels.set(subscription.channel, members);
    confirmed.set(subscription.channel, subscriber.subscribe(topicOf(subscription.channel)));
  }
  members.add(subscription);
  await confirmed.get(subscription.channel);
}

function remove(subscription: Subscription) {
  const members = channels.get(subscription.channel);
  if (!members?.delete(subscription) || members.size > 0) return;
  channels.delete(subscription.channel);
  confirmed.delete(subscription.channel);
  void subscriber.unsubscribe(topicOf(subscription.channel));
}

const server = createServer(async (req, res) => {
  if (answerHealth(req, res, [publisher, subscriber])) return;
  if (req.method !== "POST" || req.url !== "/publish") return res.writeHead(404).end();
  const body = await readBody(req);
  let input: { channel?: unknown; channels?: unknown; event?: unknown; data?: unknown };
  try {
    input = JSON.parse(body?.toString("utf8") ?? "");
  } catch {
    return res.writeHead(400).end("body must be JSON");
  }
  const targets = Array.isArray(input.channels) ? input.channels : [input.channel];
  if (!targets.every((c): c is string => typeof c === "string" && c.length > 0)) {
    return res.writeHead(400).end("channel(s) must be strings");
  }
  const id = randomUUID();
  const event = typeof input.event === "string" ? input.event : "message";
  const data = JSON.stringify(input.data ?? null);
  const publishedAt = JSON.stringify(new Date().toISOString());
  await Promise.all(
    targets.map((channel) =>
      publisher.publish(
        topicOf(channel),
        `{"kind":"MESSAGE","id":"${id}","channel":${JSON.stringify(channel)},"event":${JSON.stringify(event)},"data":${data},"publishedAt":${publishedAt}}`,
      ),
    ),
  );
  res.writeHead(200, { "content-type": "application/json" }).end(`{"id":"${id}"}`);
});

const wss = new WebSocketServer({
  server,
  path: "/graphql",
  perMessageDeflate: false,
  handleProtocols: (protocols) => (protocols.has("graphql-transport-ws") ? "graphql-transport-ws" : false),
});

wss.on("connection", (socket) => {
  let acknowledged = false;
  const subscriptions = new Map<string, Subscription>();
  const send = (message: object) => socket.send(JSON.stringify(message));

  socket.on("message", async (raw: Buffer) => {
    let message: { type?: unknown; id?: unknown; payload?: any };
    try {
      message = JSON.parse(raw.toString("utf8"));
    } catch {
      return socket.close(4400, "Invalid message received");
    }
    switch (message.type) {
      case "connection_init":
        if (message.payload?.key !== env.appKey) return socket.close(4403, "Forbidden");
        acknowledged = true;
        return send({ type: "connection_ack" });
      case "subscribe": {
        if (!acknowledged) return socket.close(4401, "Unauthorized");
        const id = message.id;
        const channel = message.payload?.variables?.name;
        if (typeof id !== "string" || typeof channel !== "string") return socket.close(4400, "Invalid message received");
        if (subscriptions.has(id)) return socket.close(4409, `Subscriber for ${id} already exists`);
        const subscription: Subscription = { socket, channel, head: Buffer.from(`{"id":${JSON.stringify(id)}`) };
        subscriptions.set(id, subscription);
        await add(subscription);
        if (socket.readyState !== socket.OPEN || !subscriptions.has(id)) return;
        return send({
          id,
          type: "next",
          payload: { data: { channel: { kind: "SUBSCRIBED", id: null, channel, event: "subscribed", data: null, publishedAt: null } } },
        });
      }
      case "complete": {
        const subscription = typeof message.id === "string" ? subscriptions.get(message.id) : undefined;
        if (subscription) {
          subscriptions.delete(message.id as string);
          remove(subscription);
        }
        return;
      }
      case "ping":
        return send({ type: "pong" });
      case "pong":
        return;
      default:
        return socket.close(4400, "Invalid message received");
    }
  });

  socket.on("close", () => {
    for (const subscription of subscriptions.values()) remove(subscription);
    subscriptions.clear();
  });
});

serveUntilStopped(server, env.port, () => {
  publisher.disconnect();
  subscriber.disconnect();
});
