import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openDatabase } from "../../src/db/database.js";
import { SECRETS } from "../support/sign.js";
import {
  answer,
  BASE_ENV,
  deliver,
  freePort,
  freshDatabase,
  installApp,
  type Running,
  run,
  serve,
  WEBHOOK,
} from "./support.js";

/**
 * test/apps/next: a Next.js 16 App Router app whose only route is the README's recipe, built with no environment
 * at all (no secret, no database), then served: by `next start`, and as `output: "standalone"` copied away from
 * the app's node_modules; bundled by Turbopack (the default) and by webpack.
 */
const ROUTE = readFileSync(new URL("./next/app/api/user/webhook/clerk/route.ts", import.meta.url), "utf8");

describe("a Next.js app with the README's route file", () => {
  let app = "";
  const cleanup: string[] = [];
  beforeAll(async () => {
    app = await installApp("next", inject("tarball"));
    cleanup.push(dirname(app));
  });
  afterAll(() => {
    for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
  });

  it("is the recipe, exactly", () => {
    expect(ROUTE).toBe(
      [
        'import { clerkUserSyncRoute } from "clerk-user-sync/next";',
        'export const runtime = "nodejs";',
        "export const { POST, GET, PUT, PATCH, DELETE } = clerkUserSyncRoute();",
        "",
      ].join("\n"),
    );
  });

  it.each([
    { bundler: "Turbopack", output: "next start", flags: [] },
    { bundler: "Turbopack", output: "standalone", flags: [] },
    { bundler: "webpack", output: "standalone", flags: ["--webpack"] },
  ])(
    "$bundler, $output: builds with no environment, then stores signed deliveries",
    async ({ bundler, output, flags }) => {
      // The build: no secret, no database in sight. It must neither fail nor open anything.
      const standalone = output === "standalone";
      const env = { ...BASE_ENV, ...(standalone ? { NEXT_OUTPUT: "standalone" } : {}) };
      const next = join(app, "node_modules/next/dist/bin/next");
      rmSync(join(app, ".next"), { recursive: true, force: true });
      const build = await run(process.execPath, [next, "build", ...flags], { cwd: app, env });
      expect(build.stdout).toMatch(new RegExp(`ƒ ${WEBHOOK}`));
      expect(existsSync(join(app, ".data"))).toBe(false);

      // The server, away from the app's node_modules when standalone: it must carry everything it needs.
      let cwd = app;
      let command = [process.execPath, next, "start", "-H", "127.0.0.1"];
      if (standalone) {
        cwd = join(mkdtempSync(join(tmpdir(), "cus-standalone-")), "server");
        cleanup.push(dirname(cwd));
        cpSync(join(app, ".next/standalone"), cwd, { recursive: true });
        command = [process.execPath, "server.js"];
      }
      const db = await freshDatabase();
      const start = async (settings: Record<string, string>): Promise<Running> => {
        const port = await freePort();
        return serve([...command, ...(standalone ? [] : ["-p", String(port)])], {
          cwd,
          env: { ...BASE_ENV, PORT: String(port), HOSTNAME: "127.0.0.1", ...settings },
          ready: (line) => (/Ready in/.test(line) ? `http://127.0.0.1:${port}` : undefined),
        });
      };
      let server = await start({ DATABASE_URL: db.url });
      try {
        // Started without its secrets: a JSON 500 that names what is missing in the log, and nothing stored.
        expect(await deliver(server.base, "user_too_early", SECRETS.development)).toEqual({
          status: 500,
          allow: null,
          body: { code: "invalid_config", message: expect.any(String) },
        });
        await server.stop();
        expect(server.output.join("\n")).toMatch(/DEV_CLERK_WEBHOOK_SECRET/);

        // Restarted with them: deliveries from both instances, signed by svix itself, land in PostgreSQL.
        server = await start({
          DATABASE_URL: db.url,
          DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
          PROD_CLERK_WEBHOOK_SECRET: SECRETS.production,
        });
        expect(await answer(await fetch(`${server.base}${WEBHOOK}`))).toEqual({
          status: 405,
          allow: "POST",
          body: { code: "method_not_allowed", message: expect.any(String) },
        });
        for (const [id, environment] of [
          ["user_next_dev", "development"],
          ["user_next_prod", "production"],
        ] as const) {
          expect(await deliver(server.base, id, SECRETS[environment])).toEqual({
            status: 200,
            allow: null,
            body: { status: "applied", environment, type: "user.created" },
          });
        }
        expect(await db.users()).toEqual([
          { clerk_user_id: "user_next_dev", environment: "development", email: "example@example.org" },
          { clerk_user_id: "user_next_prod", environment: "production", email: "example@example.org" },
        ]);
        const logs = server.output.join("\n");
        expect(logs).not.toContain(SECRETS.development);
        expect(logs).not.toContain("example@example.org");
        expect(existsSync(join(cwd, ".data"))).toBe(false);
        await server.stop();

        // Without DATABASE_URL, the embedded PGlite (bundled with the rest) under DATA_DIR, as documented. Not with
        // webpack: it bundles PGlite without the files PGlite loads at run time (docs/nextjs.md).
        if (bundler === "webpack") return;
        const dataDir = join(dirname(cwd), "users-data");
        server = await start({ DATA_DIR: dataDir, PROD_CLERK_WEBHOOK_SECRET: SECRETS.production });
        expect((await deliver(server.base, "user_embedded", SECRETS.production)).status).toBe(200);
        await server.stop();
        const embedded = await openDatabase(undefined, { dataDir });
        try {
          expect(await embedded.query("select clerk_user_id, environment from users")).toEqual([
            { clerk_user_id: "user_embedded", environment: "production" },
          ]);
        } finally {
          await embedded.close();
        }
      } finally {
        await server.stop();
        await db.drop();
      }
    },
  );
});
