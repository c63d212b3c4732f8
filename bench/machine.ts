/**
 * What the benchmarks read of the machine and the PostgreSQL server they run on, written once: the load average,
 * the CPU time of the server's processes (Linux `/proc`, so the server must be local), and a statement run on the
 * admin connection (creating and dropping the bench database).
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import type { Database } from "../src/db/database.js";
import { cpuSecondsOf } from "./server.js";

/** The load average of the last 1, 5 and 15 minutes, as `/proc/loadavg` gives it; "?" where it is missing. */
export function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/**
 * CPU milliseconds used so far by the server processes behind `db`: every backend connected to its database, or
 * only the one serving its own connection (a `Database` of one connection). 0 for a server not on this machine.
 */
export async function serverCpuMs(
  db: Database,
  which: "database" | "connection" = "database",
): Promise<number> {
  const backends = await db.query<{ pid: number }>(
    which === "database"
      ? "select pid from pg_stat_activity where datname = current_database()"
      : "select pg_backend_pid() as pid",
  );
  return backends.reduce((ms, { pid }) => ms + cpuSecondsOf(pid) * 1000, 0);
}

/** Runs `text` on a connection of its own to `url` (the admin database): `create database`, `drop database`. */
export async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
