import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The console at `/console`: static files from `src/console/` (plain HTML, CSS and browser
 * JavaScript — nothing to build) and graphql-ws's browser build from node_modules, read once.
 * The page talks to Herald's own GraphQL; nothing it loads comes from elsewhere, and its CSP
 * says so. `GET /` sends browsers there.
 */
export type Route = (req: IncomingMessage, res: ServerResponse) => void;

const TYPES = { html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8" } as const;

const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** `src/console/`, whether this runs from `src/` (tsx) or from `dist/src/` (built). */
function consoleDirectory(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "../console"), join(here, "../../../src/console")];
  const found = candidates.find((dir) => existsSync(join(dir, "index.html")));
  if (!found) throw new Error(`console files not found in ${candidates.join(" or ")}`);
  return found;
}

function graphqlWsBrowserBuild(): string {
  const entry = createRequire(import.meta.url).resolve("graphql-ws");
  return join(dirname(entry), "../umd/graphql-ws.min.js");
}

export function consoleRoutes(): Record<string, Route> {
  const dir = consoleDirectory();
  const file = (path: string, type: keyof typeof TYPES): Route => {
    const body = readFileSync(path);
    return (_req, res) => {
      res.writeHead(200, { "content-type": TYPES[type], "content-length": body.length, "content-security-policy": CSP, "cache-control": "no-cache" });
      res.end(body);
    };
  };
  return {
    "/": (_req, res) => {
      res.writeHead(302, { location: "/console", "content-length": 0 });
      res.end();
    },
    "/console": file(join(dir, "index.html"), "html"),
    "/console/console.js": file(join(dir, "console.js"), "js"),
    "/console/console.css": file(join(dir, "console.css"), "css"),
    "/console/graphql-ws.js": file(graphqlWsBrowserBuild(), "js"),
  };
}
