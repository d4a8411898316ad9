import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // One graphql module, as under Node: Vite would pick graphql's ESM build for our imports
    // while Yoga requires the CommonJS one, and `instanceof GraphQLError` would then fail.
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/redis.ts", "test/setup/redis-cluster.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Suites start real servers, Redis servers and clusters, and load generators of their own:
    // two files at once on two cores made timing-bound tests fail now and then (a delivery
    // late past its wait), so one file runs at a time.
    pool: "forks",
    poolOptions: { forks: { maxForks: 1 } },
  },
});
