import { sql } from "drizzle-orm";
import type { Database } from "./database.js";
import { MIGRATIONS } from "./migrations.generated.js";

/**
 * One checked-in migration, as drizzle-orm's `readMigrationFiles` reads it from `drizzle/` (its `MigrationMeta`,
 * plus the tag): shipped as a module, so that nothing is read from the file system at run time and every bundler
 * (Turbopack, webpack, `output: "standalone"`) carries it along.
 */
export interface Migration {
  /** The file's name in `drizzle/`, without `.sql`. */
  tag: string;
  /** The journal's `when`: drizzle records it as `created_at` and applies what is newer than the last one. */
  folderMillis: number;
  bps: boolean;
  /** The SHA-256 of the file's text, as drizzle records it. */
  hash: string;
  /** The file's text, split at `--> statement-breakpoint`. */
  sql: string[];
}

/** Arbitrary, fixed: the advisory lock key under which migrations run. */
const MIGRATION_LOCK = 0x636c_726b;

/**
 * Applies every pending migration. Safe to run on every start: a second run is a no-op, and instances starting
 * together queue on an advisory lock instead of racing. The lock is the transaction's own and the migrations run in
 * that one transaction, so it works through a transaction pooler, and a migrator that dies holds nothing. It keeps
 * drizzle-orm's own bookkeeping (the `drizzle.__drizzle_migrations` table, and its rule: apply what is newer than
 * the newest row, all in one transaction), so a database migrated by drizzle's migrator, or by an earlier version
 * of this package, sees the same migrations applied.
 *
 * @example
 * ```ts
 * await migrate(await openDatabase(process.env.DATABASE_URL));
 * ```
 */
export async function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
  // The usual start, on a database already migrated: one read, no lock, no DDL.
  if (await applied(db, migrations)) return;
  await db.orm.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.execute(sql`create schema if not exists drizzle`);
    await tx.execute(
      sql`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
    );
    const { rows } = (await tx.execute(
      sql`select created_at::text from drizzle.__drizzle_migrations order by created_at desc limit 1`,
    )) as unknown as { rows: { created_at: string | null }[] };
    const last = rows[0];
    const pending = migrations.filter((m) => last === undefined || Number(last.created_at) < m.folderMillis);
    for (const migration of pending) {
      for (const statement of migration.sql) await tx.execute(sql.raw(statement));
      await tx.execute(
        sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`,
      );
    }
  });
}

/** Whether the newest migration this package ships has been applied (for readiness). */
export async function migrationsApplied(db: Database): Promise<boolean> {
  const newest = Math.max(...MIGRATIONS.map((m) => m.folderMillis));
  const rows = await db.query<{ last: string | null }>(
    `select max(created_at)::text as last from drizzle.__drizzle_migrations`,
  );
  return Number(rows[0]?.last ?? 0) >= newest;
}

/** Whether every migration of `migrations` has been applied; false where the bookkeeping table is not there yet. */
async function applied(db: Database, migrations: readonly Migration[]): Promise<boolean> {
  const rows = await db
    .query<{ last: string | null }>(`select max(created_at)::text as last from drizzle.__drizzle_migrations`)
    .catch((error: { code?: string }) => {
      // undefined_table, invalid_schema_name: never migrated.
      if (error.code === "42P01" || error.code === "3F000") return [];
      throw error;
    });
  return Number(rows[0]?.last ?? 0) >= Math.max(0, ...migrations.map((m) => m.folderMillis));
}
