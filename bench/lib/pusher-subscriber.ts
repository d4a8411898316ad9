import { openBenchSocket, type SubscriberOptions, type Subscriber } from "./ws-subscriber.ts";

/**
 * A minimal Pusher Channels protocol 7 subscriber on raw `ws` (what pusher-js sends, without
 * its cost): `pusher:connection_established` → `pusher:subscribe` → live at
 * `pusher_internal:subscription_succeeded`; `pusher:ping` is answered. A benchmark event's `t`
 * and `seq` are found in the frame's bytes: its `data` is a JSON string, so they appear escaped.
 */

const PUSHER_KEYS = { seq: Buffer.from('seq\\":'), t: Buffer.from('\\"t\\":') };

export function openPusherSubscriber({ url, channel, sink }: SubscriberOptions): Subscriber {
  return openBenchSocket({
    url,
    channel,
    sink,
    keys: PUSHER_KEYS,
    onControl(data, { send, becomeLive, fail, isLive }) {
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
          return becomeLive();
        case "pusher:ping":
          return send({ event: "pusher:pong", data: {} });
        case "pusher:subscription_error":
        case "pusher:error":
          fail(new Error(`${message.event}: ${String(message.data).slice(0, 200)}`));
          return sink.problem(`${message.event}: ${String(message.data).slice(0, 200)}`);
        default:
          if (!isLive) return; // an event before the subscription succeeded does not count
          return sink.problem(`unexpected event: ${data.toString("utf8", 0, 200)}`);
      }
    },
  });
}
