/**
 * A serverless cold start: a new Node.js process that loads the Next.js route (the built `dist/adapters/next.js`),
 * takes one signed delivery as a Web `Request` and answers it, on a database already migrated. Prints, for each
 * setting, the median and range over the runs of the time from the process's start to the 200 (module loading
 * included), and of the route's own part (the first `POST` call: open the pool, check the migrations, verify, apply,
 * commit).
 *
 *   npm run build && node --import tsx bench/cold-start.ts [runs=15]
 *
 * BENCH_POSTGRES names the server (default postgres://postgres@127.0.0.1:5432/postgres); BENCH_POOLER, a transaction
 * pooler in front of it (scripts/pgbouncer.sh prints one), adds the same runs through the pooler.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { openDatabase } from "../src/db/database.js";
import { migrate } from "../src/db/migrate.js";
import { SECRETS, signedDelivery } from "../test/support/sign.js";

const runs = Number(process.argv[2] ?? 15);
const admin = process.env.BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/postgres";
const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const name = `cus_bench_${randomBytes(4).toString("hex")}`;

/** What the child runs: the route, one delivery, and its timings as JSON on stdout. */
const CHILD = `
const { clerkUserSyncRoute, closeClerkUserSyncRoutes } = await import(${JSON.stringify(`${root}/dist/adapters/next.js`)});
const { POST } = clerkUserSyncRoute();
const delivery = JSON.parse(process.env.DELIVERY);
const started = performance.now();
const response = await POST(new Request("http://localhost/api/user/webhook/clerk", {
  method: "POST", headers: delivery.headers, body: delivery.body,
}));
const answered = performance.now();
await closeClerkUserSyncRoutes();
process.stdout.write(JSON.stringify({ status: response.status, total: answered, route: answered - started }));
`;

function urlOf(base: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

function once(databaseUrl: string, n: number): { status: number; total: number; route: number } {
  const event = { type: "user.created", object: "event", timestamp: Date.now(), data: user(n) };
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", CHILD], {
    env: {
      ...process.env,
      NODE_ENV: "production",
      DATABASE_URL: databaseUrl,
      DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
      DELIVERY: JSON.stringify(signedDelivery(event)),
    },
  });
  return JSON.parse(out.toString());
}

function user(n: number) {
  return {
    id: `user_cold_${n}`,
    object: "user",
    email_addresses: [{ id: `idn_${n}`, email_address: `cold${n}@example.com` }],
    primary_email_address_id: `idn_${n}`,
    created_at: 1_700_000_000_000,
    updated_at: 1_700_000_000_000 + n,
  };
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return `median ${median.toFixed(0)} ms (${(sorted[0] ?? 0).toFixed(0)}–${(sorted.at(-1) ?? 0).toFixed(0)})`;
}

const client = new pg.Client({ connectionString: admin });
await client.connect();
await client.query(`create database ${name}`);
try {
  const db = await openDatabase(urlOf(admin));
  await migrate(db);
  await db.close();
  const settings: [string, string][] = [["direct", urlOf(admin)]];
  if (process.env.BENCH_POOLER) settings.push(["pooler", urlOf(process.env.BENCH_POOLER)]);
  let n = 0;
  for (const [label, url] of settings) {
    const results = Array.from({ length: runs }, () => once(url, n++));
    const failed = results.filter((r) => r.status !== 200).length;
    console.log(
      `${label}: process start to 200 ${summary(results.map((r) => r.total))}; ` +
        `the route's first POST ${summary(results.map((r) => r.route))}; ${runs} runs, ${failed} not 200`,
    );
  }
} finally {
  await client.query(`drop database if exists ${name} with (force)`);
  await client.end();
}
