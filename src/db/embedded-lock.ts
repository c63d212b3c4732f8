import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where `serve` notes its pid while it holds the embedded database. */
export function embeddedLockPath(dataDir: string): string {
  return join(dataDir, "serve.pid");
}

/**
 * The pid of a running `serve` that holds the embedded database under `dataDir`, if any. PGlite is one process:
 * a second one opening the same files would read stale pages and can lose the server's writes, so every command that
 * opens it checks this first. A pid file left by a crash names no live process.
 */
export function embeddedDatabaseHolder(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(embeddedLockPath(dataDir), "utf8"), 10);
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: alive, but someone else's.
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : undefined;
  }
}

/** Throws when a running `serve` holds the embedded database under `dataDir`. */
export function assertEmbeddedDatabaseFree(dataDir: string): void {
  const holder = embeddedDatabaseHolder(dataDir);
  if (holder !== undefined) {
    throw new Error(
      `the embedded database in ${dataDir} is in use by \`clerk-user-sync serve\` (pid ${holder}), and it ` +
        "takes one process at a time: stop the server first, or run both with DATABASE_URL",
    );
  }
}

/**
 * Takes the embedded database under `dataDir` for this process before it is opened: the pid file is created only
 * where none exists (O_EXCL), so that of two `serve`s started together on a new directory one refuses, and one left
 * by a process that is gone is replaced. Returns the file, for the caller to remove when it stops.
 *
 * @example
 * ```ts
 * const pidFile = claimEmbeddedDatabase("./.data"); // throws while another serve holds it
 * ```
 */
export function claimEmbeddedDatabase(dataDir: string): string {
  const file = embeddedLockPath(dataDir);
  mkdirSync(dataDir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      assertEmbeddedDatabaseFree(dataDir);
      if (attempt === 2) throw error;
    }
    rmSync(file, { force: true });
  }
}
