/**
 * Backfill throughput: a fast local fake of Clerk's Backend API serving N realistic users (default 100,000; pages
 * serialised ahead of time, so the API costs next to nothing), backfilled into a fresh PostgreSQL database through
 * the real client (production rate limiter on), the real pages of 500 and the real bulk write. Then a second run
 * over the same users (every one unchanged: the repair pass of a reconcile job).
 *
 *   node --import tsx bench/backfill.ts [users]
 *
 * BENCH_POSTGRES names the server (default postgres://postgres@127.0.0.1:5432/postgres); a database is created
 * and dropped. Besides users/s it prints the CPU time spent per 1000 users by this process (client, fake API) and,
 * when the server is local, by its backends: on a busy machine the wall clock alone says little.
 */
import { randomBytes } from "node:crypto";
import { cpus } from "node:os";
import { backfill } from "../src/backfill/backfill.js";
import { ClerkApi, MAX_PAGE_SIZE, RATE_LIMITS } from "../src/backfill/clerk-api.js";
import { type Database, openDatabase } from "../src/db/database.js";
import { migrate } from "../src/db/migrate.js";
import { fakeUsers, startFakeClerk } from "../test/support/fake-clerk.js";
import { adminQuery, loadAverage, serverCpuMs } from "./machine.js";

const count = Number(process.argv[2] ?? 100_000);
const admin = process.env.BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/postgres";
const name = `cus_bench_${randomBytes(4).toString("hex")}`;

const fake = await startFakeClerk({ secretKey: "sk_live_benchmarkKey0123456789", users: fakeUsers(count) });
fake.prepare(MAX_PAGE_SIZE);
await adminQuery(admin, `create database ${name}`);
const url = new URL(admin);
url.pathname = `/${name}`;
const db = await openDatabase(url.toString());
try {
  await migrate(db);
  const bytes = JSON.stringify(fake.users.slice(0, 1000)).length / 1000;
  console.log(
    `${count} users (~${Math.round(bytes)} bytes of JSON each), pages of ${MAX_PAGE_SIZE}, ` +
      `PostgreSQL ${(await db.query<{ v: string }>("select current_setting('server_version') as v"))[0]?.v}, ` +
      `${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}`,
  );
  for (const label of ["first run (all created)", "second run (all unchanged)"]) {
    const api = new ClerkApi({
      secretKey: fake.secretKey,
      baseUrl: fake.url,
      rateLimit: RATE_LIMITS.production,
    });
    const [server, client, load] = [await serverCpuMs(db), process.cpuUsage(), loadAverage()];
    const started = performance.now();
    const summary = await backfill({ db, environment: "production", api });
    const seconds = (performance.now() - started) / 1000;
    const { done, created, unchanged } = summary;
    const clientMs = Object.values(process.cpuUsage(client)).reduce((a, b) => a + b, 0) / 1000;
    const serverMs = (await serverCpuMs(db)) - server;
    console.log(
      `${label}: ${done} users in ${seconds.toFixed(2)} s = ${Math.round(done / seconds)} users/s ` +
        `(created ${created}, unchanged ${unchanged}); CPU per 1000 users: ` +
        `${((clientMs / done) * 1000).toFixed(0)} ms here, ${((serverMs / done) * 1000).toFixed(0)} ms in ` +
        `PostgreSQL; load average before: ${load}`,
    );
  }
  await onePerUser(db);
} finally {
  await db.close();
  await fake.close();
  await adminQuery(admin, `drop database if exists ${name} with (force)`);
}

/**
 * The baseline a team would write by hand: every user of the same pages upserted by its own statement, one after
 * the other (no locks, no tombstones, no version guard), into a table shaped like `users`.
 */
async function onePerUser(db: Database): Promise<void> {
  const users = fake.users.slice(0, Math.min(count, 20_000));
  await db.query("create table baseline_users (like users including all)");
  const started = performance.now();
  for (const user of users) {
    const u = user as { id: string; first_name?: string; last_name?: string; updated_at: number };
    await db.query(
      `insert into baseline_users (clerk_user_id, environment, first_name, last_name, raw_payload, clerk_updated_at)
       values ($1, 'production', $2, $3, $4, to_timestamp($5 / 1000.0))
       on conflict (clerk_user_id, environment) do update set first_name = excluded.first_name,
         last_name = excluded.last_name, raw_payload = excluded.raw_payload, clerk_updated_at = excluded.clerk_updated_at`,
      [u.id, u.first_name ?? null, u.last_name ?? null, JSON.stringify(user), u.updated_at],
    );
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `one upsert per user (the hand-written baseline): ${users.length} users in ${seconds.toFixed(2)} s = ` +
      `${Math.round(users.length / seconds)} users/s`,
  );
}
