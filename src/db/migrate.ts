import { fileURLToPath } from "node:url";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import type { Database, Orm } from "./database.js";

/** The checked-in SQL migrations, shipped with the package (the same path from `src/` and `dist/`). */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** Arbitrary, fixed: the advisory lock key under which migrations run. */
const MIGRATION_LOCK = 0x636c_726b;

/**
 * Applies every pending migration. Safe to run on every start: a second run is a no-op, and instances starting
 * together queue on an advisory lock instead of racing.
 *
 * @example
 * ```ts
 * await migrate(await openDatabase(process.env.DATABASE_URL));
 * ```
 */
export async function migrate(db: Database): Promise<void> {
  const config = { migrationsFolder: MIGRATIONS_FOLDER };
  await db.withLock(MIGRATION_LOCK, (orm: Orm) =>
    db.dialect === "pglite"
      ? migratePglite(orm as Parameters<typeof migratePglite>[0], config)
      : migratePg(orm as Parameters<typeof migratePg>[0], config),
  );
}

/** Whether the newest checked-in migration has been applied (for readiness). */
export async function migrationsApplied(db: Database): Promise<boolean> {
  const newest = Math.max(
    ...readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).map((m) => m.folderMillis),
  );
  const rows = await db.query<{ last: string | null }>(
    `select max(created_at)::text as last from drizzle.__drizzle_migrations`,
  );
  return Number(rows[0]?.last ?? 0) >= newest;
}
