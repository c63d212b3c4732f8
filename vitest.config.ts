import { defineConfig } from "vitest/config";

/**
 * `npm test`. The property runs (`*.property.test.ts`: thousands of generated deliveries each, with fixed seeds) are
 * `npm run test:slow` (vitest.slow.config.ts), which CI (.ci/run) runs after this.
 */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/**/*.property.test.ts"],
    globalSetup: ["test/support/pglite-template.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    allowOnly: false,
  },
});
