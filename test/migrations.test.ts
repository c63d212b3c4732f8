import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { migrate as drizzleMigratePg } from "drizzle-orm/node-postgres/migrator";
import { migrate as drizzleMigratePglite } from "drizzle-orm/pglite/migrator";
import { describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../src/db/database.js";
import { type Migration, migrate, migrationsApplied } from "../src/db/migrate.js";
import { MIGRATIONS } from "../src/db/migrations.generated.js";
import { statement } from "../src/db/statements.js";
import { createClerkUserSync } from "../src/sync.js";
import { ADMIN_URL, backends } from "./support/backends.js";
import { userEvent } from "./support/fixtures.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

/**
 * The migrations ship as a module (src/db/migrations.generated.ts), generated from drizzle/ by
 * scripts/generate-migrations.mjs, and are applied without reading files. These tests hold the module to drizzle/
 * and the migrator to drizzle-orm's own, which it replaces.
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FOLDER = `${ROOT}drizzle`;

describe("the migrations module", () => {
  it("holds exactly what drizzle-orm reads from drizzle/ (else: npm run db:generate)", () => {
    const fromFiles = readMigrationFiles({ migrationsFolder: FOLDER });
    expect(MIGRATIONS.map(({ tag: _, ...meta }) => meta)).toEqual(fromFiles);
  });

  it("is the generator's output, byte for byte", async () => {
    const check = promisify(execFile)(process.execPath, ["scripts/generate-migrations.mjs", "--check"], {
      cwd: ROOT,
    });
    // It exits 1 with a message when they differ; in step, it exits 0 and says nothing.
    await expect(check).resolves.toEqual({ stdout: "", stderr: "" });
  });
});

describe.each(await backends())("migrate on $name", (backend) => {
  async function fresh(): Promise<{ db: Database; drop: () => Promise<void> }> {
    const test = await backend.create();
    const db = await openDatabase(test.database, { dataDir: test.dataDir });
    return {
      db,
      drop: async () => {
        await db.close();
        await test.drop();
      },
    };
  }
  const ledger = (db: Database) =>
    db.query<{ id: number; hash: string; created_at: string }>(
      "select id, hash, created_at::text from drizzle.__drizzle_migrations order by id",
    );
  const tables = (db: Database) =>
    db.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' order by table_name",
    );

  /** drizzle-orm's migrator, reading drizzle/ from disk: what versions before this one ran. */
  async function drizzleMigrate(db: Database): Promise<void> {
    const config = { migrationsFolder: FOLDER };
    if (db.dialect === "pglite") await drizzleMigratePglite(db.orm as never, config);
    else await drizzleMigratePg(db.orm as never, config);
  }

  // Two embedded databases to open: slow on a busy machine.
  it("records the same ledger and tables as drizzle-orm's migrator", async () => {
    const ours = await fresh();
    const theirs = await fresh();
    try {
      expect(await migrationsApplied(ours.db).catch(() => false)).toBe(false);
      await migrate(ours.db);
      await drizzleMigrate(theirs.db);
      expect(await ledger(ours.db)).toEqual(await ledger(theirs.db));
      expect(await ledger(ours.db)).toHaveLength(MIGRATIONS.length);
      expect(await tables(ours.db)).toEqual(await tables(theirs.db));
      expect(await migrationsApplied(ours.db)).toBe(true);
    } finally {
      await ours.drop();
      await theirs.drop();
    }
  }, 120_000);

  it("finds nothing to apply on a database drizzle-orm's migrator migrated, nor on a second run", async () => {
    const { db, drop } = await fresh();
    try {
      await drizzleMigrate(db);
      const before = await ledger(db);
      await migrate(db);
      await migrate(db);
      expect(await ledger(db)).toEqual(before);
      expect(await migrationsApplied(db)).toBe(true);
    } finally {
      await drop();
    }
  });

  it("applies only what is newer than the last recorded, and nothing of a failing migration", async () => {
    const { db, drop } = await fresh();
    const [first, ...rest] = MIGRATIONS as [Migration, ...Migration[]];
    const newest = Math.max(...MIGRATIONS.map((m) => m.folderMillis));
    const broken: Migration = {
      tag: "9999_broken",
      folderMillis: newest + 1,
      bps: true,
      hash: "broken",
      sql: ["create table half_done (id int)", "select * from no_such_table"],
    };
    try {
      await migrate(db, [first]);
      expect((await ledger(db)).map((r) => r.hash)).toEqual([first.hash]);
      await migrate(db);
      expect((await ledger(db)).map((r) => r.hash)).toEqual([first, ...rest].map((m) => m.hash));
      await expect(migrate(db, [...MIGRATIONS, broken])).rejects.toThrow();
      expect((await ledger(db)).map((r) => r.hash)).not.toContain("broken");
      expect((await tables(db)).map((t) => t.table_name)).not.toContain("half_done");
    } finally {
      await drop();
    }
  });

  it("creates the stored statements a version adds, keeps another version's, and calls itself migrated only with all of them", async () => {
    const { db, drop } = await fresh();
    const one = statement("test_one", "select 1 as n", [], "n int");
    const two = statement("test_two", "select 2 as n", [], "n int");
    try {
      await migrate(db, MIGRATIONS, [one]);
      expect(await db.transaction([{ statement: one }])).toEqual([[{ n: 1 }]]);
      await expect(db.transaction([{ statement: two }])).rejects.toMatchObject({ code: "42883" });
      await migrate(db, MIGRATIONS, [two]);
      expect(await db.transaction([{ statement: one }, { statement: two }])).toEqual([
        [{ n: 1 }],
        [{ n: 2 }],
      ]);
      // This version's own stored statements are not there yet: not migrated, until they are.
      expect(await migrationsApplied(db)).toBe(false);
      await migrate(db);
      expect(await migrationsApplied(db)).toBe(true);
    } finally {
      await drop();
    }
  });
});

const postgres = (await backends()).find((b) => b.name === "postgres");

describe.runIf(postgres)("migrations through a direct URL (DATABASE_URL_UNPOOLED)", () => {
  it("let an application role that may not change the schema store deliveries; without it, its start fails", async () => {
    const test = await (postgres as NonNullable<typeof postgres>).create();
    const role = `cus_app_${Math.random().toString(36).slice(2, 10)}`;
    const owner = await openDatabase(test.database, { pool: { max: 1 } });
    try {
      // Like a provider's application role: it reads and writes the tables, and creates nothing.
      await owner.query(`create role ${role} login`);
      await owner.query(`grant usage on schema public to ${role}`);
      await owner.query(`alter default privileges in schema public grant all on tables to ${role}`);
      const asApp = new URL(test.database as string);
      asApp.username = role;
      const options = { database: asApp.toString(), secrets: SECRETS, logger: QUIET };
      await expect(createClerkUserSync(options)).rejects.toMatchObject({ cause: { code: "42501" } });
      const sync = await createClerkUserSync({ ...options, migrationsDatabase: test.database });
      try {
        const { body, headers } = signedDelivery(userEvent("user.created", { id: "user_app_role" }));
        expect((await sync.handle({ body, headers })).status).toBe(200);
      } finally {
        await sync.close();
      }
      expect(await owner.query("select clerk_user_id from users")).toEqual([
        { clerk_user_id: "user_app_role" },
      ]);
    } finally {
      await owner.close();
      await test.drop();
      const admin = await openDatabase(ADMIN_URL, { pool: { max: 1 } });
      await admin.query(`drop role if exists ${role}`).finally(() => admin.close());
    }
  });
});

const QUIET = { debug() {}, info() {}, warn() {}, error() {} };
