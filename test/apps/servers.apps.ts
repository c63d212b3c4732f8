import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { SECRETS } from "../support/sign.js";
import { BASE_ENV, deliver, freshDatabase, installApp, serve } from "./support.js";

/** test/apps/express and test/apps/hono: small servers mounting the packed package, each storing one delivery. */
describe.each([
  { name: "express", environment: "development" },
  { name: "hono", environment: "production" },
] as const)("a $name app", ({ name, environment }) => {
  it("stores a delivery signed with the official svix package", async () => {
    const app = await installApp(name, inject("tarball"));
    const db = await freshDatabase();
    const server = await serve([process.execPath, "server.mjs"], {
      cwd: app,
      env: {
        ...BASE_ENV,
        DATABASE_URL: db.url,
        DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
        PROD_CLERK_WEBHOOK_SECRET: SECRETS.production,
      },
      ready: (line) => {
        const port = line.startsWith("{") ? (JSON.parse(line) as { port?: number }).port : undefined;
        return port ? `http://127.0.0.1:${port}` : undefined;
      },
    });
    try {
      const id = `user_${name}`;
      expect(await deliver(server.base, id, SECRETS[environment])).toEqual({
        status: 200,
        allow: null,
        body: { status: "applied", environment, type: "user.created" },
      });
      expect(await db.users()).toEqual([{ clerk_user_id: id, environment, email: "example@example.org" }]);
    } finally {
      await server.stop();
      await db.drop();
      rmSync(dirname(app), { recursive: true, force: true });
    }
  }, 300_000);
});
