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
import { backends } from "./support/backends.js";

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
  });

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
});
