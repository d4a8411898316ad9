import { createServer, request, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema } from "../src/schema/index.ts";
import { loadConfig } from "../src/config.ts";
import { createDocumentPolicy, documentLimitsOf } from "../src/transport/document-policy.ts";
import { maskGraphQLError } from "../src/transport/errors.ts";
import { createGraphqlHttp, type GraphqlHttpHandler } from "../src/transport/graphql-http.ts";
import { createHeraldYoga } from "../src/transport/yoga.ts";
import { APP_ONE, connectWs, startHerald, subscribeChannel, type TestServer } from "./helpers/herald.ts";

/**
 * The direct GraphQL-over-HTTP lane must answer exactly as Yoga does. Two servers over one Herald
 * core: one with the lane in front of Yoga (counting what the lane served itself), one with Yoga
 * alone. Every request goes to both; status, content type and body must match (publish ids and
 * times aside), and the lane must serve the cases it is for and hand the rest to Yoga.
 */
const MAX_REQUEST_BYTES = 4096;
const PUBLISH = "mutation P($input: PublishInput!) { publish(input: $input) { id duplicate } }";
const BEARER = { authorization: `Bearer ${APP_ONE.secret}` };
const JSON_TYPE = { "content-type": "application/json" };

interface Case {
  name: string;
  body: string;
  headers: Record<string, string>;
  /** served: the lane answered; fallback: it read the body and Yoga answered; declined: untouched. */
  lane: "served" | "fallback" | "declined";
}

const json = (value: unknown) => JSON.stringify(value);
const publish = (input: Record<string, unknown>) => json({ query: PUBLISH, variables: { input } });

const CASES: Case[] = [
  { name: "a publish", body: publish({ channels: ["parity"], event: "e", data: { x: 1 } }), headers: { ...JSON_TYPE, ...BEARER }, lane: "served" },
  {
    name: "a publish accepting graphql-response+json",
    body: publish({ channels: ["parity"], data: 1 }),
    headers: { ...JSON_TYPE, ...BEARER, accept: "application/graphql-response+json" },
    lane: "served",
  },
  { name: "accept */*", body: publish({ channels: ["parity"] }), headers: { ...JSON_TYPE, ...BEARER, accept: "*/*" }, lane: "served" },
  { name: "charset in content-type", body: publish({ channels: ["parity"] }), headers: { "content-type": "application/json; charset=utf-8", ...BEARER }, lane: "served" },
  // Anonymous callers (wrong credentials included) are Yoga's: it rate-limits them per address.
  { name: "no credentials", body: publish({ channels: ["parity"] }), headers: JSON_TYPE, lane: "fallback" },
  { name: "a wrong secret", body: publish({ channels: ["parity"] }), headers: { ...JSON_TYPE, authorization: "Bearer nope" }, lane: "fallback" },
  { name: "an invalid channel name", body: publish({ channels: ["bad name!"] }), headers: { ...JSON_TYPE, ...BEARER }, lane: "served" },
  {
    name: "an invalid channel name, graphql-response+json",
    body: publish({ channels: ["bad name!"] }),
    headers: { ...JSON_TYPE, ...BEARER, accept: "application/graphql-response+json" },
    lane: "served",
  },
  { name: "variables of the wrong type", body: json({ query: PUBLISH, variables: { input: { channels: "parity" } } }), headers: { ...JSON_TYPE, ...BEARER }, lane: "served" },
  {
    name: "variables of the wrong type, graphql-response+json",
    body: json({ query: PUBLISH, variables: { input: { channels: 5 } } }),
    headers: { ...JSON_TYPE, ...BEARER, accept: "application/graphql-response+json" },
    lane: "served",
  },
  { name: "a missing variable", body: json({ query: PUBLISH }), headers: { ...JSON_TYPE, ...BEARER }, lane: "served" },
  {
    name: "a query with a key header",
    body: json({ query: '{ channel(name: "parity") { name } }' }),
    headers: { ...JSON_TYPE, "x-herald-key": APP_ONE.key },
    lane: "served",
  },
  {
    name: "one of two operations by name",
    body: json({ query: `${PUBLISH} query Q { channel(name: "parity") { name } }`, operationName: "Q", variables: null, extensions: {} }),
    headers: { ...JSON_TYPE, ...BEARER },
    lane: "served",
  },
  { name: "two operations, no name", body: json({ query: `${PUBLISH} query Q { channel(name: "x") { name } }` }), headers: { ...JSON_TYPE, ...BEARER }, lane: "fallback" },
  { name: "a syntax error", body: json({ query: "mutation {" }), headers: { ...JSON_TYPE, ...BEARER }, lane: "fallback" },
  { name: "an unknown field", body: json({ query: "{ nope }" }), headers: { ...JSON_TYPE, ...BEARER }, lane: "fallback" },
  { name: "an unknown parameter", body: json({ query: "{ __typename }", foo: 1 }), headers: { ...JSON_TYPE, ...BEARER }, lane: "fallback" },
  { name: "variables as a string", body: json({ query: PUBLISH, variables: "{}" }), headers: { ...JSON_TYPE, ...BEARER }, lane: "fallback" },
  { name: "a query that is not a string", body: json({ query: 5 }), headers: { ...JSON_TYPE, ...BEARER }, lane: "fallback" },
  { name: "a body that is not JSON", body: "{nope", headers: { ...JSON_TYPE, ...BEARER }, lane: "fallback" },
  { name: "a batch", body: json([{ query: "{ __typename }" }]), headers: { ...JSON_TYPE, ...BEARER }, lane: "fallback" },
  {
    name: "a subscription over plain POST",
    body: json({ query: 'subscription { channel(name: "parity") { event } }' }),
    headers: { ...JSON_TYPE, "x-herald-key": APP_ONE.key, accept: "application/json" },
    lane: "fallback",
  },
  { name: "accept text/html", body: json({ query: "{ __typename }" }), headers: { ...JSON_TYPE, accept: "text/html" }, lane: "declined" },
  { name: "two accepted types", body: json({ query: "{ __typename }" }), headers: { ...JSON_TYPE, accept: "application/json, text/event-stream" }, lane: "declined" },
  { name: "a text body", body: json({ query: "{ __typename }" }), headers: { "content-type": "text/plain" }, lane: "declined" },
  { name: "a browser (Origin)", body: publish({ channels: ["parity"] }), headers: { ...JSON_TYPE, ...BEARER, origin: "http://app.example" }, lane: "declined" },
  { name: "a body over the limit", body: publish({ channels: ["parity"], data: "x".repeat(MAX_REQUEST_BYTES) }), headers: { ...JSON_TYPE, ...BEARER }, lane: "declined" },
];

interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

function post(server: Server, headers: Record<string, string>, body: string): Promise<Answer> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/graphql", headers: { ...headers, "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode!, contentType: res.headers["content-type"], body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Publish ids and times differ between two runs of the same mutation. */
const normalize = (answer: Answer) => ({
  ...answer,
  body: answer.body.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>"),
});

const listen = (server: Server) => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

describe("GraphQL over HTTP: the direct lane answers as Yoga does", () => {
  let herald: TestServer;
  let withLane: Server;
  let yogaOnly: Server;
  let lane: GraphqlHttpHandler;

  beforeAll(async () => {
    herald = await startHerald();
    const core = herald.herald.core;
    const logger = pino({ level: "silent" });
    const config = loadConfig({});
    const documents = createDocumentPolicy(schema, documentLimitsOf(config));
    const makeYoga = () =>
      createHeraldYoga({
        schema,
        herald: core,
        logger,
        maskError: maskGraphQLError(logger),
        maxRequestBytes: MAX_REQUEST_BYTES,
        documents,
        maxResponseBytes: config.graphql.maxResponseBytes,
        corsOrigins: config.corsOrigins,
      });
    const yoga = makeYoga();
    lane = createGraphqlHttp({ yoga, herald: core, maxRequestBytes: MAX_REQUEST_BYTES, documents });
    withLane = createServer((req, res) => {
      if (!lane(req, res)) void yoga(req, res);
    });
    const plainYoga = makeYoga();
    yogaOnly = createServer((req, res) => void plainYoga(req, res));
    await Promise.all([listen(withLane), listen(yogaOnly)]);
  });
  afterAll(async () => {
    await Promise.all([withLane, yogaOnly].map((s) => new Promise((resolve) => s.close(resolve))));
    await herald.close();
  });

  for (const testCase of CASES) {
    it(`${testCase.name}: ${testCase.lane}`, async () => {
      const before = { ...lane.counts };
      // One after the other: the first sight of a document is part of what is compared.
      const viaYoga = await post(yogaOnly, testCase.headers, testCase.body);
      const direct = await post(withLane, testCase.headers, testCase.body);
      expect(normalize(direct)).toEqual(normalize(viaYoga));
      const served = lane.counts.direct - before.direct;
      const handed = lane.counts.handedToYoga - before.handedToYoga;
      expect(served + handed === 0 ? "declined" : handed === 0 ? "served" : "fallback").toBe(testCase.lane);
    });
  }

  it("delivers what it publishes to subscribers", async () => {
    const client = connectWs(herald, { key: APP_ONE.key });
    const sub = subscribeChannel(client, "lane-delivery");
    await sub.subscribed;
    const answer = await post(withLane, { ...JSON_TYPE, ...BEARER }, publish({ channels: ["lane-delivery"], event: "hello", data: { n: 1 } }));
    expect(answer.status).toBe(200);
    const [event] = await sub.messages(1);
    expect(event).toMatchObject({ event: "hello", data: { n: 1 } });
    await client.dispose();
  });

  it("keeps serving after a client that went away in the middle of its body", async () => {
    const { port } = withLane.address() as AddressInfo;
    const before = lane.counts.direct;
    await new Promise<void>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.write(`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"query":`);
        setTimeout(() => socket.destroy(), 20);
      });
      socket.on("close", () => resolve());
    });
    const answer = await post(withLane, { ...JSON_TYPE, ...BEARER }, publish({ channels: ["after-abort"] }));
    expect(answer.status).toBe(200);
    expect(lane.counts.direct).toBe(before + 1);
  });

  it("is what Herald's own server runs, counted in /metrics", async () => {
    const direct = async () => Number((await (await fetch(`${herald.url}/metrics`)).text()).match(/herald_graphql_http_requests_total\{path="direct"\} (\d+)/)![1]);
    const before = await direct();
    const response = await fetch(herald.graphqlUrl, { method: "POST", headers: { ...JSON_TYPE, ...BEARER }, body: publish({ channels: ["metrics"] }) });
    expect(response.status).toBe(200);
    expect(await direct()).toBe(before + 1);
  });
});
