import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where the process that holds the embedded database notes its pid and command. */
export function embeddedLockPath(dataDir: string): string {
  return join(dataDir, "serve.pid");
}

/** A live process holding the embedded database, and the `clerk-user-sync` command it runs. */
export interface EmbeddedDatabaseHolder {
  pid: number;
  command: string;
}

/**
 * The running `clerk-user-sync` process that holds the embedded database under `dataDir`, if any. PGlite is one
 * process: a second one opening the same files would read stale pages and can lose the first one's writes, so
 * every command that opens it claims it first. A pid file left by a crash names no live process.
 */
export function embeddedDatabaseHolder(dataDir: string): EmbeddedDatabaseHolder | undefined {
  let text: string;
  try {
    text = readFileSync(embeddedLockPath(dataDir), "utf8");
  } catch {
    return undefined;
  }
  // "<pid> <command>"; a file of an earlier version holds the pid of a `serve` alone.
  const [pidText = "", command = "serve"] = text.trim().split(/\s+/);
  const pid = Number.parseInt(pidText, 10);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return { pid, command };
  } catch (error) {
    // EPERM: alive, but someone else's.
    return (error as NodeJS.ErrnoException).code === "EPERM" ? { pid, command } : undefined;
  }
}

/** Throws when a running `clerk-user-sync` process holds the embedded database under `dataDir`. */
export function assertEmbeddedDatabaseFree(dataDir: string): void {
  const holder = embeddedDatabaseHolder(dataDir);
  if (holder !== undefined) {
    const advice =
      holder.command === "serve"
        ? "stop the server first, or run both with DATABASE_URL"
        : "wait for it to finish, or run both with DATABASE_URL";
    throw new Error(
      `the embedded database in ${dataDir} is in use by \`clerk-user-sync ${holder.command}\` (pid ${holder.pid}), ` +
        `and it takes one process at a time: ${advice}`,
    );
  }
}

/**
 * Takes the embedded database under `dataDir` for this process before it is opened: the pid file is created only
 * where none exists (O_EXCL), so that of two processes started together one refuses, and one left by a process that
 * is gone is replaced. Returns the function that lets go of it.
 *
 * @example
 * ```ts
 * const release = claimEmbeddedDatabase("./.data", "status"); // throws while another process holds it
 * try { … } finally { release(); }
 * ```
 */
export function claimEmbeddedDatabase(dataDir: string, command: string): () => void {
  const file = embeddedLockPath(dataDir);
  mkdirSync(dataDir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid} ${command}\n`, { flag: "wx" });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      assertEmbeddedDatabaseFree(dataDir);
      if (attempt === 2) throw error;
    }
    rmSync(file, { force: true });
  }
}
