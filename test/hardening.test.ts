import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PublishDocument } from "./generated/graphql.ts";
import { APP_ONE, APP_TWO, connectWs, gql, subscribeChannel, startHerald, type TestServer } from "./helpers/herald.ts";
import { spawnHerald, type HeraldProcess } from "./helpers/process.ts";
import { rawClient } from "./helpers/raw-ws.ts";

/**
 * Issue 20's attacks, each in the shape it was reproduced with (scaled to keep the suite fast):
 * the refusal comes back at once in the surface's own shape, naming the setting, and nothing
 * is published.
 */

/** `{q<k>_0:__typename q<k>_1:__typename …}`: one distinct document per `k`. */
const aliasDocument = (k: number, aliases: number) => "{" + Array.from({ length: aliases }, (_, i) => `q${k}_${i}:__typename`).join(" ") + "}";

interface Answer {
  status: number;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  return { status: response.status, body: (await response.json()) as Answer["body"] };
}

const anonymous = (url: string, query: string, variables?: unknown) => post(url, JSON.stringify({ query, variables }));
const asBackend = (url: string, body: string) => post(url, body, { authorization: `Bearer ${APP_ONE.secret}` });

/** What a channel's history holds (its messages' data). */
async function historyOf(url: string, channel: string): Promise<unknown[]> {
  const answer = await asBackend(url, JSON.stringify({ query: "query ($c: String!) { channel(name: $c) { history { messages { data } } } }", variables: { c: channel } }));
  expect(answer.body.errors).toBeUndefined();
  return (answer.body.data as { channel: { history: { messages: { data: unknown }[] } } }).channel.history.messages.map((m) => m.data);
}

/** The one error of a refusal by limit: 400, BAD_REQUEST, the setting named. */
function expectLimit(answer: Answer, setting: string) {
  expect(answer.status).toBe(400);
  expect(answer.body.data ?? null).toBeNull();
  expect(answer.body.errors).toHaveLength(1);
  expect(answer.body.errors![0]!.extensions).toMatchObject({ code: "BAD_REQUEST", setting });
  expect(answer.body.errors![0]!.message).toContain(setting);
}

/** JSON text of a list nested `depth` deep (JSON.stringify itself overflows on such a value). */
const deepList = (depth: number) => "[".repeat(depth) + "1" + "]".repeat(depth);

/** The document bounds, not the anonymous rate limit (tested on its own), are under test here. */
const NO_ANONYMOUS_RATE = { HERALD_RATE_LIMIT_ANONYMOUS_PER_IP: "0" };

