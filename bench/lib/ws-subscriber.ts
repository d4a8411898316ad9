import { randomUUID } from "node:crypto";
import { MessageType } from "graphql-ws";
import WebSocket from "ws";
import type { ReadySignal } from "./jobs.ts";

/**
 * A minimal graphql-ws (`graphql-transport-ws`) subscriber on raw `ws`, so that thousands of
 * them cost the load generator little CPU: `connection_init` → `connection_ack` → `subscribe`,
 * then every `next` carrying a benchmark message is read without `JSON.parse` (its `t` and
 * `seq` are located in the raw frame). Everything else takes the ordinary parsing path.
 */

export const CHANNEL_SUBSCRIPTION = /* GraphQL */ `subscription Bench($name: String!) {
  channel(name: $name) { kind id channel event data publishedAt }
}`;

/** Where subscribers report what they receive; one sink is shared by every subscriber. */
export interface DeliverySink {
  /** A benchmark message: `seq` < 0 marks warm-up and probe messages. */
  delivered(subscriber: Subscriber, seq: number, sentAt: number, receivedAt: number): void;
  /** Something unexpected (an error payload, a close); the first few end up in the report. */
  problem(text: string): void;
}

export interface SubscriberOptions {
  url: string;
  appKey: string;
  channel: string;
  ready: ReadySignal;
  sink: DeliverySink;
}

export interface Subscriber {
  readonly channel: string;
  /**
   * Resolves with the connect + subscribe time in ms: at the `SUBSCRIBED` event, or (`probe`)
   * once `subscribe` was sent on an acknowledged connection. Rejects if the socket fails first.
   */
  readonly live: Promise<number>;
  /** Highest measured seq seen, for the ordering check (the sink keeps it). */
  lastSeq: number;
  /** Set by the sink when a probe arrived. */
  sawProbe: boolean;
  /**
   * Stops reading the socket (the kernel buffers fill, then the server's): a slow consumer. Its
   * deliveries no longer count, and the server closing it is expected rather than a problem.
   */
  stopReading(): void;
  /** Reads again (to see whether, and how, the server closed the socket meanwhile). */
  resumeReading(): void;
  /** True once it stopped reading. */
  readonly slow: boolean;
  /** Resolves with the close code once the socket closed. */
  readonly closed: Promise<number>;
  close(): void;
}

/** What a protocol's control messages can do to the subscriber the shared socket core runs. */
export interface SubscriberControl {
  send(message: object): void;
  /** The subscription is live (resolves `live` once). */
  becomeLive(): void;
  /** The subscription failed before going live (rejects `live`). */
  fail(error: Error): void;
  readonly isLive: boolean;
}

export interface BenchSocketOptions {
  url: string;
  protocol?: string;
  channel: string;
  sink: DeliverySink;
  /** How `seq` and `t` appear in a benchmark message's raw frame (escaped inside a JSON string for Pusher). */
  keys: { seq: Buffer; t: Buffer };
  /**
   * A frame may hold several messages (Centrifuge writes what is queued for a socket as one frame,
   * a reply per line): every `seq` in it is a delivery. Each message's `t` comes before its `seq`,
   * as the publisher writes them. Off, only the first is read (a frame is one message).
   */
  severalPerFrame?: boolean;
  onOpen?(control: SubscriberControl): void;
  /** Every frame that is not a benchmark message once live. */
  onControl(data: Buffer, control: SubscriberControl): void;
}

/**
 * The socket side every protocol's bench subscriber shares: the live and closed promises, slow
 * reading, and benchmark messages read from the raw frame without `JSON.parse`.
 */
