/**
 * `npm run bench`: the service under a Clerk bulk import, then a check that nothing was lost, doubled or misordered.
 *
 *   npm run bench -- [--connections 32] [--deliveries 50000] [--users 10000] [--organizations users/20]
 *                    [--pglite] [--profile] [--seed 1]
 *
 * The organization and membership events (`--organizations 0`: none) come on top of `--deliveries`.
 *
 * Starts `clerk-user-sync serve` as a child process on a fresh PostgreSQL database (127.0.0.1:5432, or
 * BENCH_POSTGRES_URL) or, with `--pglite`, on the embedded default in a temporary DATA_DIR; sends signed deliveries
 * from both instances over keep-alive connections; prints deliveries/s, latency, the server's peak memory and CPU
 * use; stops the server and compares the tables with the expected final state. Exits 1 when the check fails.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { openDatabase } from "../src/db/database.js";
import { WEBHOOK_PATH } from "../src/sync.js";
import { check } from "./check.js";
import { workload } from "./histories.js";
import { drive } from "./load.js";
import { adminQuery } from "./machine.js";
import { hotSpots } from "./profile.js";
import { BenchServer, build, cpuSecondsOf, freePort, startFlags } from "./server.js";

const SECRETS = {
  development: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  production: "whsec_dGhpc2lzYXByb2R1Y3Rpb25zZWNyZXQxMjM0NTY=",
};
const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const { values: args } = parseArgs({
  options: {
    connections: { type: "string", default: "32" },
    deliveries: { type: "string", default: "50000" },
    users: { type: "string", default: "10000" },
    organizations: { type: "string" },
    seed: { type: "string", default: "1" },
    pglite: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
  },
});
const connections = Number(args.connections);
const expected = workload({
  deliveries: Number(args.deliveries),
  users: Number(args.users),
  seed: Number(args.seed),
  ...(args.organizations === undefined ? {} : { organizations: Number(args.organizations) }),
});
const scratch = mkdtempSync(join(tmpdir(), "cus-bench-"));
const database = args.pglite ? { dataDir: join(scratch, "data") } : { url: await createDatabase() };

const server = await BenchServer.start(
  {
    root: build(ROOT),
    env: {
      DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
      PROD_CLERK_WEBHOOK_SECRET: SECRETS.production,
      ...(database.url ? { DATABASE_URL: database.url } : { DATA_DIR: database.dataDir as string }),
      ...(process.env.LOG_LEVEL ? { LOG_LEVEL: process.env.LOG_LEVEL } : {}),
    },
    logFile: join(scratch, "server.log"),
    nodeArgs: [
      ...startFlags(ROOT),
      ...(args.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(scratch, "profile")}`] : []),
    ],
  },
  await freePort(),
).catch(async (error: unknown) => {
  await dropDatabase();
  throw error;
});

let exitCode = 0;
try {
  const backend = database.url ? "PostgreSQL 127.0.0.1:5432" : "embedded PGlite";
  console.log(
    `${expected.deliveries.length} deliveries (${expected.users.size + expected.tombstones.size} users, ` +
      `${expected.organizations.size + expected.organizationTombstones.size} organizations, ` +
      `${expected.duplicates} re-sends, ${expected.ignored} ignored events) over ${connections} connections; ${backend}; ` +
      `server: node ${startFlags(ROOT).join(" ")} dist/cli/main.js serve`,
  );
  const cpuBefore = server.cpuSeconds();
  const systemBefore = server.systemSeconds();
  const load = await drive({
    host: "127.0.0.1",
    port: server.port,
    path: WEBHOOK_PATH,
    connections,
    deliveries: expected.deliveries,
    secrets: SECRETS,
  });
  const serverCpu = server.cpuSeconds() - cpuBefore;
  const serverSystem = server.systemSeconds() - systemBefore;
  const databaseCpu = database.url ? await backendCpuSeconds(database.url) : undefined;
  const batches = writeStats(await server.metrics());
  const sorted = Float64Array.from(load.latencies).sort();
  const percentile = (p: number) => (sorted[Math.floor((sorted.length - 1) * p)] ?? 0).toFixed(1);
  const perDelivery = (seconds: number) => ((seconds / expected.deliveries.length) * 1e6).toFixed(0);
  console.log(
    `deliveries/s ${(expected.deliveries.length / load.seconds).toFixed(0)}  p50 ${percentile(0.5)} ms  ` +
      `p99 ${percentile(0.99)} ms  max ${percentile(1)} ms  server peak RSS ${server.peakRssMb} MB`,
  );
  console.log(
    `server CPU ${perDelivery(serverCpu)} µs/delivery (kernel ${perDelivery(serverSystem)})` +
      (databaseCpu === undefined ? "" : `, PostgreSQL backends ${perDelivery(databaseCpu)} µs/delivery`) +
      `; ${batches}`,
  );
  const code = await server.stop();
  if (code !== 0) throw new Error(`the server exited with code ${code}`);
  if (args.profile)
    console.log(`${hotSpots(join(scratch, "profile")).join("\n")}\n(profile kept in ${scratch})`);

  const db = await openDatabase(database.url, { dataDir: database.dataDir });
  try {
    const result = await check(db, expected, load);
    if (result.problems.length === 0) {
      console.log(
        `check OK: ${result.users} users, ${result.tombstones} tombstones, ${result.organizations} organizations, ` +
          `${result.memberships} memberships, ${result.deliveries} logged deliveries, ` +
          "every row equal to its latest version",
      );
    } else {
      exitCode = 1;
      console.log(`check FAILED (${result.problems.length} problems):`);
      for (const problem of result.problems.slice(0, 20)) console.log(`  ${problem}`);
    }
  } finally {
    await db.close();
  }
} catch (error) {
  exitCode = 1;
  console.error(`bench failed: ${(error as Error).message} (server log: ${join(scratch, "server.log")})`);
} finally {
  await server.stop();
  await dropDatabase();
}
if (exitCode === 0 && !args.profile) rmSync(scratch, { recursive: true, force: true });
process.exit(exitCode);

async function dropDatabase(): Promise<void> {
  if (database.url)
    await adminQuery(
      ADMIN_URL,
      `drop database if exists ${new URL(database.url).pathname.slice(1)} with (force)`,
    );
}

async function createDatabase(): Promise<string> {
  const name = `clerk_bench_${randomBytes(4).toString("hex")}`;
  await adminQuery(ADMIN_URL, `create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** CPU used by the PostgreSQL backends serving the bench database (Linux `/proc`; the server is local). */
async function backendCpuSeconds(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      "select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
      [new URL(url).pathname.slice(1)],
    );
    return rows.reduce((sum, { pid }) => sum + cpuSecondsOf(pid), 0);
  } finally {
    await client.end();
  }
}

/** Transactions, mean batch and mean transaction time, from the service's own metrics. */
function writeStats(metrics: string): string {
  const value = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(metrics)?.[1] ?? 0);
  const count = value("clerk_user_sync_db_write_batch_size_count");
  const size = value("clerk_user_sync_db_write_batch_size_sum") / (count || 1);
  const committed = 'clerk_user_sync_db_write_duration_seconds_(sum|count)\\{result="committed"\\}';
  const seconds =
    value(committed.replace("(sum|count)", "sum")) / (value(committed.replace("(sum|count)", "count")) || 1);
  return `${count} transactions, mean batch ${size.toFixed(1)}, mean transaction ${(seconds * 1000).toFixed(2)} ms`;
}
