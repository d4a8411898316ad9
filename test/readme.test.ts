import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { pino } from "pino";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createHerald, type Herald } from "../src/server.ts";
import { launchChromium, localPage, skipBrowser } from "./helpers/browser.ts";
import { connectWs, subscribeChannel, type WsConnection } from "./helpers/herald.ts";
import { until } from "./helpers/wait.ts";

/**
 * The README's code, run as a newcomer would paste it: against a Herald with the development app
 * (no HERALD_APPS), with `localhost:4000` pointed at this test's port. Every code block is either
 * run here or listed in NOT_RUN with the reason, so a new block cannot go untried by accident.
 */
interface Block {
  readonly lang: string;
  readonly text: string;
  readonly line: number;
}

function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() !== "```") body.push(lines[j++]!.slice(indent));
    blocks.push({ lang: open[2]!, text: body.join("\n"), line: i + 1 });
    i = j;
  }
  return blocks;
}

const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const blocks = codeBlocks(README);
const find = (lang: string, marker: string): Block => {
  const found = blocks.filter((b) => b.lang === lang && b.text.includes(marker));
  if (found.length !== 1) throw new Error(`expected one \`\`\`${lang} block in README.md containing ${JSON.stringify(marker)}, found ${found.length}`);
  return found[0]!;
};

/** What is not run here, and why. */
const NOT_RUN: Record<string, string> = {
  "npm ci && npm start": "what CI itself does (.ci/run runs npm ci; npm start is tsc plus the server this test starts)",
  "npm test": "the command that runs this test",
};

