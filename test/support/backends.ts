import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { inject } from "vitest";

/**
 * The PostgreSQL server the suite also runs against. CI sets CLERK_USER_SYNC_TEST_POSTGRES, and then an
 * unreachable server fails the suite; without it, the local default is used when it answers and skipped otherwise.
 */
const REQUIRED = process.env.CLERK_USER_SYNC_TEST_POSTGRES;
export const ADMIN_URL = REQUIRED ?? "postgres://postgres@127.0.0.1:5432/postgres";

/**
 * A transaction pooler in front of that server (CI: scripts/pgbouncer.sh), for test/pooler.test.ts; with it set, the
 * suite fails when it is unreachable. Every database of the server is reachable through it by name.
 */
export const POOLER_URL = process.env.CLERK_USER_SYNC_TEST_POOLER;

/**
 * `postgres` runs the suites against PostgreSQL alone (CI's pass through the pooler, where CLERK_USER_SYNC_TEST_POSTGRES
 * is the pooler's URL and PGlite has already been covered).
 */
const ONLY = process.env.CLERK_USER_SYNC_TEST_ONLY;

/** A fresh, empty database on one backend. */
export interface TestDatabase {
  /** What `createClerkUserSync({ database, dataDir })` takes for it. */
  database: string | undefined;
  dataDir: string;
  /** The same database as environment variables for a child process. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

export interface Backend {
  name: "pglite" | "postgres";
  /**
   * `migrated`: the caller migrates it anyway (createClerkUserSync does), so a PGlite database may start as a copy of
   * the migrated template; a PostgreSQL one is empty either way.
   */
  create(options?: { migrated?: boolean }): Promise<TestDatabase>;
}

/**
 * A new PGlite data directory, as a copy of the run's empty (or migrated) template (test/support/pglite-template.ts)
 * rather than a new initdb: for the tests that start a program on a DATA_DIR without caring that it is new.
 */
export function pgliteDataDir({ migrated = false }: { migrated?: boolean } = {}): string {
  const dataDir = mkdtempSync(join(tmpdir(), "cus-pglite-"));
  cpSync(inject(migrated ? "pgliteMigratedTemplate" : "pgliteTemplate"), dataDir, { recursive: true });
  return dataDir;
}

const pglite: Backend = {
  name: "pglite",
  async create(options) {
    const dataDir = pgliteDataDir(options);
    return {
      database: undefined,
      dataDir,
      env: { DATA_DIR: dataDir },
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  },
};

const postgres: Backend = {
  name: "postgres",
  async create() {
    const name = `cus_test_${randomBytes(6).toString("hex")}`;
    await admin(`create database ${name}`);
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    return {
      database: url.toString(),
      dataDir: "",
      env: { DATABASE_URL: url.toString() },
      drop: () => admin(`drop database if exists ${name} with (force)`),
    };
  },
};

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

let reachable: Promise<boolean> | undefined;

/** The backends this run covers: PGlite always, PostgreSQL when reachable (or required). */
export async function backends(): Promise<Backend[]> {
  reachable ??= admin("select 1").then(
    () => true,
    (error: unknown) => {
      if (REQUIRED) throw new Error(`CLERK_USER_SYNC_TEST_POSTGRES is set but unreachable: ${String(error)}`);
      return false;
    },
  );
  const all = (await reachable) ? [pglite, postgres] : [pglite];
  return ONLY === undefined ? all : all.filter((b) => b.name === ONLY);
}

/** Fresh databases on the PostgreSQL server, reached through {@link POOLER_URL}; undefined without one. */
export const pooled: Backend | undefined =
  POOLER_URL === undefined
    ? undefined
    : {
        name: "postgres",
        async create() {
          const direct = await postgres.create();
          const url = new URL(POOLER_URL);
          url.pathname = new URL(direct.database as string).pathname;
          return { ...direct, database: url.toString(), env: { DATABASE_URL: url.toString() } };
        },
      };
