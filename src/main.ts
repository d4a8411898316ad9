#!/usr/bin/env node
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createLogger } from "./logger.ts";
import { createHerald } from "./server.ts";

/** What closing the engine (and schedule runs in flight) may take after the requests' drain. */
const SHUTDOWN_GRACE_MS = 5_000; // 5 seconds

/** The only code that touches `process`: env in, signals handled, exit codes out. */
async function main() {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`herald: invalid configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config);
  if (config.developmentApp) {
    const app = config.apps[0]!;
    logger.warn(
      { appId: app.id, key: app.key, secret: app.secret },
      "No HERALD_APPS configured: using the development app (never in production)",
    );
  }
  // A rejection nobody handled is a bug, but one connection's bug must not take every other
  // connection down with the process: log it loudly and keep serving.
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled promise rejection"));
  const herald = await createHerald(config, { logger });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // An operator who asks twice does not want to wait for the drain.
      logger.warn({ signal }, "second signal while draining: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "draining");
    // Requests in flight get `shutdownTimeoutMs`; closing the engine and runs in flight get a
    // little more, then the process goes anyway rather than hang a deploy.
    setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs + SHUTDOWN_GRACE_MS }, "drain did not finish in time: exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs + SHUTDOWN_GRACE_MS).unref();
    herald.close().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  // Installed before listening: a signal at any point from here on drains.
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  let url: string;
  try {
    ({ url } = await herald.listen());
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EADDRINUSE" && code !== "EACCES") throw error;
    const why = code === "EADDRINUSE" ? "is already in use" : "may not be opened by this user";
    process.stderr.write(`herald: port ${config.port} on ${config.host} ${why}: set PORT (and HOST) to another\n`);
    process.exit(1);
  }
  logger.info({ url: `${url}/graphql`, engine: herald.engine.kind }, `Herald listening; GraphiQL at ${url}/graphql`);
}

main().catch((error) => {
  process.stderr.write(`herald: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
