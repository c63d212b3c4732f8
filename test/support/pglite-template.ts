import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../../src/db/database.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** An empty PGlite data directory, created once per run, that each test database starts as a copy of. */
    pgliteTemplate: string;
  }
}

/**
 * Vitest's global setup: one PGlite data directory made before any test. Creating a PGlite directory runs initdb
 * inside WebAssembly, seconds of CPU each; copying a closed one and opening the copy is a fraction of that. The
 * template holds no migration: each test database is migrated (or not) as the test says.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), "cus-pglite-template-"));
  const db = await openDatabase(undefined, { dataDir: dir });
  await db.close();
  project.provide("pgliteTemplate", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
