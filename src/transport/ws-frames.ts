import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";

/**
 * Writing WebSocket frames straight to a socket's TCP stream, past `ws`'s sender: the fast
 * path's delivery (ws.ts). The stream keeps the order of everything written to it, corked or
 * not, so these frames and `ws`'s own (pings, other messages, the close frame) reach the client
 * in the order they were written.
 */

/** What `ws` keeps of a socket that a direct write relies on (ws 8: `lib/websocket.js`, `lib/sender.js`). */
interface WsInternals {
  _socket: Duplex | null;
  _sender: { _state: number } | null;
  /** Negotiated extensions by name; `ws` knows only permessage-deflate. */
  _extensions: Record<string, unknown>;
}

/**
 * The TCP stream of `socket` when `ws` has nothing of its own in flight: its sender is idle
 * (state 0: no compression, no Blob being read, no queued frame) and the connection uses no
 * extension (no permessage-deflate: Herald's server does not offer it). Then a frame written
 * straight to the stream goes out exactly where `ws.send` would have put it; otherwise (or if
 * `ws` changes these internals) undefined, and the caller uses `ws.send`.
 */
export function idleStream(socket: WebSocket): Duplex | undefined {
  const internals = socket as unknown as WsInternals;
  // (Not `socket.extensions`, which builds a string on every call.)
  if (internals._extensions["permessage-deflate"] !== undefined || internals._sender?._state !== 0) return undefined;
  return internals._socket ?? undefined;
}

/**
 * Past this many bytes a frame is not copied into a buffer of its own: its start (header and
 * the subscriber's head) and the group's shared tail go out together as one `writev`. Smaller
 * frames come from Node's buffer pool and one write is cheaper; a larger one would take an
 * allocation of its own per delivery (and the garbage collection of it) to save a `writev`.
 */
const SHARED_TAIL_BYTES = Buffer.poolSize >>> 1;

/**
 * Writes one unmasked, final text frame (RFC 6455 §5.2) holding `head` then `tail` to `stream`:
 * one buffer and one write, where `ws.send` builds a header buffer and writes both through
 * cork/writev; or, for a tail of SHARED_TAIL_BYTES or more, the frame's start then the tail itself.
 */
export function writeTextFrame(stream: Duplex, head: Buffer, tail: Buffer) {
  if (tail.length < SHARED_TAIL_BYTES) {
    const frame = frameStart(head, tail.length, tail.length);
    tail.copy(frame, frame.length - tail.length);
    stream.write(frame);
    return;
  }
  stream.cork();
  stream.write(frameStart(head, tail.length, 0));
  stream.write(tail);
  stream.uncork();
}

/** A buffer holding a text frame's header and `head`, for a tail of `tailLength` bytes, and `room` bytes more. */
function frameStart(head: Buffer, tailLength: number, room: number): Buffer {
  const length = head.length + tailLength;
  const headerLength = length < 126 ? 2 : length <= 0xffff ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + head.length + room);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (headerLength === 2) {
    frame[1] = length;
  } else if (headerLength === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  head.copy(frame, headerLength);
  return frame;
}