describe("GraphQL documents are bounded on every lane", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startHerald({ env: NO_ANONYMOUS_RATE });
  });
  afterAll(() => server.close());

  it("refuses a 1 MB anonymous alias document by its size, before parsing it", async () => {
    const answer = await anonymous(server.url, aliasDocument(0, 48_000));
    expectLimit(answer, "HERALD_MAX_DOCUMENT_BYTES");
    expect(answer.body.errors![0]!.extensions!.limit).toBe(65_536);
  });

  it("refuses the same document from a backend (the direct lane) the same way", async () => {
    expectLimit(await asBackend(server.url, JSON.stringify({ query: aliasDocument(1, 48_000) })), "HERALD_MAX_DOCUMENT_BYTES");
  });

  it("refuses a document under the size limit by its tokens", async () => {
    // 2,500 aliases: about 50 KB, 10,002 tokens.
    const query = aliasDocument(2, 2_500);
    expect(query.length).toBeLessThan(65_536);
    expectLimit(await anonymous(server.url, query), "HERALD_MAX_DOCUMENT_TOKENS");
  });

  it("counts __typename aliases: 30 answer, 31 are refused", async () => {
    const answer = await anonymous(server.url, aliasDocument(3, 30));
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body.data as object)).toHaveLength(30);
    expectLimit(await anonymous(server.url, aliasDocument(3, 31)), "HERALD_MAX_ALIASES");
  });

  it("refuses 300 aliased __schema selections", async () => {
    const query = "{" + Array.from({ length: 300 }, (_, i) => `s${i}: __schema { types { name } }`).join(" ") + "}";
    expectLimit(await anonymous(server.url, query), "HERALD_MAX_ALIASES");
  });

  it("refuses a selection nested deeper than the depth limit", async () => {
    const query = `{ __type(name: "Query") { fields { type { ${"ofType { ".repeat(10)}name${" }".repeat(10)} } } } }`;
    expectLimit(await anonymous(server.url, query), "HERALD_MAX_DEPTH");
  });

  it("refuses more directives than the directive limit", async () => {
    const query = "{ __typename " + "@include(if: true) ".repeat(51) + "}";
    expectLimit(await anonymous(server.url, query), "HERALD_MAX_DIRECTIVES");
  });

  it("refuses a list literal nested 10,000 deep, even anonymously, as BAD_REQUEST (not a 5xx)", async () => {
    expectLimit(await anonymous(server.url, `{ __typename @include(if: ${deepList(10_000)}) }`), "HERALD_MAX_JSON_DEPTH");
    expectLimit(await anonymous(server.url, `{ __typename @include(if: ${deepList(100)}) }`), "HERALD_MAX_JSON_DEPTH");
  });

  it("refuses a JSON variable nested 10,000 deep as BAD_REQUEST and publishes nothing", async () => {
    const query = 'mutation ($d: JSON!) { publish(input: { channels: ["deep"], event: "e", data: $d }) { id } }';
    for (const depth of [10_000, 65]) {
      const answer = await asBackend(server.url, `{"query": ${JSON.stringify(query)}, "variables": {"d": ${deepList(depth)}}}`);
      expect(answer.status).toBe(400);
      expect(answer.body.errors![0]!.extensions).toMatchObject({ code: "BAD_REQUEST", setting: "HERALD_MAX_JSON_DEPTH" });
    }
    const within = await asBackend(server.url, `{"query": ${JSON.stringify(query)}, "variables": {"d": ${deepList(63)}}}`);
    expect(within.body.errors).toBeUndefined();
    expect(await historyOf(server.url, "deep")).toHaveLength(1);
  });

  it("answers GET variables that are not JSON, and variables of the wrong type, with BAD_REQUEST", async () => {
    const response = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent("{ __typename }")}&variables={bad`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as Answer["body"]).errors![0]!.extensions).toMatchObject({ code: "BAD_REQUEST" });
    const wrongType = await anonymous(server.url, "query ($b: Boolean!) { __typename @include(if: $b) }", { b: "yes" });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.errors![0]!.extensions).toMatchObject({ code: "BAD_REQUEST" });
  });

  it("refuses deep bodies on the REST routes in each vendor's shape", async () => {
    const backendless = await fetch(`${server.url}/${APP_ONE.id}/${APP_ONE.secret}/messaging/deep-rest`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"message": ${deepList(10_000)}}`,
    });
    expect(backendless.status).toBe(400);
    expect(await backendless.json()).toMatchObject({ code: 5901, message: expect.stringContaining("HERALD_MAX_JSON_DEPTH") });
    expect(await historyOf(server.url, "deep-rest")).toEqual([]);
  });

  it("refuses a document over a bound on graphql-ws and on the fast path, and keeps the socket", async () => {
    const client = await rawClient(server);
    // A channel subscription with many aliases is what the fast path projects.
    const fields = Array.from({ length: 6_000 }, (_, i) => `e${i}: event`).join(" ");
    client.subscribe("big", `subscription { channel(name: "wide") { ${fields} } }`);
    client.subscribe("aliased", `subscription { channel(name: "wide") { ${Array.from({ length: 31 }, (_, i) => `e${i}: event`).join(" ")} } }`);
    await client.until(() => ["big", "aliased"].every((id) => client.messages.some((m) => m.id === id && m.type === "error")));
    const errors = (id: string) => client.messages.find((m) => m.id === id && m.type === "error")!.payload as { extensions: Record<string, unknown> }[];
    expect(errors("big")[0]!.extensions).toMatchObject({ code: "BAD_REQUEST", setting: "HERALD_MAX_DOCUMENT_BYTES" });
    expect(errors("aliased")[0]!.extensions).toMatchObject({ code: "BAD_REQUEST", setting: "HERALD_MAX_ALIASES" });
    // The socket still serves.
    client.subscribe("fine", 'subscription { channel(name: "wide") { event } }');
    await client.until(() => client.nexts("fine").length === 1);
    client.socket.close();
  });

  it("closes with 4409 when one id is used on both the fast path and graphql-ws's own", async () => {
    const fast = 'subscription { channel(name: "twice") { event } }';
    // A fragment spread at the root takes graphql-ws's own path.
    const standard = 'subscription { ...F } fragment F on Subscription { channel(name: "twice") { event } }';
    for (const [first, second] of [
      [fast, standard],
      [standard, fast],
    ]) {
      const client = await rawClient(server);
      client.subscribe("same", first!);
      await client.until(() => client.nexts("same").length === 1);
      client.subscribe("same", second!);
      expect(await client.closed).toBe(4409);
    }
  });
});

