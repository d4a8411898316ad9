import type { Browser } from "playwright-core";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEVELOPMENT_APP, loadConfig } from "../src/config.ts";
import { createHerald, type Herald } from "../src/server.ts";
import { launchChromium, localPage, skipBrowser } from "./helpers/browser.ts";
import { eventually } from "./helpers/wait.ts";

/** The README's first steps, in a browser that can reach nothing but Herald. */
describe.skipIf(skipBrowser)("GraphiQL, offline", () => {
  let herald: Herald;
  let url: string;
  let browser: Browser;
  beforeAll(async () => {
    // No HERALD_APPS: the development app, whose key GraphiQL's headers are pre-filled with.
    herald = await createHerald(loadConfig({ LOG_LEVEL: "silent" }), { logger: pino({ level: "silent" }) });
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
  }, 60_000);
});
