import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

/**
 * What `npm ci` installs on the Node this runs on (20 here): every package that will be on disk
 * accepts this Node (so `npm ci` prints no EBADENGINE warning), and the Node 20 trap stays shut —
 * no `@whatwg-node/promise-helpers` 2.x (it calls `Promise.withResolvers`, Node ≥ 22) anywhere.
 */
const lock = JSON.parse(readFileSync(new URL("../package-lock.json", import.meta.url), "utf8")) as {
  packages: Record<string, { version?: string; optional?: boolean; os?: string[]; cpu?: string[]; engines?: { node?: string } }>;
};
const semver = createRequire(import.meta.url)("semver") as { satisfies(version: string, range: string): boolean };
const installed = Object.entries(lock.packages).filter(([path, entry]) => {
  if (path === "") return false;
  // Platform binaries of other systems are skipped by npm; their engines do not matter here.
  const foreign = (entry.os && !entry.os.includes(process.platform)) || (entry.cpu && !entry.cpu.includes(process.arch));
  return !(entry.optional && foreign);
});

describe("the installed packages", () => {
  it("all accept this Node version (npm ci warns no EBADENGINE)", () => {
    const refusing = installed
      .filter(([, entry]) => entry.engines?.node && !entry.optional && !semver.satisfies(process.versions.node, entry.engines.node))
      .map(([path, entry]) => `${path}@${entry.version} wants node ${entry.engines!.node}`);
    expect(refusing).toEqual([]);
  });

  it("hold no @whatwg-node/promise-helpers 2.x (Node 22's Promise.withResolvers)", () => {
    const helpers = installed.filter(([path]) => path.endsWith("node_modules/@whatwg-node/promise-helpers"));
    expect(helpers.length).toBeGreaterThan(0);
    expect(helpers.filter(([, entry]) => !entry.version!.startsWith("1.")).map(([path, entry]) => `${path}@${entry.version}`)).toEqual([]);
  });
});