describe("limits are configurable", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startHerald({
      env: {
        HERALD_MAX_QUERY_COST: "1000",
        HERALD_MAX_RESPONSE_BYTES: "20000",
        HERALD_MAX_ALIASES: "5",
        HERALD_MAX_WEBSOCKET_MESSAGE_BYTES: "4096",
        ...NO_ANONYMOUS_RATE,
      },
    });
  });
  afterAll(() => server.close());

  const historyRead = (alias: string, limit: string | number, fields = "data") => `${alias}: channel(name: "c") { history(limit: ${limit}) { messages { ${fields} } } }`;

  it("refuses an operation whose history reads cost more than HERALD_MAX_QUERY_COST", async () => {
    // Each read: channel 1 + history 1 + 100 × (messages 1 + data 1) = 202.
    const four = [0, 1, 2, 3].map((i) => historyRead(`r${i}`, 100)).join(" ");
    expect((await asBackend(server.url, JSON.stringify({ query: `{ ${four} }` }))).status).toBe(200);
    expectLimit(await asBackend(server.url, JSON.stringify({ query: `{ ${four} ${historyRead("r4", 100)} }` })), "HERALD_MAX_QUERY_COST");
    // A variable limit costs what history can hold (HERALD_HISTORY_SIZE, 100), whatever it is set to.
    const fields = "id event data publishedAt";
    const literal = await asBackend(server.url, JSON.stringify({ query: `{ ${historyRead("a", 1, fields)} ${historyRead("b", 1, fields)} }` }));
    expect(literal.status).toBe(200);
    const query = `query ($n: Int) { ${historyRead("a", "$n", fields)} ${historyRead("b", "$n", fields)} }`;
    expectLimit(await asBackend(server.url, JSON.stringify({ query, variables: { n: 1 } })), "HERALD_MAX_QUERY_COST");
  });

  it("refuses a history read whose answer passes HERALD_MAX_RESPONSE_BYTES", async () => {
    for (let i = 0; i < 10; i++) {
      const published = await gql(server, PublishDocument, { input: { channels: ["big"], event: "e", data: "x".repeat(3_000) } });
      expect(published.errors).toBeUndefined();
    }
    const few = await asBackend(server.url, JSON.stringify({ query: '{ channel(name: "big") { history(limit: 5) { messages { data } } } }' }));
    expect(few.body.errors).toBeUndefined();
    const all = await asBackend(server.url, JSON.stringify({ query: '{ channel(name: "big") { history(limit: 10) { messages { data } } } }' }));
    expect(all.body.errors![0]!.extensions).toMatchObject({ code: "PAYLOAD_TOO_LARGE", setting: "HERALD_MAX_RESPONSE_BYTES" });
    expect(JSON.stringify(all.body).length).toBeLessThan(1_000);
  });

  it("closes a WebSocket whose frame passes HERALD_MAX_WEBSOCKET_MESSAGE_BYTES with 1009, before connection_init", async () => {
    const socket = new WebSocket(server.wsUrl, "graphql-transport-ws");
    await new Promise((resolve) => socket.once("open", resolve));
    const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    socket.send(JSON.stringify({ type: "connection_init", payload: { pad: "x".repeat(5_000) } }));
    expect(await closed).toBe(1009);
    // A frame within the limit is served.
    const client = await rawClient(server);
    client.subscribe("ok", 'subscription { channel(name: "c") { event } }');
    await client.until(() => client.nexts("ok").length === 1);
    client.socket.close();
  });
});

