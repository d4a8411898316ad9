import { JSON_DATA_KEYS, openBenchSocket, type Subscriber, type SubscriberOptions } from "./ws-subscriber.ts";

/**
 * A minimal Centrifuge JSON protocol subscriber on raw `ws` (what centrifuge-js sends, without
 * its cost), for the Centrifuge server (`bench/centrifuge/main.go`):
 * - connect `{"id":1,"params":{}}` (method 0, CONNECT, left out as the protocol's JSON leaves
 *   zero values out), then at its reply subscribe `{"id":2,"method":1,"params":{"channel":…}}`;
 * - live at the reply to the subscribe (id 2, no `error`): Centrifuge sends it once the
 *   subscription is in its hub and, on Redis, its SUBSCRIBE written;
 * - a publication is a push, a reply without id: `{"result":{"channel":…,"data":{"data":<the
 *   published data>,"offset":…}}}` (push type 0, PUBLICATION, left out);
 * - one frame holds every reply queued for the socket, each ending in a newline, so a frame may
 *   carry several publications: each one's `t` and `seq` are found in the bytes (no JSON.parse).
 * Pings are WebSocket ping frames, which `ws` answers by itself.
 */

const CONNECT_ID = 1;
const SUBSCRIBE_ID = 2;
/** `MethodType.SUBSCRIBE` of github.com/centrifugal/protocol. */
const SUBSCRIBE_METHOD = 1;

interface Reply {
  id?: number;
  error?: { code: number; message: string };
  result?: unknown;
}

export function openCentrifugeSubscriber({ url, channel, sink }: SubscriberOptions): Subscriber {
  return openBenchSocket({
    url,
    channel,
    sink,
    keys: JSON_DATA_KEYS,
    severalPerFrame: true,
    onOpen: ({ send }) => send({ id: CONNECT_ID, params: {} }),
    onControl(data, { send, becomeLive, fail, isLive }) {
      for (const line of data.toString("utf8").split("\n")) {
        if (line === "") continue;
        let reply: Reply;
        try {
          reply = JSON.parse(line);
        } catch {
          sink.problem(`not JSON: ${line.slice(0, 120)}`);
          continue;
        }
        if (reply.error) {
          const text = `error reply to command ${reply.id}: ${JSON.stringify(reply.error).slice(0, 200)}`;
          fail(new Error(text));
          sink.problem(text);
        } else if (reply.id === CONNECT_ID) {
          send({ id: SUBSCRIBE_ID, method: SUBSCRIBE_METHOD, params: { channel } });
        } else if (reply.id === SUBSCRIBE_ID) {
          becomeLive();
        } else if (reply.id !== undefined) {
          sink.problem(`reply to an unknown command: ${line.slice(0, 200)}`);
        } else if (isLive && !line.includes('"seq":')) {
          // A publication here came before, or in the frame of, the subscribe reply: a warm-up
          // probe, not counted. Any other push is unexpected.
          sink.problem(`unexpected push: ${line.slice(0, 200)}`);
        }
      }
    },
  });
}
