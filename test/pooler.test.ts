import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/database.js";
import { migrate } from "../src/db/migrate.js";
import { type ClerkUserSync, createClerkUserSync } from "../src/sync.js";
import { ADMIN_URL, POOLER_URL, pooled, type TestDatabase } from "./support/backends.js";
import { deletedEvent, userEvent } from "./support/fixtures.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

/*
 * Through a transaction pooler, as Supabase's (port 6543), Neon's `-pooler` host and a PgBouncer in
 * `pool_mode = transaction` put one between an app and PostgreSQL: each transaction may run on another server
 * connection, and a server connection serves many clients. CI starts Debian's PgBouncer 1.18 (scripts/pgbouncer.sh,
 * a pool of 5) and sets CLERK_USER_SYNC_TEST_POOLER; the rest of the PostgreSQL suite also runs through it there.
 * Each case here is one that failed with a 503 or hung before the statements stopped outliving their transaction.
 */

if (process.env.CI && POOLER_URL === undefined)
  throw new Error("CLERK_USER_SYNC_TEST_POOLER is not set: CI runs these through scripts/pgbouncer.sh");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(pooled)("through a transaction pooler", () => {
  let db: TestDatabase;
  const opened: ClerkUserSync[] = [];
  let direct: pg.Client;

  /** An instance of the library on the pooled URL, its connections closed after `idleTimeout` ms unused. */
  async function instance(idleTimeout = 10_000): Promise<ClerkUserSync> {
    const sync = await createClerkUserSync({
      database: db.database,
      secrets: SECRETS,
      pool: { max: 3, idleTimeout },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    opened.push(sync);
    return sync;
  }

  async function deliver(sync: ClerkUserSync, event: unknown) {
    const { body, headers } = signedDelivery(event);
    const response = await sync.handle({ body, headers });
    return { status: response.status, body: JSON.parse(response.body) as Record<string, unknown> };
  }

  beforeAll(async () => {
    db = await (pooled as NonNullable<typeof pooled>).create();
    const url = new URL(ADMIN_URL);
    url.pathname = new URL(db.database as string).pathname;
    direct = new pg.Client({ connectionString: url.toString() });
    await direct.connect();
  });

  afterAll(async () => {
    await Promise.all(opened.map((sync) => sync.close()));
    await direct?.end();
    await db?.drop();
  });

  it("migrates sixteen instances starting at once: all finish, and no connection is left waiting on a lock", async () => {
    // Each as `clerk-user-sync migrate` would: open, migrate, close (a session pooler frees its connection then).
    const once = async () => {
      const database = await openDatabase(db.database, { pool: { max: 1 } });
      try {
        await migrate(database);
      } finally {
        await database.close();
      }
    };
    await Promise.all(Array.from({ length: 16 }, once));
    // This database's sessions only: pg_locks lists the whole server's, and other test files run alongside.
    const { rows } = await direct.query(
      "select count(*)::int as n from pg_locks join pg_stat_activity using (pid) " +
        "where datname = current_database() and (locktype = 'advisory' or not granted)",
    );
    expect(rows).toEqual([{ n: 0 }]);
    const migrated = await direct.query("select count(*)::int as n from drizzle.__drizzle_migrations");
    expect(migrated.rows[0].n).toBeGreaterThan(0);
  });

  it("answers the first delivery after every quiet spell longer than the pool's idle timeout with 200, from two instances", async () => {
    const instances = [await instance(50), await instance(50)];
    for (let round = 0; round < 4; round++) {
      for (const [i, sync] of instances.entries()) {
        const id = `user_idle_${round}_${i}`;
        const answer = await deliver(sync, userEvent("user.created", { id }));
        expect(answer).toEqual({
          status: 200,
          body: { status: "applied", environment: "development", type: "user.created" },
        });
      }
      // Longer than the idle timeout: the next delivery opens new client connections, which the pooler may pair
      // with server connections the other instance used.
      await sleep(150);
    }
    const { rows } = await direct.query(
      "select count(*)::int as n from users where clerk_user_id like 'user_idle_%'",
    );
    expect(rows).toEqual([{ n: 8 }]);
  });

  it("shares a load between three instances with no 5xx on a first attempt, each delivery applied once", async () => {
    const instances = [await instance(), await instance(), await instance()];
    const events = Array.from({ length: 240 }, (_, n) =>
      n % 10 === 9
        ? deletedEvent(`user_load_${n - 1}`, 1_800_000_000_000)
        : userEvent("user.created", { id: `user_load_${n}`, updated_at: 1_700_000_000_000 + n }),
    );
    const answers = await Promise.all(
      events.map((event, n) => deliver(instances[n % instances.length] as ClerkUserSync, event)),
    );
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    const { rows } = await direct.query(
      `select (select count(*)::int from users where clerk_user_id like 'user_load_%') as users,
        (select count(*)::int from user_tombstones where clerk_user_id like 'user_load_%') as tombstones,
        (select count(*)::int from webhook_deliveries where clerk_user_id like 'user_load_%') as logged`,
    );
    expect(rows).toEqual([{ users: 240 - 2 * 24, tombstones: 24, logged: 240 }]);
  });
});
