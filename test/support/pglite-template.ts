import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import { ensureBuilt } from "./cli.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** An empty PGlite data directory, created once per run, that each test database starts as a copy of. */
    pgliteTemplate: string;
    /** The same, migrated: what a harness's database starts as (test/support/harness.ts). */
    pgliteMigratedTemplate: string;
  }
}

/**
 * Vitest's global setup, before any test file: `dist/` built when a source is newer (once, rather than by test files
 * racing each other in parallel workers), and two PGlite data directories. Creating a PGlite directory runs initdb
 * inside WebAssembly, seconds of CPU each; copying a closed one and opening the copy is a fraction of that. The empty
 * template holds no migration, for the tests that migrate (or not) themselves; the migrated one saves every harness
 * on PGlite the same migration.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  ensureBuilt();
  const empty = mkdtempSync(join(tmpdir(), "cus-pglite-template-"));
  const migrated = mkdtempSync(join(tmpdir(), "cus-pglite-migrated-"));
  await (await openDatabase(undefined, { dataDir: empty })).close();
  cpSync(empty, migrated, { recursive: true });
  const db = await openDatabase(undefined, { dataDir: migrated });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  project.provide("pgliteTemplate", empty);
  project.provide("pgliteMigratedTemplate", migrated);
  return () => {
    for (const dir of [empty, migrated]) rmSync(dir, { recursive: true, force: true });
  };
}