describe("introspection and CORS are configurable", () => {
  let open: TestServer;
  let closed: TestServer;
  beforeAll(async () => {
    open = await startHerald({ env: NO_ANONYMOUS_RATE });
    closed = await startHerald({ env: { ...NO_ANONYMOUS_RATE, HERALD_INTROSPECTION: "false", HERALD_CORS_ORIGINS: "https://app.example" } });
  });
  afterAll(() => Promise.all([open.close(), closed.close()]));

  it("answers introspection by default and refuses it with HERALD_INTROSPECTION=false, on every lane", async () => {
    const query = "{ __schema { queryType { name } } }";
    expect((await anonymous(open.url, query)).body.data).toEqual({ __schema: { queryType: { name: "Query" } } });
    for (const answer of [await anonymous(closed.url, query), await asBackend(closed.url, JSON.stringify({ query: '{ __type(name: "Query") { name } }' }))]) {
      expect(answer.body.data ?? null).toBeNull();
      expect(answer.body.errors![0]!.message).toMatch(/introspection has been disabled/);
    }
    const client = await rawClient(closed);
    client.subscribe("intro", 'subscription { channel(name: "c") { event } } query Q { __schema { queryType { name } } }');
    client.subscribe("intro2", "{ __schema { queryType { name } } }");
    await client.until(() => client.messages.some((m) => m.id === "intro2" && m.type === "error"));
    expect(JSON.stringify(client.messages.find((m) => m.id === "intro2")!.payload)).toMatch(/introspection has been disabled/);
    client.socket.close();
    // __typename is not introspection.
    expect((await anonymous(closed.url, "{ __typename }")).body.data).toEqual({ __typename: "Query" });
  });

  it("allows any origin without credentials by default, and only the configured ones when set", async () => {
    const preflight = (server: TestServer, origin: string) =>
      fetch(server.graphqlUrl, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type,authorization" },
      });
    const any = await preflight(open, "https://anywhere.example");
    expect(any.headers.get("access-control-allow-origin")).toBe("https://anywhere.example");
    expect(any.headers.get("access-control-allow-credentials")).toBeNull();
    expect(any.headers.get("access-control-allow-headers")).toContain("authorization");
    const listed = await preflight(closed, "https://app.example");
    expect(listed.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(listed.headers.get("access-control-allow-credentials")).toBeNull();
    const other = await preflight(closed, "https://evil.example");
    expect(other.headers.get("access-control-allow-origin")).not.toBe("https://evil.example");
  });
});