/** Runs `command` in bash from the repository, with `localhost:4000` pointed at Herald; its stdout. */
function run(command: string, file = "bash", args = ["-c"], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, [...args, command], { cwd: new URL("..", import.meta.url).pathname, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the README's code", () => {
  let herald: Herald;
  let origin: string;
  let ws: WsConnection;
  const local = (code: string) => code.replaceAll("http://localhost:4000", origin).replaceAll("ws://localhost:4000", origin.replace("http", "ws"));
  const scratch = new URL("../node_modules/.cache/readme-test/", import.meta.url).pathname;

  beforeAll(async () => {
    herald = await createHerald(loadConfig({ LOG_LEVEL: "silent" }), { logger: pino({ level: "silent" }) });
    const { port } = await herald.listen(0, "127.0.0.1");
    origin = `http://127.0.0.1:${port}`;
    ws = connectWs({ wsUrl: `ws://127.0.0.1:${port}/graphql` }, { key: "herald-dev-key" });
    mkdirSync(scratch, { recursive: true });
  });
  afterAll(async () => {
    await ws?.dispose();
    await herald?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("has no code block that is neither run here nor listed as not run", () => {
    const covered = [
      find("graphql", "subscription {"),
      find("sh", "curl -s http://localhost:4000/graphql"),
      find("ts", 'from "graphql-ws"'),
      find("js", "new EventSource"),
      find("js", 'require("pusher")'),
      find("sh", "/service/dev/publish/"),
      find("sh", "/zato/pubsub/topic/"),
      find("sh", "HERALD_APPS="),
    ];
    const notRun = blocks.filter((b) => Object.keys(NOT_RUN).some((marker) => b.text.includes(marker)));
    const untried = blocks.filter((b) => !covered.includes(b) && !notRun.includes(b)).map((b) => `README.md:${b.line} (${b.lang})`);
    expect(untried).toEqual([]);
  });

  it("GraphiQL's subscription, the curl publish and the graphql-ws snippet deliver the headline", async () => {
    const news = subscribeChannel(ws, "news");
    await news.subscribed;
    // The README's graphql-ws client, as a file of its own, run with tsx.
    const file = `${scratch}subscribe.ts`;
    writeFileSync(file, local(find("ts", 'from "graphql-ws"').text));
    const child = spawn("npx", ["tsx", file], { cwd: new URL("..", import.meta.url).pathname });
    let printed = "";
    child.stdout.on("data", (d: Buffer) => (printed += d));
    child.stderr.on("data", (d: Buffer) => (printed += d));
    try {
      await until(() => printed.includes("SUBSCRIBED"), 20_000);
      expect(printed).toMatch(/socketId \d+\.\d+/);

      const published = await run(local(find("sh", "curl -s http://localhost:4000/graphql").text));
      expect(published.code).toBe(0);
      expect(JSON.parse(published.stdout)).toMatchObject({ data: { publish: { id: expect.any(String), publishedAt: expect.any(String) } } });
      await until(() => printed.includes("headline"), 10_000);
      expect(printed).toContain("Hello");
      await news.messages(1);
      expect(news.events[0]).toMatchObject({ kind: "MESSAGE", event: "headline", data: { title: "Hello" } });
    } finally {
      child.kill();
    }
    // GraphiQL's subscription document, over graphql-ws.
    const graphiql = find("graphql", "subscription {").text;
    const seen: unknown[] = [];
    const stop = ws.client.subscribe({ query: graphiql }, { next: (r) => void seen.push(r.data), error: (e) => void seen.push(e), complete: () => {} });
    await until(() => seen.length > 0);
    stop();
    expect(seen[0]).toMatchObject({ channel: { kind: "SUBSCRIBED", event: expect.any(String) } });
  }, 60_000);

  it("the Pusher SDK, GRIP and Zato snippets publish to subscribers of the channel", async () => {
    const news = subscribeChannel(ws, "news");
    await news.subscribed;
    const topic = subscribeChannel(ws, "/customer/created");
    await topic.subscribed;

    const pusher = find("js", 'require("pusher")').text.replace('port: "4000"', `port: "${new URL(origin).port}"`).replace('host: "localhost"', 'host: "127.0.0.1"');
    const sdk = await run(`(async () => {\n${pusher}\n})().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`, "node", ["-e"]);
    expect(sdk.stderr).toBe("");
    expect(sdk.code).toBe(0);
    await news.messages(1);
    expect(news.events[0]).toMatchObject({ event: "headline", data: JSON.stringify({ title: "Hello" }) });

    const grip = await run(local(find("sh", "/service/dev/publish/").text));
    expect(grip.code).toBe(0);
    await news.messages(2);
    expect(news.events[1]).toMatchObject({ kind: "MESSAGE", data: "Hello\n" });

    const zato = await run(local(find("sh", "/zato/pubsub/topic/").text));
    expect(JSON.parse(zato.stdout)).toMatchObject({ status: "ZATO_OK", msg_id: expect.any(String) });
    await topic.messages(1);
    expect(topic.events[0]).toMatchObject({ kind: "MESSAGE", data: "Hello pub/sub!" });
    news.unsubscribe();
    topic.unsubscribe();
  }, 30_000);

  it("the production example's settings load", () => {
    const text = find("sh", "HERALD_APPS=").text;
    const env = Object.fromEntries([...text.matchAll(/([A-Z_]+)='([^']*)'|([A-Z_]+)=(\S+)/g)].map((m) => (m[1] ? [m[1], m[2]!] : [m[3]!, m[4]!])));
    expect(Object.keys(env).sort()).toEqual(["HERALD_APPS", "NODE_ENV", "REDIS_URL"]);
    const config = loadConfig(env);
    expect(config.apps.map((a) => a.id)).toEqual(["shop"]);
    expect(config.developmentApp).toBe(false);
  });

  it.skipIf(skipBrowser)("the SSE snippet, in a browser page of Herald's origin, logs the headline", async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const { page, blocked } = await localPage(browser);
      await page.goto(`${origin}/console`);
      const snippet = find("js", "new EventSource").text;
      // The snippet's console.log, kept where the test can read it.
      await page.evaluate(`(() => { window.logged = []; const console = { log: (v) => window.logged.push(v) }; ${snippet} })()`);
      const logged = () => page.evaluate(() => JSON.stringify((window as unknown as { logged: unknown[] }).logged));
      // The subscription is live once its first event (SUBSCRIBED) came.
      const deadline = Date.now() + 10_000;
      while (!(await logged()).includes("herald:subscription_succeeded") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await run(local(find("sh", "curl -s http://localhost:4000/graphql").text));
      while (!(await logged()).includes("headline") && Date.now() < deadline + 5_000) await new Promise((r) => setTimeout(r, 50));
      expect(await logged()).toContain('"event":"headline"');
      expect(blocked).toEqual([]);
    } finally {
      await browser?.close();
    }
  }, 30_000);
});
