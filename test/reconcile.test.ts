import { Writable } from "node:stream";
import pg from "pg";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ClerkApi } from "../src/backfill/clerk-api.js";
import { extendLease, takeLease } from "../src/reconcile/lease.js";
import { type ReconcileScheduler, startReconcile } from "../src/reconcile/scheduler.js";
import { loadReconcileConfig } from "../src/service/config.js";
import { createMetrics, watchFreshness } from "../src/service/metrics.js";
import { WEBHOOK_PATH } from "../src/sync.js";
import { backends, type TestDatabase } from "./support/backends.js";
import { BIN } from "./support/cli.js";
import { type FakeClerk, type FakeUser, fakeUser, fakeUsers, startFakeClerk } from "./support/fake-clerk.js";
import { userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { sample } from "./support/metrics.js";
import { killStarted, LISTENING, type Program, start, terminate } from "./support/program.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

/** Waits until `condition` holds, failing the test after `timeout` ms. */
const until = (condition: () => Promise<boolean>, timeout = 15_000) =>
  vi.waitUntil(condition, { timeout, interval: 20 });

const DEV = { environment: "development" };

describe("loadReconcileConfig", () => {
  const key = { DEV_CLERK_SECRET_KEY: "sk_test_abcdefgh12345" };
  it.each([
    ["off unless set", {}, undefined],
    ["off", { RECONCILE_INTERVAL: "off", ...key }, undefined],
    [
      "6h with the development key",
      { RECONCILE_INTERVAL: "6h", ...key },
      { intervalMs: 6 * 3_600_000, prune: false, instances: [{ environment: "development" }] },
    ],
    ["pruning", { RECONCILE_INTERVAL: "30m", RECONCILE_PRUNE: "true", ...key }, { prune: true }],
  ])("%s", (_, env, expected) => {
    const config = loadReconcileConfig(env);
    if (expected === undefined) expect(config).toBeUndefined();
    else expect(config).toMatchObject(expected);
  });

  it.each([
    ["no key", { RECONCILE_INTERVAL: "6h" }, /no secret key/],
    ["a bad interval", { RECONCILE_INTERVAL: "soon", ...key }, /RECONCILE_INTERVAL="soon" is invalid/],
    ["a bad prune flag", { RECONCILE_INTERVAL: "6h", RECONCILE_PRUNE: "maybe", ...key }, /RECONCILE_PRUNE/],
    ["prune without interval", { RECONCILE_PRUNE: "1", ...key }, /RECONCILE_INTERVAL is not/],
    [
      "a live key as the development key",
      { RECONCILE_INTERVAL: "6h", DEV_CLERK_SECRET_KEY: "sk_live_abcdefgh12345" },
      /belongs to a production instance/,
    ],
  ])("refuses %s, listing the problem without the key", (_, env, problem) => {
    let error: unknown;
    try {
      loadReconcileConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: "invalid_config" });
    expect((error as Error).message).toMatch(problem);
    expect((error as Error).message).not.toContain("abcdefgh12345");
  });
});