export function openBenchSocket({ url, protocol, channel, sink, keys, severalPerFrame = false, onOpen, onControl }: BenchSocketOptions): Subscriber {
  const startedAt = performance.now();
  let isLive = false;
  let closedByUs = false;
  let slow = false;
  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => (resolveClosed = resolve));
  let resolveLive!: (ms: number) => void;
  let rejectLive!: (error: Error) => void;
  const live = new Promise<number>((resolve, reject) => {
    resolveLive = resolve;
    rejectLive = reject;
  });
  live.catch(() => {}); // the generator awaits it; a late rejection must not crash the process

  const options = { perMessageDeflate: false, skipUTF8Validation: true };
  const socket = protocol === undefined ? new WebSocket(url, options) : new WebSocket(url, protocol, options);
  const control: SubscriberControl = {
    send: (message) => socket.send(JSON.stringify(message)),
    becomeLive() {
      if (isLive) return;
      isLive = true;
      resolveLive(performance.now() - startedAt);
    },
    fail: (error) => rejectLive(error),
    get isLive() {
      return isLive;
    },
  };
  const subscriber: Subscriber = {
    channel,
    live,
    lastSeq: -Infinity,
    sawProbe: false,
    get slow() {
      return slow;
    },
    closed,
    stopReading() {
      slow = true;
      socket.pause();
    },
    resumeReading() {
      socket.resume();
    },
    close() {
      closedByUs = true;
      socket.terminate();
    },
  };

  if (onOpen) socket.on("open", () => onOpen(control));
  socket.on("message", (data: Buffer) => {
    if (slow) return;
    if (isLive) {
      let seqAt = data.indexOf(keys.seq);
      if (seqAt !== -1) {
        const receivedAt = performance.now();
        let from = 0;
        do {
          const tAt = data.indexOf(keys.t, from);
          from = seqAt + keys.seq.length;
          sink.delivered(subscriber, readNumber(data, from), readNumber(data, tAt + keys.t.length), receivedAt);
          seqAt = severalPerFrame ? data.indexOf(keys.seq, from) : -1;
        } while (seqAt !== -1);
        return;
      }
    }
    onControl(data, control);
  });
  socket.on("error", (error) => rejectLive(error));
  socket.on("close", (code, reason) => {
    const text = `socket closed: ${code} ${reason.toString() || "(no reason)"}`;
    rejectLive(new Error(text));
    resolveClosed(code);
    if (!closedByUs && !slow) sink.problem(text);
  });
  return subscriber;
}

/** `seq` and `t` of a message whose data is plain JSON in the frame (graphql-ws, Centrifuge). */
export const JSON_DATA_KEYS = { seq: Buffer.from('"seq":'), t: Buffer.from('"t":') };

export function openSubscriber({ url, appKey, channel, ready, sink }: SubscriberOptions): Subscriber {
  // A random id per subscription, as graphql-ws's own client does (no shared-id shortcut).
  const id = randomUUID();
  return openBenchSocket({
    url,
    protocol: "graphql-transport-ws",
    channel,
    sink,
    keys: JSON_DATA_KEYS,
    onOpen: ({ send }) => send({ type: MessageType.ConnectionInit, payload: { key: appKey } }),
    onControl(data, { send, becomeLive, fail, isLive }) {
      let message: { type?: string; id?: string; payload?: any };
      try {
        message = JSON.parse(data.toString("utf8"));
      } catch {
        sink.problem(`not JSON: ${data.toString("utf8", 0, 120)}`);
        return;
      }
      switch (message.type) {
        case MessageType.ConnectionAck:
          send({ id, type: MessageType.Subscribe, payload: { query: CHANNEL_SUBSCRIPTION, variables: { name: channel } } });
          if (ready === "probe") becomeLive();
          return;
        case MessageType.Next: {
          const event = message.payload?.data?.channel;
          if (event?.kind === "SUBSCRIBED") return becomeLive();
          if (message.payload?.errors) return sink.problem(`error payload: ${JSON.stringify(message.payload.errors).slice(0, 200)}`);
          // A message before the SUBSCRIBED event (it does not count), or one without seq.
          if (!isLive) return;
          return sink.problem(`unexpected next: ${data.toString("utf8", 0, 200)}`);
        }
        case MessageType.Error:
          fail(new Error(`subscribe failed: ${JSON.stringify(message.payload).slice(0, 200)}`));
          return sink.problem(`error message: ${JSON.stringify(message.payload).slice(0, 200)}`);
        case MessageType.Complete:
          return sink.problem("the server completed a subscription");
        case MessageType.Ping:
          return send({ type: MessageType.Pong });
        case MessageType.Pong:
          return;
        default:
          return sink.problem(`unknown message type: ${String(message.type)}`);
      }
    },
  });
}

/** A JSON number starting at `offset` (parseFloat stops at the `,`, `}` or `\\` after it). */
function readNumber(data: Buffer, offset: number): number {
  return parseFloat(data.toString("latin1", offset, offset + 32));
}
