import type { Duplex } from "node:stream";

/**
 * Writes to one socket within one turn of the event loop go out in at most two system calls.
 *
 * Fanning a message out costs one `write` per subscriber, and on loopback or a LAN that system
 * call (the kernel's TCP work) is most of a delivery's cost. When the server falls behind, the
 * messages that queued up meanwhile arrive together (one Redis read carries many) and each
 * subscriber would get one write per message. Instead the first write of a turn goes out at
 * once, as before (no added latency when the server keeps up), and a socket's later writes in the
 * same turn are corked and leave together, as one `writev`, when the turn ends (`setImmediate`:
 * after the I/O callbacks of this turn). Corked bytes count in the socket's buffered amount, so
 * the slow-consumer bound still sees them.
 */
export interface WriteCoalescer {
  /** Call right before `writer` writes to its `stream`: corks it when this turn already wrote to it. */
  beforeWrite(writer: CoalescedWriter, stream: Duplex): void;
}

/** The owner of one stream (a WebSocket session): it keeps the turn of its last write. */
export interface CoalescedWriter {
  writeTurn: number;
}

export function createWriteCoalescer(): WriteCoalescer {
  /** Counts turns that wrote; a stream whose mark equals it was written to in this turn. */
  let turn = 1;
  let turnEnding = false;
  const corked: Duplex[] = [];

  function endTurn() {
    turnEnding = false;
    turn++;
    // A stream left corked would never be listed again (it is corked only when it is not): one
    // whose `uncork` fails is destroyed (its owner hears the error), and the others still go.
    for (const stream of corked.splice(0)) {
      try {
        stream.uncork();
      } catch (error) {
        stream.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  return {
    beforeWrite(writer, stream) {
      if (writer.writeTurn !== turn) {
        writer.writeTurn = turn;
        if (!turnEnding) {
          turnEnding = true;
          setImmediate(endTurn);
        }
        return;
      }
      if (stream.writableCorked === 0) {
        stream.cork();
        corked.push(stream);
      }
    },
  };
}
