import WebSocket from "ws";
import type { SubscriberOptions, Subscriber } from "./ws-subscriber.ts";

/**
 * A minimal Pusher Channels protocol 7 subscriber on raw `ws` (what pusher-js sends, without
 * its cost): `pusher:connection_established` → `pusher:subscribe` → live at
 * `pusher_internal:subscription_succeeded`; `pusher:ping` is answered. A benchmark event's `t`
 * and `seq` are found in the frame's bytes: its `data` is a JSON string, so they appear escaped.
 */

const SEQ_KEY = Buffer.from('seq\\":');
const T_KEY = Buffer.from('\\"t\\":');

export function openPusherSubscriber({ url, channel, sink }: SubscriberOptions): Subscriber {
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
  live.catch(() => {});

  const socket = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
  const send = (message: object) => socket.send(JSON.stringify(message));
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

  socket.on("message", (data: Buffer) => {
    if (slow) return;
    if (isLive) {
      const seqAt = data.indexOf(SEQ_KEY);
      if (seqAt !== -1) {
        const receivedAt = performance.now();
        const tAt = data.indexOf(T_KEY);
        sink.delivered(subscriber, readNumber(data, seqAt + SEQ_KEY.length), readNumber(data, tAt + T_KEY.length), receivedAt);
        return;
      }
    }
    let message: { event?: string; data?: string };
    try {
      message = JSON.parse(data.toString("utf8"));
    } catch {
      return sink.problem(`not JSON: ${data.toString("utf8", 0, 120)}`);
    }
    switch (message.event) {
      case "pusher:connection_established":
        return send({ event: "pusher:subscribe", data: { channel } });
      case "pusher_internal:subscription_succeeded":
        if (!isLive) {
          isLive = true;
          resolveLive(performance.now() - startedAt);
        }
        return;
      case "pusher:ping":
        return send({ event: "pusher:pong", data: {} });
      case "pusher:subscription_error":
      case "pusher:error":
        rejectLive(new Error(`${message.event}: ${String(message.data).slice(0, 200)}`));
        return sink.problem(`${message.event}: ${String(message.data).slice(0, 200)}`);
      default:
        if (!isLive) return; // an event before the subscription succeeded does not count
        return sink.problem(`unexpected event: ${data.toString("utf8", 0, 200)}`);
    }
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

/** A JSON number starting at `offset` (parseFloat stops at the `,`, `}` or `\` after it). */
function readNumber(data: Buffer, offset: number): number {
  return parseFloat(data.toString("latin1", offset, offset + 32));
}
