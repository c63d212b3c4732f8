import { sql } from "drizzle-orm";
import { STORED } from "../store/shapes.js";
import { type Database, openDatabase } from "./database.js";
import { MIGRATIONS } from "./migrations.generated.js";
import { definitionOf, type Statement } from "./statements.js";

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
export async function migrate(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS,
  stored: readonly Statement[] = STORED,
): Promise<void> {
  // The usual start, on a database already migrated: one read, no lock, no DDL.
  if (await applied(db, migrations, stored)) return;
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
    // This version's stored statements; another version's stay for its instances until they are replaced.
    for (const statement of await missing(tx, stored)) await tx.execute(sql.raw(definitionOf(statement)));
  });
}

/** Those of `stored` whose function is not in the database's search path. */
async function missing(
  orm: Pick<Database["orm"], "execute">,
  stored: readonly Statement[],
): Promise<Statement[]> {
  const names = stored.map((s) => s.name);
  const { rows } = (await orm.execute(
    sql`select proname from pg_proc where proname in ${sql`(${sql.join(
      names.map((n) => sql`${n}`),
      sql`, `,
    )})`} and pg_function_is_visible(oid)`,
  )) as unknown as { rows: { proname: string }[] };
  const present = new Set(rows.map((r) => r.proname));
  return stored.filter((s) => !present.has(s.name));
}

/**
 * {@link migrate} through `directUrl` when given, on a connection opened for it and closed after (for a pooler that
 * refuses DDL: Prisma's `directUrl`), else through `db`.
 *
 * @example
 * ```ts
 * await migrateThrough(db, process.env.DATABASE_URL_UNPOOLED);
 * ```
 */
export async function migrateThrough(db: Database, directUrl: string | undefined): Promise<void> {
  if (directUrl === undefined) return await migrate(db);
  const direct = await openDatabase(directUrl, { pool: { max: 1 } });
  try {
    await migrate(direct);
  } finally {
    await direct.close();
  }
}

/** Whether every migration this package ships has been applied, and its stored statements created (readiness). */
export async function migrationsApplied(db: Database): Promise<boolean> {
  return await applied(db, MIGRATIONS, STORED);
}

/**
 * Whether every migration of `migrations` has been applied and every statement of `stored` created, in one read;
 * false where the bookkeeping table is not there yet.
 */
async function applied(
  db: Database,
  migrations: readonly Migration[],
  stored: readonly Statement[],
): Promise<boolean> {
  const rows = await db
    .query<{ last: string | null; functions: number }>(
      `select (select max(created_at)::text from drizzle.__drizzle_migrations) as last,
        (select count(distinct proname)::int from pg_proc
          where proname = any($1::text[]) and pg_function_is_visible(oid)) as functions`,
      [stored.map((s) => s.name)],
    )
    .catch((error: { code?: string }) => {
      // undefined_table, invalid_schema_name: never migrated.
      if (error.code === "42P01" || error.code === "3F000") return [];
      throw error;
    });
  const [row] = rows;
  if (row === undefined) return false;
  return (
    Number(row.last ?? 0) >= Math.max(0, ...migrations.map((m) => m.folderMillis)) &&
    row.functions === new Set(stored.map((s) => s.name)).size
  );
}
