import type { Browser } from "playwright-core";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEVELOPMENT_APP, loadConfig } from "../src/config.ts";
import { createHerald, type Herald } from "../src/server.ts";
import { launchChromium, localPage, skipBrowser } from "./helpers/browser.ts";
import { eventually } from "./helpers/wait.ts";

/** The README's first steps and the console, in a browser that can reach nothing but Herald. */
describe.skipIf(skipBrowser)("in a browser, offline", () => {
  let herald: Herald;
  let url: string;
  let browser: Browser;
  beforeAll(async () => {
    // No HERALD_APPS: the development app, whose key GraphiQL's headers are pre-filled with.
    herald = await createHerald(loadConfig({ LOG_LEVEL: "silent", HERALD_WEBHOOK_ALLOW_PRIVATE: "127.0.0.1/32" }), { logger: pino({ level: "silent" }) });
    const { port } = await herald.listen(0, "127.0.0.1");
    url = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await herald?.close();
  });

  it("loads with no request outside 127.0.0.1, runs the README's subscription and shows a published event", async () => {
    const { page, blocked } = await localPage(browser);
    const subscription = 'subscription {\n  channel(name: "news") { kind event data publishedAt }\n}';
    await page.goto(`${url}/graphql?query=${encodeURIComponent(subscription)}`);
    expect(await page.title()).toBe("Herald");
    await page.click(".graphiql-execute-button", { timeout: 20_000 });
    const response = () => page.evaluate(() => (document.querySelector(".graphiql-response")?.textContent ?? "").replace(/\s+/g, " "));
    await eventually(async () => (await response()).includes('"kind": "SUBSCRIBED"'), true, 10_000);

    // The README's curl publish.
    const published = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${DEVELOPMENT_APP.secret}` },
      body: JSON.stringify({ query: 'mutation { publish(input: { channels: ["news"], event: "headline", data: { title: "Hello" } }) { id publishedAt } }' }),
    });
    expect(published.status).toBe(200);
    await eventually(async () => (await response()).includes('"event": "headline"'), true, 10_000);
    expect(await response()).toContain('"title": "Hello"');
    expect(blocked).toEqual([]);
    await page.close();
  }, 60_000);

  const publish = (channel: string, event: string, data: unknown) =>
    fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${DEVELOPMENT_APP.secret}` },
      body: JSON.stringify({ query: "mutation ($input: PublishInput!) { publish(input: $input) { id } }", variables: { input: { channels: [channel], event, data } } }),
    });

  it("serves the console at / : live channels, a channel's events within a second, history, and publishing", async () => {
    const { page, blocked } = await localPage(browser);
    await page.goto(`${url}/`);
    expect(new URL(page.url()).pathname).toBe("/console");
    await page.fill('#connect input[name="key"]', DEVELOPMENT_APP.key);
    await page.fill('#connect input[name="secret"]', DEVELOPMENT_APP.secret);
    await page.click("#connect button");
    await page.waitForFunction(() => document.querySelector("#status")?.textContent?.startsWith("connected"), undefined, { timeout: 10_000 });

    await page.fill('#open input[name="channel"]', "console-news");
    await page.click("#open button");
    const eventRows = () => page.$$eval("#events tbody tr", (rows) => rows.map((r) => [...r.children].map((td) => td.textContent)));
    await eventually(async () => (await eventRows()).map((r) => r[0]), ["SUBSCRIBED"], 10_000);
    // The occupied channel shows up in the live list, with its subscription.
    const channelRows = () => page.$$eval("#channels tbody tr", (rows) => rows.map((r) => [...r.children].map((td) => td.textContent)));
    await eventually(channelRows, [["console-news", "1", ""]], 10_000);
    // The activity list heard it being occupied (channelActivity over SSE, with the secret).
    const activityRows = () => page.$$eval("#activity tbody tr", (rows) => rows.map((r) => [...r.children].slice(1).map((td) => td.textContent)));
    await eventually(activityRows, [["OCCUPIED", "console-news", ""]], 10_000);

    // A backend's publish appears within a second.
    const started = Date.now();
    expect((await publish("console-news", "from-backend", { n: 1 })).status).toBe(200);
    await page.waitForFunction(() => document.querySelector("#events tbody tr td:nth-child(2)")?.textContent === "from-backend", undefined, {
      timeout: 1_000,
    });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await eventRows())[0]).toEqual(["MESSAGE", "from-backend", expect.any(String), "1", '{"n":1}']);
    await eventually(async () => page.$$eval("#history tbody tr", (rows) => rows.length), 1, 5_000);

    // Publishing from the page reaches the channel too.
    await page.fill('#publish input[name="event"]', "from-console");
    await page.fill('#publish input[name="data"]', '{"hello":"console"}');
    await page.click("#publish button");
    await eventually(async () => (await eventRows())[0]?.slice(0, 2), ["MESSAGE", "from-console"], 5_000);
    expect(await page.textContent("#publish-status")).toMatch(/^published /);

    // A pull queue and a watch channel the backend creates show up, the watch with its last notification.
    const created = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${DEVELOPMENT_APP.secret}` },
      body: JSON.stringify({
        query: 'mutation { createQueue(channel: "console-news") { key } watch(channel: "console-news", input: { id: "console-watch", address: "http://127.0.0.1:9/hook" }) { id } }',
      }),
    });
    expect(((await created.json()) as { errors?: unknown }).errors).toBeUndefined();
    const queueRows = () => page.$$eval("#queues tbody tr", (rows) => rows.map((r) => [...r.children].slice(1).map((td) => td.textContent)));
    await eventually(queueRows, [["console-news", "0", "0"]], 10_000);
    const watchRows = () => page.$$eval("#watches tbody tr", (rows) => rows.map((r) => [...r.children].slice(0, 3).map((td) => td.textContent)));
    await eventually(watchRows, [["console-watch", "console-news", "http://127.0.0.1:9/hook"]], 10_000);
    expect(blocked).toEqual([]);
  }, 60_000);
});
