/**
 * Webhook latency during a scheduled reconcile: deliveries at a steady rate into the core (`sync.handle`, signed,
 * on PostgreSQL), first alone, then while the reconcile walks N users (default 100,000) from a fast local fake of
 * Clerk's Backend API in the same process, as `serve` runs it. A quarter of the deliveries are about users the
 * reconcile is writing, so they meet its advisory locks. Prints p50/p99/max of each phase.
 *
 *   node --import tsx bench/reconcile.ts [users] [deliveries/s]
 *
 * BENCH_POSTGRES names the server (default postgres://postgres@127.0.0.1:5432/postgres); a database is created
 * and dropped.
 */
import { randomBytes } from "node:crypto";
import { ClerkApi, MAX_PAGE_SIZE, RATE_LIMITS } from "../src/backfill/clerk-api.js";
import { reconcileOnce } from "../src/reconcile/run.js";
import { createClerkUserSync } from "../src/sync.js";
import { fakeUser, fakeUsers, startFakeClerk } from "../test/support/fake-clerk.js";
import { userEvent } from "../test/support/fixtures.js";
import { SECRETS, signedDelivery } from "../test/support/sign.js";
import { adminQuery, loadAverage } from "./machine.js";

const count = Number(process.argv[2] ?? 100_000);
const rate = Number(process.argv[3] ?? 100);
const admin = process.env.BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/postgres";
const name = `cus_bench_${randomBytes(4).toString("hex")}`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

const fake = await startFakeClerk({ secretKey: "sk_live_benchmarkKey0123456789", users: fakeUsers(count) });
fake.prepare(MAX_PAGE_SIZE);
await adminQuery(admin, `create database ${name}`);
const url = new URL(admin);
url.pathname = `/${name}`;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sync = await createClerkUserSync({ database: url.toString(), secrets: SECRETS, logger: quiet });
let n = 0;

/** Sends deliveries at `rate` per second until `until` resolves; the latency of each, in ms. */
async function steady(until: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  const inflight = new Set<Promise<void>>();
  let done = false;
  void until.finally(() => {
    done = true;
  });
  while (!done) {
    const i = n++;
    // One in four is about a user the reconcile lists; the others are sign-ups it does not know.
    const user = i % 4 === 0 ? fakeUser(i % count, { updated_at: Date.now() }) : fakeUser(count + i);
    const { body, headers } = signedDelivery(userEvent("user.updated", user), { env: "production" });
    const started = performance.now();
    const p = sync.handle({ body, headers }).then((answer) => {
      if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
      latencies.push(performance.now() - started);
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    await new Promise((r) => setTimeout(r, 1000 / rate));
  }
  await Promise.all(inflight);
  return latencies.sort((a, b) => a - b);
}

function report(label: string, latencies: number[], seconds: number): void {
  const f = (x: number) => x.toFixed(1);
  console.log(
    `${label}: ${latencies.length} deliveries in ${seconds.toFixed(1)} s; p50 ${f(percentile(latencies, 50))} ms, ` +
      `p99 ${f(percentile(latencies, 99))} ms, max ${f(latencies.at(-1) ?? Number.NaN)} ms; load ${loadAverage()}`,
  );
}

try {
  console.log(
    `${count} users to reconcile, ${rate} deliveries/s, Node ${process.version}, load ${loadAverage()}`,
  );
  let t = performance.now();
  report("alone", await steady(new Promise((r) => setTimeout(r, 15_000))), (performance.now() - t) / 1000);
  const api = new ClerkApi({
    secretKey: fake.secretKey,
    baseUrl: fake.url,
    rateLimit: RATE_LIMITS.production,
  });
  t = performance.now();
  // As `serve` runs it unless these say otherwise.
  const pageSize = Number(process.env.BENCH_PAGE_SIZE ?? MAX_PAGE_SIZE);
  const writeConcurrency = Number(process.env.BENCH_WRITE_CONCURRENCY ?? 1);
  console.log(`reconcile pages of ${pageSize}, ${writeConcurrency} written at once`);
  const run = reconcileOnce({
    db: sync.database,
    environment: "production",
    api,
    prune: false,
    logger: quiet,
    pageSize,
    writeConcurrency,
  });
  const during = await steady(run);
  const result = await run;
  report("during the reconcile", during, (performance.now() - t) / 1000);
  console.log(
    `reconcile: ${result.outcome}, ${result.listed} listed, ${result.created} created, ${result.durationMs} ms`,
  );
} finally {
  await sync.close();
  await fake.close();
  await adminQuery(admin, `drop database if exists ${name} with (force)`);
}
