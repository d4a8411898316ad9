import { createServer, connect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createWriteCoalescer } from "../src/transport/write-coalescer.ts";

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
      await nextTurn();
    }
    expect(one.calls).toEqual([1, 1, 1]);
    expect(two.calls).toEqual([1, 1, 1, 1, 1, 1]); // each turn: the first at once, the corked one at its end
    await expect.poll(one.received).toBe("1.0;1.1;1.2;");
    await expect.poll(two.received).toBe("2.0;2.0b;2.1;2.1b;2.2;2.2b;");
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
