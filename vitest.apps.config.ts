import { defineConfig } from "vitest/config";

// `npm run test:apps`: real apps (Next.js, Express, Hono) installed from the npm registry with their own
// lockfiles, mounting this package from its packed tarball. Slow (installs, `next build`), so apart from `npm test`.
export default defineConfig({
  test: {
    include: ["test/apps/*.apps.ts"],
    globalSetup: ["test/apps/pack.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    allowOnly: false,
  },
});
