import { type Database, openDatabase } from "../db/database.js";
import { claimEmbeddedDatabase } from "../db/embedded-lock.js";
import { migrateThrough } from "../db/migrate.js";
import { type Env, loadDatabaseConfig } from "../service/config.js";
import { checkDatabase } from "../service/preflight.js";

export type { Env } from "../service/config.js";

/** A CLI command: a one-line summary, its usage, and what it does; its result is the exit code. */
export interface Command {
  summary: string;
  usage: string;
  /** Resolves with the exit code, or undefined to keep the process running (serve). */
  run(args: string[], env: Env): Promise<number | undefined>;
}

export { UsageError } from "../errors.js";

/**
 * Opens the configured database (DATABASE_URL, else PGlite under DATA_DIR), migrates it, runs `fn`, closes it. A
 * DATABASE_URL that cannot be reached fails first, with `database_unreachable` naming its host and port.
 * An embedded database is claimed for `command` meanwhile, and refused while another process holds it: PGlite takes
 * one process at a time.
 */
export async function withDatabase<T>(
  env: Env,
  command: string,
  fn: (db: Database) => Promise<T>,
): Promise<T> {
  const { databaseUrl, dataDir, database } = loadDatabaseConfig(env);
  if (databaseUrl) {
    const unreachable = await checkDatabase(databaseUrl);
    if (unreachable) throw unreachable;
  }
  const release = databaseUrl ? () => {} : claimEmbeddedDatabase(dataDir, command);
  try {
    const db = await openDatabase(databaseUrl, { dataDir, pool: { max: database.poolMax } });
    try {
      await migrateThrough(db, database.migrationsUrl);
      return await fn(db);
    } finally {
      await db.close();
    }
  } finally {
    release();
  }
}
