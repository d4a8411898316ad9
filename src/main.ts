import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createLogger } from "./logger.ts";
import { createHerald } from "./server.ts";

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
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "draining");
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
  const { url } = await herald.listen();
  logger.info({ url: `${url}/graphql`, engine: herald.engine.kind }, `Herald listening; GraphiQL at ${url}/graphql`);
}

main().catch((error) => {
  process.stderr.write(`herald: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
