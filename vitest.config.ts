import { defineConfig } from "vitest/config";

/**
 * `npm test`. The property runs (`*.property.test.ts`: thousands of generated deliveries each, with fixed seeds) are
 * `npm run test:slow` (vitest.slow.config.ts), which CI (.ci/run) runs after this.
 *
 * Two files at a time: Vitest's default on two cores is one worker (cores − 1), and the files spend much of their
 * time waiting on child processes, PostgreSQL and timers rather than on a core. Which files run first is Vitest's
 * choice: the longest of the previous run, so that the slowest do not start last. Where the time goes:
 * docs/performance.md ("Test suite").
 */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/**/*.property.test.ts"],
    globalSetup: ["test/support/pglite-template.ts"],
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    allowOnly: false,
  },
});
