import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

/** The docs stay true to the code: every setting documented, every link landing somewhere. */
const DOCS = ["README.md", "bench/README.md", ...readdirSync("docs").map((f) => `docs/${f}`)];
const read = (path: string) => readFileSync(path, "utf8");

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const slug = (heading: string) =>
  heading
    .replace(/`/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, "")
    .replace(/ /g, "-");

describe("documentation", () => {
  it("lists every environment variable the configuration reads in docs/configuration.md", () => {
    const variables = [...read("src/config.ts").matchAll(/^  ([A-Z][A-Z0-9_]+): /gm)].map((m) => m[1]!);
    expect(variables.length).toBeGreaterThan(40);
    const table = read("docs/configuration.md");
    expect(variables.filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });

  it("has no relative link to a missing file or heading", () => {
    const anchors = new Map(DOCS.map((path) => [path, new Set([...read(path).matchAll(/^#{1,6} (.*)$/gm)].map((m) => slug(m[1]!)))]));
    const broken: string[] = [];
    for (const path of DOCS) {
      for (const [, target] of read(path).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [file, anchor] = target!.split("#") as [string, string | undefined];
        const resolved = file === "" ? path : join(dirname(path), file);
        if (!existsSync(resolved)) broken.push(`${path}: ${target}`);
        else if (anchor && resolved.endsWith(".md") && !anchors.get(resolved)?.has(anchor)) broken.push(`${path}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
