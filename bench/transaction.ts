/**
 * What PostgreSQL spends on one webhook transaction, by how its statement reaches it: the package's stored
 * statement (a PL/pgSQL function, planned once per server connection), and the same statement sent as text, parsed
 * and planned in every transaction (what a transaction pooler would allow without the function). Each round replays
 * the same batches of `user.created` deliveries for fresh users through `applyBatch` on one connection, alternating
 * the two ways, and reads the server process's CPU time from /proc (so PostgreSQL must be local).
 *
 *   node --import tsx bench/transaction.ts [batches=400] [batch=16] [rounds=3]
 *
 * BENCH_POSTGRES names the server (default postgres://postgres@127.0.0.1:5432/postgres); a database is created and
 * dropped.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import { type Database, openDatabase } from "../src/db/database.js";
import { migrate } from "../src/db/migrate.js";
import { lockedTransaction } from "../src/db/sql.js";
import { decode } from "../src/decode.js";
import { applyBatch, queued } from "../src/store/apply.js";
import { STATEMENTS } from "../src/store/shapes.js";
import { serverCpuMs } from "./machine.js";

const [batches = 400, size = 16, rounds = 3] = process.argv.slice(2).map(Number);
const admin = process.env.BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/postgres";
const name = `cus_bench_${randomBytes(4).toString("hex")}`;
const example = JSON.parse(
  readFileSync(new URL("../test/fixtures/clerk/user.created.docs.json", import.meta.url), "utf8"),
);

function batch(round: string, n: number) {
  return Array.from({ length: size }, (_, i) => {
    const id = `user_${round}_${n}_${i}`;
    const body = JSON.stringify({ ...example, data: { ...example.data, id } });
    return queued(Object.assign(decode({ environment: "production", svixId: `msg_${id}`, body }), { body }));
  });
}

/** The plain statement: the stored one's text, sent in every transaction. */
const PLAIN = { ...STATEMENTS.user.apply, returns: undefined };

async function run(db: Database, way: "stored" | "plain", round: string): Promise<number> {
  const before = await serverCpuMs(db, "connection");
  for (let n = 0; n < batches; n++) {
    const b = batch(round, n);
    if (way === "stored") await applyBatch(db, b);
    else {
      const keys = [...new Set(b.flatMap((q) => q.keys))];
      const value = `[${b.map((q, o) => `{"o":${o},${q.row.slice(1)}`).join(",")}]`;
      await lockedTransaction(db, keys, [{ statement: PLAIN, values: [value] }]);
    }
  }
  return ((await serverCpuMs(db, "connection")) - before) / batches;
}

const client = new pg.Client({ connectionString: admin });
await client.connect();
await client.query(`create database ${name}`);
const url = new URL(admin);
url.pathname = `/${name}`;
const db = await openDatabase(url.toString(), { pool: { max: 1 } });
try {
  await migrate(db);
  const results: Record<string, number[]> = { stored: [], plain: [] };
  for (let r = 0; r < rounds; r++) {
    for (const way of r % 2 ? (["plain", "stored"] as const) : (["stored", "plain"] as const)) {
      results[way]?.push(await run(db, way, `${way}${r}`));
    }
  }
  for (const [way, ms] of Object.entries(results)) {
    console.log(
      `${way}: PostgreSQL CPU per transaction of ${size} ${ms.map((v) => `${(v * 1000).toFixed(0)} µs`).join(", ")}`,
    );
  }
} finally {
  await db.close();
  await client.query(`drop database if exists ${name} with (force)`);
  await client.end();
}
