/** A minimal SSE reader over fetch (what an EventSource does), for GraphQL over SSE. */
export interface SseStream {
  events: { event: string; data: unknown }[];
  /** Resolves once `count` `next` events arrived. */
  next(count: number, ms?: number): Promise<unknown[]>;
  status: number;
  close(): void;
}

export async function openSse(url: string, init: RequestInit = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, headers: { accept: "text/event-stream", ...init.headers }, signal: controller.signal });
  const events: { event: string; data: unknown }[] = [];
  const waiters: (() => void)[] = [];
  const stream: SseStream = {
    events,
    status: response.status,
    close: () => controller.abort(),
    next(count, ms = 5_000) {
      const nexts = () => events.filter((e) => e.event === "next").map((e) => e.data);
      return new Promise((resolve, reject) => {
        if (nexts().length >= count) return resolve(nexts());
        const timer = setTimeout(() => reject(new Error(`timed out: ${nexts().length}/${count} SSE events`)), ms);
        waiters.push(() => {
          if (nexts().length >= count) {
            clearTimeout(timer);
            resolve(nexts());
          }
        });
      });
    },
  };
  if (!response.body || !response.headers.get("content-type")?.includes("text/event-stream")) {
    events.push({ event: "response", data: await response.text() });
    return stream;
  }
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).trim());
          }
          if (data.length === 0) continue;
          events.push({ event, data: JSON.parse(data.join("\n")) });
          waiters.forEach((w) => w());
        }
      }
    } catch {
      // aborted
    }
  })();
  return stream;
}