describe.each(await backends())("the scheduled reconcile on $name", (backend) => {
  let h: Harness;
  let fake: FakeClerk;
  let scheduler: ReconcileScheduler | undefined;
  const lines: string[] = [];
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    }),
  );
  beforeAll(async () => {
    h = await openHarness(backend);
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    await h.reset();
    await h.sync.database.query("truncate reconcile_runs, leases");
    fake = await startFakeClerk();
    lines.length = 0;
  });
  afterEach(async () => {
    scheduler?.stop();
    scheduler = undefined;
    await fake.close();
  });

  const runs = () =>
    h.sync.database.query<{ outcome: string; created: number; updated: number; deleted: number | null }>(
      "select outcome, created, updated, deleted from reconcile_runs where finished_at is not null order by started_at",
    );
  const unfinished = async () =>
    (
      await h.sync.database.query<{ n: number }>(
        "select count(*)::int as n from reconcile_runs where finished_at is null",
      )
    )[0]?.n;
  /** A reconcile of the development instance against the fake Clerk, checking whether a run is due often. */
  const schedule = (intervalMs: number, prune = false) =>
    startReconcile({
      db: h.sync.database,
      instances: [
        { environment: "development", api: new ClerkApi({ secretKey: fake.secretKey, baseUrl: fake.url }) },
      ],
      intervalMs,
      prune,
      logger,
      checkEveryMs: 50,
    });
  /** Stores `users` as delivered an hour ago: old enough for a prune (rows written during the listing are kept). */
  const storedAnHourAgo = async (users: FakeUser[]) => {
    for (const user of users) await h.post(userEvent("user.created", user));
    await h.sync.database.query("update users set created_at = now() - interval '1 hour'");
  };
  const failure = async () =>
    (
      await h.sync.database.query<{ outcome: string; error_code: string }>(
        "select outcome, error_code from reconcile_runs",
      )
    )[0];

  it("repairs a delivery that never arrived at the next scheduled run, and the drift metric says so", async () => {
    const [arrived, stale] = fakeUsers(2);
    if (!arrived || !stale) throw new Error("fixture");
    const renamed = { ...stale, first_name: "Renamed", updated_at: stale.updated_at + 1000 };
    fake.users.push(arrived, renamed);
    await h.post(userEvent("user.created", arrived));
    await h.post(userEvent("user.created", stale)); // its user.updated never arrived
    const metrics = createMetrics();
    watchFreshness(metrics.registry, h.sync.database);

    // A run at most every 3 s: the checks between two runs have at least half of that.
    scheduler = schedule(3000);
    await until(async () => (await runs()).length === 1);
    expect((await h.users()).map((u) => u.first_name)).toEqual(["First0", "Renamed"]);
    let text = await metrics.registry.metrics();
    const drift = (kind: string) => sample(text, "clerk_user_sync_reconcile_drift", { ...DEV, kind });
    expect(drift("updated")).toBe(1);
    expect(drift("created")).toBe(0);

    // A sign-up whose user.created never arrives: the next run writes it (or the one after, when the next began
    // before the push on a slow machine). Stopped once the newest run is the one that wrote it.
    const missing = fakeUser(2);
    fake.users.push(missing);
    await until(async () => (await runs()).at(-1)?.created === 1, 30_000);
    scheduler.stop();
    await until(async () => (await unfinished()) === 0);
    expect((await runs()).at(-1)).toMatchObject({ outcome: "succeeded", created: 1 });
    expect((await h.users()).map((u) => u.clerk_user_id)).toEqual([arrived.id, stale.id, missing.id]);
    // The metrics' shared read is at most a second old: the newest run shows once it is renewed.
    await until(async () => {
      text = await metrics.registry.metrics();
      return drift("created") === 1;
    }, 5_000);
    expect(drift("deleted")).toBe(0);
    expect(sample(text, "clerk_user_sync_last_reconcile_succeeded", DEV)).toBe(1);
    expect(sample(text, "clerk_user_sync_users", DEV)).toBe(3);
    const lastDelivery = sample(text, "clerk_user_sync_last_delivery_timestamp_seconds", DEV) ?? 0;
    expect(Math.abs(lastDelivery - Date.now() / 1000)).toBeLessThan(60);
    expect(
      sample(text, "clerk_user_sync_last_delivery_timestamp_seconds", { environment: "production" }),
    ).toBe(0);
    expect(sample(text, "clerk_user_sync_last_reconcile_timestamp_seconds", DEV)).toBeGreaterThan(0);

    // One line per run, counts only: no email, no name, no id.
    const logged = lines.filter((l) => l.includes('"msg":"reconcile"'));
    expect(logged.length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(logged.at(-1) as string)).toMatchObject({
      environment: "development",
      outcome: "succeeded",
      created: 1,
      updated: 0,
      deleted: null,
    });
    expect(logged.join("\n")).not.toMatch(/@example\.org|First|user_/);
  });

  it.each([
    [false, null],
    [true, 1],
  ])(
    "prunes what Clerk no longer has only with RECONCILE_PRUNE (%s), within the backfill's share",
    async (prune, deleted) => {
      const users = fakeUsers(11);
      fake.users.push(...users.slice(1));
      await storedAnHourAgo(users);
      scheduler = schedule(60_000, prune);
      await until(async () => (await runs()).length === 1);
      expect(await runs()).toEqual([{ outcome: "succeeded", created: 0, updated: 0, deleted }]);
      expect(await h.users()).toHaveLength(prune ? 10 : 11);
      expect((await h.tombstones()).map((t) => t.clerk_user_id)).toEqual(prune ? [users[0]?.id] : []);
    },
  );

  it("refuses to prune more than a tenth, records prune_refused, and deletes nothing", async () => {
    const users = fakeUsers(5);
    fake.users.push(...users.slice(2));
    await storedAnHourAgo(users);
    scheduler = schedule(60_000, true);
    await until(async () => (await runs()).length === 1);
    expect(await failure()).toEqual({ outcome: "failed", error_code: "prune_refused" });
    expect(await h.users()).toHaveLength(5);
    expect(await h.tombstones()).toEqual([]);
  });

  it("records a failed run with its code, and the metrics say the newest run failed", async () => {
    fake.fail("/v1/users/count", { status: 401 });
    scheduler = schedule(60_000);
    await until(async () => (await runs()).length === 1);
    expect(await failure()).toEqual({ outcome: "failed", error_code: "clerk_unauthorized" });
    const metrics = createMetrics();
    watchFreshness(metrics.registry, h.sync.database);
    const text = await metrics.registry.metrics();
    expect(sample(text, "clerk_user_sync_last_reconcile_succeeded", DEV)).toBe(0);
    expect(text).not.toMatch(/clerk_user_sync_last_reconcile_timestamp_seconds\{/);
  });

  it("runs once per interval in a process, however often it checks", async () => {
    fake.users.push(fakeUser(0));
    scheduler = schedule(2000);
    await until(async () => (await runs()).length === 1);
    // Ten checks later, still inside the interval: no second run.
    await new Promise((r) => setTimeout(r, 500));
    scheduler.stop();
    await until(async () => (await unfinished()) === 0);
    expect(await runs()).toHaveLength(1);
  });

  it("leases: one holder at a time until it expires; extending never takes another's", async () => {
    const db = h.sync.database;
    expect(await takeLease(db, "job", "a", 60_000)).toBe(true);
    expect(await takeLease(db, "job", "b", 60_000)).toBe(false);
    expect(await extendLease(db, "job", "b", 60_000)).toBe(false);
    // Not even its holder takes it again before it expires: that would start a run at every check.
    expect(await takeLease(db, "job", "a", 60_000)).toBe(false);
    expect(await extendLease(db, "job", "a", 1)).toBe(true);
    expect(await takeLease(db, "short", "a", 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(await takeLease(db, "short", "b", 60_000)).toBe(true);
    expect(await extendLease(db, "short", "a", 60_000)).toBe(false);
  });
});

const postgres = (await backends()).find((b) => b.name === "postgres");

describe.runIf(postgres)("two serve instances on one database", () => {
  let db: TestDatabase;
  let fake: FakeClerk;
  let programs: Program[] = [];
  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).create();
    fake = await startFakeClerk({ users: fakeUsers(3) });
  });
  afterAll(async () => {
    await Promise.all(programs.map((p) => terminate(p)));
    killStarted();
    await fake?.close();
    await db?.drop();
  });

  it("reconcile once between them, and both report the same freshness from the database", async () => {
    const serve = () =>
      start(process.execPath, [BIN, "serve"], {
        ...db.env,
        DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
        DEV_CLERK_SECRET_KEY: fake.secretKey,
        CLERK_API_URL: fake.url,
        RECONCILE_INTERVAL: "1h",
        HOST: "127.0.0.1",
        PORT: "0",
        PRUNE_INTERVAL: "off",
      });
    programs = [serve(), serve()];
    const ports = await Promise.all(programs.map(async (p) => (await p.waitFor(LISTENING))[1]));
    const { body, headers } = signedDelivery(userEvent("user.created", fakeUser(0)));
    const posted = await fetch(`http://127.0.0.1:${ports[0]}${WEBHOOK_PATH}`, {
      method: "POST",
      body,
      headers,
    });
    expect(posted.status).toBe(200);
    await Promise.race(programs.map((p) => p.waitFor(/"msg":"reconcile"/)));
    await new Promise((r) => setTimeout(r, 1500)); // time for a second run, were the lease not held
    const client = new pg.Client({ connectionString: db.database });
    await client.connect();
    try {
      const { rows } = await client.query("select outcome, listed, created from reconcile_runs");
      expect(rows).toEqual([{ outcome: "succeeded", listed: 3, created: expect.any(Number) }]);
      expect((await client.query("select count(*)::int as n from users")).rows).toEqual([{ n: 3 }]);
    } finally {
      await client.end();
    }
    expect(fake.received.filter((r) => r.path === "/v1/users/count")).toHaveLength(1);
    expect(programs.filter((p) => p.output().includes('"msg":"reconcile"'))).toHaveLength(1);
    // Whichever ran it, both say so: the gauges are read from the database.
    for (const port of ports) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(sample(text, "clerk_user_sync_last_reconcile_succeeded", DEV)).toBe(1);
      expect(sample(text, "clerk_user_sync_users", DEV)).toBe(3);
    }
  });
});
