import { afterEach, describe, expect, it } from "vitest";
import {
  type ClerkUserSyncRouteOptions,
  clerkUserSyncRoute,
  closeClerkUserSyncRoutes,
} from "../src/adapters/next.js";
import { openDatabase } from "../src/db/database.js";
import { migrate } from "../src/db/migrate.js";
import type { Logger } from "../src/sync.js";
import { ADMIN_URL, backends, type TestDatabase } from "./support/backends.js";
import { userEvent } from "./support/fixtures.js";
import { faultyProxy } from "./support/proxy.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

/**
 * clerk-user-sync/next as a route file uses it: the handlers called with Web Requests, the settings read from an
 * environment (injected here as Next.js would leave them in process.env), on every backend.
 */
const URL_ = "http://localhost/api/user/webhook/clerk";
const ENV = { DEV_CLERK_WEBHOOK_SECRET: SECRETS.development, PROD_CLERK_WEBHOOK_SECRET: SECRETS.production };

function delivery(id: string, secret: string = SECRETS.development): Request {
  const { body, headers } = signedDelivery(userEvent("user.created", { id }), { secret });
  return new Request(URL_, { method: "POST", body, headers });
}

async function answer(response: Response) {
  return {
    status: response.status,
    allow: response.headers.get("allow"),
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** A logger that keeps what it is given, as one line each. */
function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (obj: object, msg?: string) => lines.push(`${msg} ${JSON.stringify(obj)}`);
  return { lines, debug() {}, info() {}, warn: keep, error: keep };
}

afterEach(() => closeClerkUserSyncRoutes());

describe("clerkUserSyncRoute, before any database", () => {
  it.each(["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"] as const)(
    "%s answers 405 method_not_allowed with Allow: POST, and starts nothing",
    async (method) => {
      const logger = capture();
      // Nothing configured, in production: a start would fail loudly, so a quiet 405 proves there was none.
      const route = clerkUserSyncRoute({ env: { NODE_ENV: "production" }, logger });
      const response = await route[method](new Request(URL_, { method }));
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("POST");
      if (method !== "HEAD") {
        expect(await response.json()).toEqual({ code: "method_not_allowed", message: expect.any(String) });
      }
      expect(logger.lines).toEqual([]);
    },
  );

  it.each([
    ["no secret", { DATABASE_URL: ADMIN_URL }, /DEV_CLERK_WEBHOOK_SECRET and\/or PROD_CLERK_WEBHOOK_SECRET/],
    [
      "a malformed secret",
      { ...ENV, DEV_CLERK_WEBHOOK_SECRET: "not-a-secret-xyz" },
      /DEV_CLERK_WEBHOOK_SECRET/,
    ],
    [
      "a database URL that is not PostgreSQL's",
      { ...ENV, DATABASE_URL: "mysql://me:hunter2@db" },
      /DATABASE_URL/,
    ],
    ["no database in production", { ...ENV, NODE_ENV: "production" }, /DATABASE_URL is not set/],
    ["a pool size that is not a number", { ...ENV, DATABASE_POOL_MAX: "lots" }, /DATABASE_POOL_MAX/],
    ["MIGRATE_ON_START that is not a boolean", { ...ENV, MIGRATE_ON_START: "sometimes" }, /MIGRATE_ON_START/],
    [
      "an unpooled URL that is not PostgreSQL's",
      { ...ENV, DATABASE_URL_UNPOOLED: "mysql://me:hunter2@db" },
      /DATABASE_URL_UNPOOLED/,
    ],
  ])("%s: 500 invalid_config, one log line naming the variable, never its value", async (_, env, named) => {
    const logger = capture();
    const route = clerkUserSyncRoute({ env, logger });
    expect(await answer(await route.POST(delivery("user_unconfigured")))).toEqual({
      status: 500,
      allow: null,
      body: { code: "invalid_config", message: expect.stringContaining("log") },
    });
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatch(named);
    expect(logger.lines[0]).not.toMatch(/hunter2|not-a-secret|MfKQ9r8G|dGhpc2lz/);
  });
});

describe.each(await backends())("clerkUserSyncRoute on $name", (backend) => {
  const withDatabase = (db: TestDatabase) =>
    db.database === undefined ? { DATA_DIR: db.dataDir } : { DATABASE_URL: db.database };

  /** The rows, read once the routes have let go of the database (PGlite is one process's alone). */
  async function users(db: TestDatabase) {
    await closeClerkUserSyncRoutes();
    const handle = await openDatabase(db.database, { dataDir: db.dataDir });
    try {
      return await handle.query<{ clerk_user_id: string; environment: string }>(
        "select clerk_user_id, environment from users order by clerk_user_id",
      );
    } finally {
      await handle.close();
    }
  }

  it("stores deliveries signed by both instances, from the environment's settings", async () => {
    const db = await backend.create();
    try {
      const { POST } = clerkUserSyncRoute({ env: { ...ENV, ...withDatabase(db) } });
      for (const [id, environment] of [
        ["user_next_dev", "development"],
        ["user_next_prod", "production"],
      ] as const) {
        expect(await answer(await POST(delivery(id, SECRETS[environment])))).toEqual({
          status: 200,
          allow: null,
          body: { status: "applied", environment, type: "user.created" },
        });
      }
      expect(await users(db)).toEqual([
        { clerk_user_id: "user_next_dev", environment: "development" },
        { clerk_user_id: "user_next_prod", environment: "production" },
      ]);
    } finally {
      await db.drop();
    }
  });

  it("with MIGRATE_ON_START=false, touches no schema: 503 on a database never migrated, 200 once `migrate` ran", async () => {
    const db = await backend.create();
    const env = { ...ENV, ...withDatabase(db), MIGRATE_ON_START: "false" };
    try {
      const first = await clerkUserSyncRoute({ env }).POST(delivery("user_unmigrated"));
      expect(await answer(first)).toEqual({
        status: 503,
        allow: null,
        body: { code: "storage_unavailable", message: expect.any(String) },
      });
      await closeClerkUserSyncRoutes();
      const handle = await openDatabase(db.database, { dataDir: db.dataDir });
      try {
        expect(await handle.query("select to_regclass('users')::text as users")).toEqual([{ users: null }]);
        await migrate(handle);
      } finally {
        await handle.close();
      }
      const second = await clerkUserSyncRoute({ env }).POST(delivery("user_unmigrated"));
      expect((await answer(second)).body).toEqual({
        status: "applied",
        environment: "development",
        type: "user.created",
      });
      expect(await users(db)).toEqual([{ clerk_user_id: "user_unmigrated", environment: "development" }]);
    } finally {
      await db.drop();
    }
  });

  it("answers invalid_config while a secret is missing, then works once it is set, without a restart", async () => {
    const db = await backend.create();
    const env: Record<string, string | undefined> = { ...withDatabase(db) };
    try {
      const { POST } = clerkUserSyncRoute({ env, logger: capture() });
      expect((await answer(await POST(delivery("user_early")))).body.code).toBe("invalid_config");
      env.DEV_CLERK_WEBHOOK_SECRET = SECRETS.development;
      expect((await answer(await POST(delivery("user_later")))).status).toBe(200);
      expect(await users(db)).toEqual([{ clerk_user_id: "user_later", environment: "development" }]);
    } finally {
      await db.drop();
    }
  });

  it("keeps one instance however often the route module is evaluated again, calling the newest hooks", async () => {
    const db = await backend.create();
    const seen: string[] = [];
    const options = (version: number): ClerkUserSyncRouteOptions => ({
      env: { ...ENV, ...withDatabase(db) },
      onEvent: (event) => {
        seen.push(`v${version}:${event.clerkUserId}`);
      },
    });
    try {
      // As `next dev` does after each edit: the module runs again and makes new handlers.
      for (let version = 1; version <= 5; version++) {
        const { POST } = clerkUserSyncRoute(options(version));
        expect((await POST(delivery(`user_v${version}`))).status).toBe(200);
      }
      expect(seen).toEqual(["v1:user_v1", "v2:user_v2", "v3:user_v3", "v4:user_v4", "v5:user_v5"]);
      if (db.database !== undefined) {
        // One pool: had each version opened its own, the earlier ones would still hold their connections.
        const admin = await openDatabase(ADMIN_URL);
        const sessions = await admin
          .query<{ n: number }>("select count(*)::int as n from pg_stat_activity where datname = $1", [
            new URL(db.database).pathname.slice(1),
          ])
          .finally(() => admin.close());
        expect(sessions[0]?.n).toBe(1);
      }
      expect(await users(db)).toHaveLength(5);
    } finally {
      await db.drop();
    }
  });
});

describe.each((await backends()).filter((b) => b.name === "postgres"))(
  "clerkUserSyncRoute, database down",
  (backend) => {
    it("answers 503 storage_unavailable while the database is unreachable, and starts at the next request once it is back", async () => {
      const db = await backend.create();
      const proxy = await faultyProxy(db.database as string);
      try {
        const logger = capture();
        const { POST } = clerkUserSyncRoute({ env: { ...ENV, DATABASE_URL: proxy.url }, logger });
        proxy.cut("refuse");
        expect(await answer(await POST(delivery("user_down")))).toEqual({
          status: 503,
          allow: null,
          body: { code: "storage_unavailable", message: expect.any(String) },
        });
        expect(logger.lines).toEqual([expect.stringMatching(/could not start/)]);
        proxy.restore();
        expect((await answer(await POST(delivery("user_back")))).status).toBe(200);
        expect(await users(db)).toEqual([{ clerk_user_id: "user_back", environment: "development" }]);
      } finally {
        await closeClerkUserSyncRoutes();
        await proxy.close();
        await db.drop();
      }
    });

    async function users(db: TestDatabase) {
      const handle = await openDatabase(db.database);
      try {
        return await handle.query("select clerk_user_id, environment from users");
      } finally {
        await handle.close();
      }
    }
  },
);