describe("rate limits", () => {
  let server: TestServer;
  // One a second each: the refusals below come well within that second, even on a loaded machine.
  beforeAll(async () => {
    server = await startHerald({ env: { HERALD_RATE_LIMIT_ANONYMOUS_PER_IP: "1", HERALD_RATE_LIMIT_BACKEND_PER_APP: "1" } });
  });
  afterAll(() => server.close());

  const waitForRefill = () => new Promise((resolve) => setTimeout(resolve, 1_100));

  it("limits requests without valid credentials per address, with 429 and Retry-After, before reading the document", async () => {
    expect((await anonymous(server.url, "{ __typename }")).status).toBe(200);
    const over = await anonymous(server.url, "{ __typename }");
    expect(over.status).toBe(429);
    expect(over.body.errors![0]!.extensions).toMatchObject({ code: "RATE_LIMITED", setting: "HERALD_RATE_LIMIT_ANONYMOUS_PER_IP", limit: 1 });
    // A wrong secret is anonymous too; the app's own backend is not limited by it.
    const wrong = await fetch(server.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer wrong-secret-000000" }, body: '{"query":"{ __typename }"}' });
    expect(wrong.status).toBe(429);
    expect(Number(wrong.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await asBackend(server.url, '{"query":"{ __typename }"}')).status).toBe(200);
    // The bucket refills at the rate.
    await waitForRefill();
    expect((await anonymous(server.url, "{ __typename }")).status).toBe(200);
  });

  it("limits one app's backend operations, on every surface, and publishes nothing over the limit", async () => {
    // The backend's `{ __typename }` above spent nothing: only core operations count.
    const ws = connectWs(server);
    const sub = subscribeChannel(ws, "rated");
    await sub.subscribed;
    const publish = (n: number | string) => gql(server, PublishDocument, { input: { channels: ["rated"], event: "e", data: { n } } });
    expect((await publish(0)).errors).toBeUndefined();
    const over = await publish(1);
    expect(over.status).toBe(429);
    expect(over.errors![0]!.extensions).toMatchObject({ code: "RATE_LIMITED", setting: "HERALD_RATE_LIMIT_BACKEND_PER_APP" });
    const backendless = await fetch(`${server.url}/${APP_ONE.id}/${APP_ONE.secret}/messaging/rated`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"message": "over"}',
    });
    expect(backendless.status).toBe(429);
    expect(backendless.headers.get("retry-after")).toBe("1");
    expect(await backendless.json()).toMatchObject({ code: 5919 });
    // Another app has its own operations.
    const other = await gql(server, PublishDocument, { input: { channels: ["rated"], event: "e" } }, { bearer: APP_TWO.secret });
    expect(other.errors).toBeUndefined();
    // A marker published once the bucket refilled is the next message: nothing refused went out.
    await waitForRefill();
    expect((await publish("marker")).errors).toBeUndefined();
    expect((await sub.messages(2)).map((e) => e.data)).toEqual([{ n: 0 }, { n: "marker" }]);
    await ws.dispose();
  });
});

describe("an anonymous flood of distinct large documents", () => {
  let herald: HeraldProcess;
  beforeAll(async () => {
    herald = await spawnHerald({ LOG_LEVEL: "info", ...NO_ANONYMOUS_RATE });
  });
  afterAll(async () => {
    herald.child.kill("SIGTERM");
    await herald.exited;
  });

  const rss = async () => Number(/herald_process_resident_memory_bytes (\d+)/.exec(await (await fetch(`${herald.url}/metrics`)).text())![1]);

  it("keeps memory bounded and /healthz answering while it is in flight", async () => {
    const before = await rss();
    const healthz: number[] = [];
    for (let k = 0; k < 300; k++) {
      // Alternately 1 MB (over the size bound) and 50 KB (over the token bound), each different.
      const attack = anonymous(herald.url, aliasDocument(k, k % 2 === 0 ? 48_000 : 2_500));
      const start = performance.now();
      const health = await fetch(`${herald.url}/healthz`);
      healthz.push(performance.now() - start);
      expect(health.status).toBe(200);
      expect((await attack).status).toBe(400);
    }
    const grown = (await rss()) - before;
    // Before the bounds: about 45 MB per document kept, dead near the 100th.
    expect(grown).toBeLessThan(150 * 1024 * 1024);
    healthz.sort((a, b) => a - b);
    expect(healthz[Math.floor(healthz.length / 2)]).toBeLessThan(100);
    expect(healthz.at(-1)).toBeLessThan(1_000);
  }, 60_000);
});
