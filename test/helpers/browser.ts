import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`); .ci/run installs it when missing. */
const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
export const chromiumPath = CANDIDATES.find((path): path is string => path !== undefined && existsSync(path));

/** Without a Chromium the browser tests skip here, and fail in CI. */
export const skipBrowser = chromiumPath === undefined && process.env.CI !== "true";

export function launchChromium(): Promise<Browser> {
  if (!chromiumPath) throw new Error("no Chromium: apt-get install chromium (or set CHROMIUM_PATH)");
  return chromium.launch({ executablePath: chromiumPath, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
}

/** A page that may only reach 127.0.0.1 (and its own blob:/data: URLs); what it tried elsewhere is in `blocked`. */
export async function localPage(browser: Browser): Promise<{ page: Page; blocked: string[] }> {
  const page = await browser.newPage();
  const blocked: string[] = [];
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1" || url.protocol === "blob:" || url.protocol === "data:") return route.continue();
    blocked.push(url.href);
    return route.abort();
  });
  return { page, blocked };
}
