import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/redis.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Suites start real servers and Redis connections; two cores, so keep the pool small.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2 } },
  },
});
