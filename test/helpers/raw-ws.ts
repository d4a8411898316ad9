import WebSocket from "ws";
import { APP_ONE } from "./herald.ts";

/** A raw graphql-transport-ws client: exactly what goes over the wire. */
export async function rawClient(server: { wsUrl: string }, connectionParams: Record<string, unknown> = { key: APP_ONE.key }) {
  const socket = new WebSocket(server.wsUrl, "graphql-transport-ws");
  const messages: { id?: string; type: string; payload?: unknown }[] = [];
  const waiters: (() => void)[] = [];
  socket.on("message", (data) => {
    messages.push(JSON.parse(String(data)));
    waiters.forEach((w) => w());
  });
  await new Promise((resolve) => socket.once("open", resolve));
  socket.send(JSON.stringify({ type: "connection_init", payload: connectionParams }));
  const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
  const until = (predicate: () => boolean, ms = 5_000) =>
    new Promise<void>((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => reject(new Error(`timeout; got ${JSON.stringify(messages).slice(0, 500)}`)), ms);
      waiters.push(() => {
        if (predicate()) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  await until(() => messages.some((m) => m.type === "connection_ack"));
  return {
    socket,
    messages,
    closed,
    until,
    subscribe(id: string, query: string, variables: Record<string, unknown> = {}) {
      socket.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables } }));
    },
    nexts: (id: string) => messages.filter((m) => m.id === id && m.type === "next").map((m) => m.payload as { data?: { channel: Record<string, unknown> }; errors?: unknown[] }),
  };
}
