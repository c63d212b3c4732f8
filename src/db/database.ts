import { mkdirSync } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import pg from "pg";
import { runPipeline } from "./pipeline.js";
import * as schema from "./schema.js";
import { type PreparedStatement, quoted, type Step } from "./statements.js";

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
   * discarded or rolled back, never reused inside a broken transaction. The script may `execute` the `prepared`
   * statements: each is prepared on a connection ahead of the first script there that names it (in the same round
   * trip), so that PostgreSQL plans it once per connection instead of on every call.
   */
  script(text: string, prepared?: readonly PreparedStatement[]): Promise<Record<string, unknown>[][]>;
  /**
   * Prepared statements, each given its one parameter, run in order as one transaction in one round trip, committed
   * after the last: the rows of each. A failure rolls all of them back; the connection is then discarded or rolled
   * back, as after {@link Database.script}. On PostgreSQL the parameters travel as parameters (no SQL text to lex:
   * the webhook's path, src/db/pipeline.ts); on PGlite as a script.
   */
  pipeline(steps: readonly Step[]): Promise<Record<string, unknown>[][]>;
  /** Runs `fn` holding a session-level advisory lock: one migrator at a time across processes. */
  withLock<T>(key: number, fn: (orm: Orm) => Promise<T>): Promise<T>;
  /** Closes what this package opened; a pool or PGlite passed in stays open. */
  close(): Promise<void>;
}

/** Those of `statements` a connection does not hold yet, each name once. */
function preparing(statements: readonly PreparedStatement[], held: ReadonlySet<string>): PreparedStatement[] {
  const missing = new Map<string, PreparedStatement>();
  for (const p of statements) if (!held.has(p.name)) missing.set(p.name, p);
  return [...missing.values()];
}

function prepareText(statements: readonly PreparedStatement[]): string {
  return statements.map((p) => `prepare ${p.name}(${p.parameters.join(", ")}) as ${p.text};\n`).join("");
}

/** Server settings of the embedded PGlite, given on its command line (measured in docs/performance.md). */
const EMBEDDED_SETTINGS = ["-c", "shared_buffers=16MB"];

/** Where the embedded PGlite keeps its files when no directory is given (DATA_DIR's default). */
export const DEFAULT_DATA_DIR = "./.data";

/**
 * Opens the database. This is the only place where the backend is chosen, and the embedded one is loaded only
 * here, when chosen: an app on PostgreSQL never loads PGlite (27 MB) nor bundles it into a server start.
 *
 * @example
 * ```ts
 * const db = await openDatabase(process.env.DATABASE_URL, { dataDir: "./.data" });
 * ```
 */
export async function openDatabase(
  option: DatabaseOption,
  { dataDir = DEFAULT_DATA_DIR } = {},
): Promise<Database> {
  if (option instanceof pg.Pool || isPool(option)) return postgres(option as pg.Pool, false);
  if (typeof option === "string") {
    // A database that accepts connections but never answers must fail a delivery (503, Svix retries) well within
    // Svix's 15 s, rather than hold it until Svix gives up on the attempt.
    return postgres(new pg.Pool({ connectionString: option, max: 10, connectionTimeoutMillis: 5_000 }), true);
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
  // A client that failed is discarded, so what it held needs no forgetting.
  const held = new WeakMap<pg.PoolClient, Set<string>>();
  return {
    dialect: "postgres",
    orm: drizzlePg(pool, { schema }) as unknown as Orm,
    async query(text, params) {
      return (await pool.query(text, params as unknown[])).rows;
    },
    async script(text, prepared = []) {
      const client = await checkout(pool);
      try {
        const names = held.get(client) ?? new Set<string>();
        const missing = preparing(prepared, names);
        const result = (await client.query(prepareText(missing) + text)) as pg.QueryResult | pg.QueryResult[];
        for (const p of missing) names.add(p.name);
        held.set(client, names);
        client.release();
        return (Array.isArray(result) ? result : [result]).slice(missing.length).map((r) => r.rows);
      } catch (error) {
        client.release(true);
        throw error;
      }
    },
    async pipeline(steps) {
      const client = await checkout(pool);
      try {
        const names = held.get(client) ?? new Set<string>();
        held.set(client, names);
        const rows = await runPipeline(client, steps, names);
        client.release();
        return rows;
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

async function pglite(db: PGlite, owned: boolean): Promise<Database> {
  const { drizzle: drizzlePglite } = await import("drizzle-orm/pglite");
  const orm = drizzlePglite(db, { schema }) as unknown as Orm;
  const held = new Set<string>();
  const script: Database["script"] = async (text, prepared = []) => {
    const missing = preparing(prepared, held);
    try {
      const results = await db.exec(prepareText(missing) + text);
      for (const p of missing) held.add(p.name);
      return results.slice(missing.length).map((r) => r.rows as Record<string, unknown>[]);
    } catch (error) {
      // One connection for everything: leave no aborted transaction behind for the next caller.
      await db.exec("rollback").catch(() => {});
      // Prepared statements outlive a rollback: learn which of ours this one created before it failed.
      if (missing.length > 0) {
        const { rows } = await db
          .query<{ name: string }>("select name from pg_prepared_statements")
          .catch(() => ({
            rows: [],
          }));
        for (const { name } of rows) held.add(name);
      }
      throw error;
    }
  };
  return {
    dialect: "pglite",
    orm,
    async query(text, params) {
      return (await db.query<never>(text, params as unknown[])).rows;
    },
    script,
    async pipeline(steps) {
      const executes = steps.map(({ statement, value }) => `execute ${statement.name}(${quoted(value)});\n`);
      const results = await script(
        `begin;\n${executes.join("")}commit;`,
        steps.map((s) => s.statement),
      );
      return results.slice(1, -1);
    },
    // PGlite is one connection in one process: there is nobody to exclude.
    withLock: (_key, fn) => fn(orm),
    async close() {
      if (owned && !db.closed) await db.close();
    },
  };
}
