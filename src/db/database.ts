import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import pg from "pg";
import * as schema from "./schema.js";

/** Drizzle over either backend, with this package's schema. */
export type Orm = PgDatabase<PgQueryResultHKT, typeof schema>;

/**
 * What to store users in: a PostgreSQL connection string, a `pg.Pool` you own, a `PGlite` instance you own, or
 * nothing, for an embedded PGlite on disk under `dataDir`.
 */
export type DatabaseOption = string | pg.Pool | PGlite | undefined;

/**
 * The one seam between this package and its database. PGlite and PostgreSQL differ only behind it; everything
 * above speaks SQL through these four operations.
 */
export interface Database {
  readonly dialect: "pglite" | "postgres";
  /** Drizzle, for typed queries. */
  readonly orm: Orm;
  /** One statement with parameters; its rows. */
  query<Row>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /**
   * Several statements in one round trip (no parameters): the rows of each. After a failure the connection is
   * discarded or rolled back, never reused inside a broken transaction.
   */
  script(text: string): Promise<Record<string, unknown>[][]>;
  /** Runs `fn` holding a session-level advisory lock: one migrator at a time across processes. */
  withLock<T>(key: number, fn: (orm: Orm) => Promise<T>): Promise<T>;
  /** Closes what this package opened; a pool or PGlite passed in stays open. */
  close(): Promise<void>;
}

/**
 * Opens the database. This is the only place where the backend is chosen.
 *
 * @example
 * ```ts
 * const db = await openDatabase(process.env.DATABASE_URL, { dataDir: "./.data" });
 * ```
 */
export async function openDatabase(option: DatabaseOption, { dataDir = "./.data" } = {}): Promise<Database> {
  if (option instanceof pg.Pool || isPool(option)) return postgres(option as pg.Pool, false);
  if (typeof option === "string") return postgres(new pg.Pool({ connectionString: option, max: 10 }), true);
  if (option === undefined) {
    if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
    const db = new PGlite(dataDir);
    await db.waitReady;
    return pglite(db, true);
  }
  await option.waitReady;
  return pglite(option, false);
}

function isPool(value: unknown): boolean {
  return typeof value === "object" && value !== null && "connect" in value && "totalCount" in value;
}

function postgres(pool: pg.Pool, owned: boolean): Database {
  // An idle client dropped by the server (restart, failover) must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  return {
    dialect: "postgres",
    orm: drizzlePg(pool, { schema }) as unknown as Orm,
    async query(text, params) {
      return (await pool.query(text, params as unknown[])).rows;
    },
    async script(text) {
      const client = await checkout(pool);
      try {
        const result = (await client.query(text)) as pg.QueryResult | pg.QueryResult[];
        client.release();
        return (Array.isArray(result) ? result : [result]).map((r) => r.rows);
      } catch (error) {
        client.release(true);
        throw error;
      }
    },
    async withLock(key, fn) {
      const client = await checkout(pool);
      try {
        await client.query("select pg_advisory_lock($1)", [key]);
        try {
          return await fn(drizzlePg(client, { schema }) as unknown as Orm);
        } finally {
          await client.query("select pg_advisory_unlock($1)", [key]);
        }
      } finally {
        client.release();
      }
    },
    async close() {
      if (owned) await pool.end();
    },
  };
}

/**
 * A client from the pool that cannot crash the process. pg-pool removes its error listener from a client while it
 * is checked out, and a connection that dies then (a restart, a failover, a network cut) emits `error` with nobody
 * listening: an uncaught exception. The query in flight fails on its own, and the caller discards the client.
 */
async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  if (!checkedOut.has(client)) {
    checkedOut.add(client);
    client.on("error", () => {});
  }
  return client;
}

const checkedOut = new WeakSet<pg.PoolClient>();

function pglite(db: PGlite, owned: boolean): Database {
  const orm = drizzlePglite(db, { schema }) as unknown as Orm;
  return {
    dialect: "pglite",
    orm,
    async query(text, params) {
      return (await db.query<never>(text, params as unknown[])).rows;
    },
    async script(text) {
      try {
        return (await db.exec(text)).map((r) => r.rows as Record<string, unknown>[]);
      } catch (error) {
        // One connection for everything: leave no aborted transaction behind for the next caller.
        await db.exec("rollback").catch(() => {});
        throw error;
      }
    },
    // PGlite is one connection in one process: there is nobody to exclude.
    withLock: (_key, fn) => fn(orm),
    async close() {
      if (owned && !db.closed) await db.close();
    },
  };
}
