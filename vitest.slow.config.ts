import { defineConfig } from "vitest/config";

/**
 * `npm run test:slow`: the property runs, each over thousands of generated deliveries with a fixed seed (so a failure
 * replays), apart from `npm test` to keep its feedback quick. CI (.ci/run) runs both.
 */
export default defineConfig({
  test: {
    include: ["test/**/*.property.test.ts"],
    globalSetup: ["test/support/pglite-template.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    allowOnly: false,
  },
});
