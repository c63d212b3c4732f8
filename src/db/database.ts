import { mkdirSync } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import pg from "pg";
import { runPipeline } from "./pipeline.js";
import * as schema from "./schema.js";
import { type Step, sqlOf, statement, typeOids } from "./statements.js";

/** Drizzle over either backend, with this package's schema. */
export type Orm = PgDatabase<PgQueryResultHKT, typeof schema>;

/**
 * What to store users in: a PostgreSQL connection string, a `pg.Pool` you own, a `PGlite` instance you own, or
 * nothing, for an embedded PGlite on disk under `dataDir`.
 */
export type DatabaseOption = string | pg.Pool | PGlite | undefined;

/**
 * The one seam between this package and its database. PGlite and PostgreSQL differ only behind it; everything
 * above asks it what it can do, never which it is, and speaks SQL through these operations. Nothing it runs
 * outlives a transaction (no named statement, no session lock, no `SET`): a transaction pooler between it and
 * PostgreSQL (PgBouncer, Supavisor, Neon's pooler) sees only whole transactions.
 */
export interface Database {
  /** Which backend, for display only (status, the console, the ready line). */
  readonly dialect: "pglite" | "postgres";
  /** How many transactions it can run at once: the pool's size, or 1 for PGlite's single connection. */
  readonly concurrency: number;
  /** Drizzle, for typed queries. */
  readonly orm: Orm;
  /** One statement with parameters; its rows. */
  query<Row>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /**
   * The steps, in order, as one transaction in one round trip, committed after the last (rolled back instead with
   * `rollback`): the rows of each. A failure rolls all of them back; the connection is then discarded or rolled
   * back, never reused inside a broken transaction. The parameters travel as parameters: on PostgreSQL over the
   * extended protocol, all steps before one Sync (src/db/pipeline.ts).
   */
  transaction(steps: readonly Step[], options?: { rollback?: boolean }): Promise<Record<string, unknown>[][]>;
  /** Closes what this package opened; a pool or PGlite passed in stays open. */
  close(): Promise<void>;
}

/** How a PostgreSQL pool this package opens is sized and timed. */
export interface PoolOptions {
  /** Connections at most. Each serverless instance holds its own: keep it small where instances are many. */
  max?: number;
  /**
   * How long to wait for a connection, in ms. A database that accepts connections but never answers then fails a
   * delivery (503, Svix retries) well within Svix's 15 s, rather than holding it until Svix gives up.
   */
  connectionTimeout?: number;
  /** How long an idle connection is kept, in ms. */
  idleTimeout?: number;
}

/** The pool this package opens for a URL, unless told otherwise. */
export const DEFAULT_POOL: Readonly<Required<PoolOptions>> = {
  max: 10,
  connectionTimeout: 5_000,
  idleTimeout: 10_000,
};

/** Server settings of the embedded PGlite, given on its command line (measured in docs/performance.md). */
const EMBEDDED_SETTINGS = ["-c", "shared_buffers=16MB"];

/** Where the embedded PGlite keeps its files when no directory is given (DATA_DIR's default). */
export const DEFAULT_DATA_DIR = "./.data";

/**
 * Opens the database. This is the only place where the backend is chosen, and the embedded one is loaded only
 * here, when chosen: an app on PostgreSQL never loads PGlite nor bundles it into a server start.
 *
 * @example
 * ```ts
 * const db = await openDatabase(process.env.DATABASE_URL, { dataDir: "./.data", pool: { max: 2 } });
 * ```
 */
export async function openDatabase(
  option: DatabaseOption,
  { dataDir = DEFAULT_DATA_DIR, pool = {} }: { dataDir?: string | undefined; pool?: PoolOptions } = {},
): Promise<Database> {
  if (option instanceof pg.Pool || isPool(option)) return postgres(option as pg.Pool, false);
  if (typeof option === "string") {
    const { max, connectionTimeout, idleTimeout } = { ...DEFAULT_POOL, ...pool };
    const opened = new pg.Pool({
      connectionString: option,
      max,
      connectionTimeoutMillis: connectionTimeout,
      idleTimeoutMillis: idleTimeout,
    });
    return postgres(opened, true);
  }
  if (option === undefined) {
    if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
    const { PGlite } = await import("@electric-sql/pglite");
    // PostgreSQL's default 128 MB of shared buffers is the largest part of PGlite's resident memory once started;
    // the tables fit in far less. Durability settings are PGlite's own, unchanged.
    const db = new PGlite(dataDir, { startParams: [...PGlite.defaultStartParams, ...EMBEDDED_SETTINGS] });
    try {
      await db.waitReady;
    } catch (error) {
      throw new Error(`opening the embedded database in ${dataDir} failed: ${reasonOf(error)}`, {
        cause: error,
      });
    }
    return await pglite(db, true);
  }
  await option.waitReady;
  return await pglite(option, false);
}

/** Emscripten's file-system errors carry only an errno, and print as "[object Object]". */
function reasonOf(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  const errno = (error as { errno?: unknown } | null)?.errno;
  return errno === undefined ? String(error) : `file system error (errno ${errno})`;
}

function isPool(value: unknown): boolean {
  return typeof value === "object" && value !== null && "connect" in value && "totalCount" in value;
}

function postgres(pool: pg.Pool, owned: boolean): Database {
  // An idle client dropped by the server (restart, failover) must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  return {
    dialect: "postgres",
    concurrency: pool.options.max ?? DEFAULT_POOL.max,
    orm: drizzlePg(pool, { schema }) as unknown as Orm,
    async query(text, params) {
      return (await pool.query(text, params as unknown[])).rows;
    },
    async transaction(steps, { rollback = false } = {}) {
      const client = await checkout(pool);
      try {
        const rows = await runPipeline(client, rollback ? [BEGIN, ...steps, ROLLBACK] : steps);
        client.release();
        return rollback ? rows.slice(1, -1) : rows;
      } catch (error) {
        client.release(true);
        throw error;
      }
    },
    async close() {
      if (owned) await pool.end();
    },
  };
}

const BEGIN: Step = { statement: statement("begin", "begin", []) };
const ROLLBACK: Step = { statement: statement("rollback", "rollback", []) };

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

async function pglite(db: PGlite, owned: boolean): Promise<Database> {
  const { drizzle: drizzlePglite } = await import("drizzle-orm/pglite");
  return {
    dialect: "pglite",
    concurrency: 1,
    orm: drizzlePglite(db, { schema }) as unknown as Orm,
    async query(text, params) {
      return (await db.query<never>(text, params as unknown[])).rows;
    },
    async transaction(steps, { rollback = false } = {}) {
      // In this process, so a round trip per statement costs next to nothing.
      return await db.transaction(async (tx) => {
        const rows: Record<string, unknown>[][] = [];
        for (const { statement, values = [] } of steps) {
          const result = await tx.query<Record<string, unknown>>(sqlOf(statement), [...values], {
            paramTypes: typeOids(statement),
          });
          rows.push(result.rows);
        }
        if (rollback) await tx.rollback();
        return rows;
      });
    },
    async close() {
      if (owned && !db.closed) await db.close();
    },
  };
}
