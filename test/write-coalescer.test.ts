import { createServer, connect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { createWriteCoalescer } from "../src/transport/write-coalescer.ts";
import { idleStream, writeTextFrame } from "../src/transport/ws-frames.ts";

/** A connected TCP pair on 127.0.0.1; `received` is everything the far end has read. */
async function socketPair() {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const near = connect((server.address() as { port: number }).port, "127.0.0.1");
  await new Promise((resolve) => near.once("connect", resolve));
  const far = await accepted;
  const chunks: Buffer[] = [];
  far.on("data", (chunk: Buffer) => chunks.push(chunk));
  // What the stream hands to the kernel: one `_write` or `_writev` is one system call.
  const calls: number[] = [];
  const write = near._write.bind(near);
  const writev = near._writev!.bind(near);
  near._write = (chunk, encoding, callback) => {
    calls.push(1);
    write(chunk, encoding, callback);
  };
  near._writev = (chunks, callback) => {
    calls.push(chunks.length);
    writev(chunks, callback);
  };
  return {
    near,
    calls,
    received: () => Buffer.concat(chunks).toString(),
    close() {
      near.destroy();
      far.destroy();
      server.close();
    },
  };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("write coalescer", () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => cleanup.splice(0).forEach((close) => close()));

  it("sends the first write of a turn at once and the socket's later writes of that turn together, in order", async () => {
    const pair = await socketPair();
    cleanup.push(pair.close);
    const coalescer = createWriteCoalescer();
    const writer = { writeTurn: 0 };
    for (const text of ["a", "b", "c", "d", "e"]) {
      coalescer.beforeWrite(writer, pair.near);
      pair.near.write(text);
    }
    expect(pair.calls).toEqual([1]); // "a" went out; b–e wait for the end of the turn
    await nextTurn();
    expect(pair.calls).toEqual([1, 4]);
    // The next turn starts afresh: its first write is not held back.
    coalescer.beforeWrite(writer, pair.near);
    pair.near.write("f");
    expect(pair.calls).toEqual([1, 4, 1]);
    await expect.poll(pair.received).toBe("abcdef");
  });

  it("keeps each socket's own turn: a socket written once per turn is never corked", async () => {
    const one = await socketPair();
    const two = await socketPair();
    cleanup.push(one.close, two.close);
    const coalescer = createWriteCoalescer();
    const [first, second] = [{ writeTurn: 0 }, { writeTurn: 0 }];
    for (let turn = 0; turn < 3; turn++) {
      coalescer.beforeWrite(first, one.near);
      one.near.write(`1.${turn};`);
      coalescer.beforeWrite(second, two.near);
      two.near.write(`2.${turn};`);
      coalescer.beforeWrite(second, two.near);
      two.near.write(`2.${turn}b;`);
      expect(one.near.writableCorked).toBe(0);
      expect(two.near.writableCorked).toBe(1); // its second write of the turn waits for the turn's end
      await nextTurn();
      expect(two.near.writableCorked).toBe(0);
    }
    expect(one.calls).toEqual([1, 1, 1]);
    expect(two.calls).toEqual([1, 1, 1, 1, 1, 1]); // each turn: the first at once, the corked one at its end
    await expect.poll(one.received).toBe("1.0;1.1;1.2;");
    await expect.poll(two.received).toBe("2.0;2.0b;2.1;2.1b;2.2;2.2b;");
  });

  it("destroys a socket whose uncork fails, with that error, and still sends the other sockets' corked writes", async () => {
    const failing = await socketPair();
    const other = await socketPair();
    cleanup.push(failing.close, other.close);
    const failure = new Error("uncork failed");
    failing.near.uncork = () => {
      throw failure;
    };
    const destroyedWith = new Promise((resolve) => failing.near.once("error", resolve));
    const coalescer = createWriteCoalescer();
    const [first, second] = [{ writeTurn: 0 }, { writeTurn: 0 }];
    for (const [writer, pair] of [[first, failing], [second, other]] as const) {
      for (const text of ["a", "b"]) {
        coalescer.beforeWrite(writer, pair.near);
        pair.near.write(text);
      }
    }
    await nextTurn();
    expect(await destroyedWith).toBe(failure);
    expect(failing.near.destroyed).toBe(true);
    expect(other.near.writableCorked).toBe(0);
    await expect.poll(other.received).toBe("ab");
  });

  it("leaves a socket destroyed while corked alone at the end of the turn", async () => {
    const pair = await socketPair();
    cleanup.push(pair.close);
    const coalescer = createWriteCoalescer();
    const writer = { writeTurn: 0 };
    coalescer.beforeWrite(writer, pair.near);
    pair.near.write("a");
    coalescer.beforeWrite(writer, pair.near);
    pair.near.write("b");
    pair.near.destroy();
    await nextTurn();
    expect(pair.calls).toEqual([1]);
  });
});

describe("direct frames and the ws library's own frames on one socket", () => {
  it("reach the client in the order they were written within a turn: corked frames, then ws's ping, message and close", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((resolve) => wss.once("listening", resolve));
    const accepted = new Promise<WebSocket>((resolve) => wss.once("connection", resolve));
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
    const seen: string[] = [];
    client.on("message", (data) => seen.push(`message ${String(data).slice(0, 12)} (${String(data).length})`));
    client.on("ping", () => seen.push("ping"));
    const closed = new Promise<void>((resolve) => client.on("close", (code) => resolve(void seen.push(`close ${code}`))));
    await new Promise((resolve) => client.once("open", resolve));
    const socket = await accepted;
    try {
      const stream = idleStream(socket)!;
      expect(stream).toBeDefined();
      const coalescer = createWriteCoalescer();
      const writer = { writeTurn: 0 };
      const large = Buffer.from("x".repeat(10_000)); // past the shared-tail size: start + tail, corked
      for (let i = 0; i < 4; i++) {
        coalescer.beforeWrite(writer, stream);
        writeTextFrame(stream, Buffer.from(`m${i}:`), i % 2 === 1 ? large : Buffer.from("small"));
      }
      expect(stream.writableCorked).toBe(1); // m1–m3 wait for the end of the turn
      socket.ping();
      socket.send("through ws");
      socket.close(4000);
      await closed;
      expect(seen).toEqual([
        "message m0:small (8)",
        "message m1:xxxxxxxxx (10003)",
        "message m2:small (8)",
        "message m3:xxxxxxxxx (10003)",
        "ping",
        "message through ws (10)",
        "close 4000",
      ]);
    } finally {
      client.terminate();
      wss.close();
    }
  });
});
