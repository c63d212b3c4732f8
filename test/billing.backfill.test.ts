import { Writable } from "node:stream";
import pg from "pg";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type BackfillOptions, type BackfillProgress, backfill } from "../src/backfill/backfill.js";
import { ClerkApi, type ClerkApiOptions } from "../src/backfill/clerk-api.js";
import { ClerkApiError } from "../src/backfill/errors.js";
import { formatSummary } from "../src/backfill/progress.js";
import { openDatabase } from "../src/db/database.js";
import { reconcileOnce } from "../src/reconcile/run.js";
import { startReconcile } from "../src/reconcile/scheduler.js";
import { getCurrentPlan } from "../src/store/plans.js";
import { backends } from "./support/backends.js";
import { cli } from "./support/cli.js";
import { virtualTime } from "./support/clock.js";
import { fakeItem, fakePlan, fakeSubscription } from "./support/fake-billing.js";
import { type FakeClerk, fakeOrganization, fakeUsers, startFakeClerk } from "./support/fake-clerk.js";
import type { ClerkEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";

const T0 = 1_700_000_000_000;
const FREE = fakePlan("free", { isDefault: true });
const PRO = fakePlan("pro");
const TEAM = fakePlan("team", { amount: 5000, payerType: "org" });

/**
 * An instance with Billing: users 0–`users - 1`, one organization. User 0 pays for Pro beside the free plan (the free
 * item listed without its optional `payer`), the other users are on the free plan, the organization on Team, and
 * the last user has no subscription at all (404).
 */
function billingInstance(fake: FakeClerk, users = 3) {
  const people = fakeUsers(users);
  const org = fakeOrganization(1);
  fake.users.push(...people);
  fake.organizations.push(org);
  fake.billingEnabled = true;
  fake.plans.push(FREE, PRO, TEAM);
  let n = 0;
  people.slice(0, -1).forEach((user, i) => {
    const payer = { userId: user.id };
    const items = [fakeItem(++n, payer, FREE, { withPayer: i !== 0 })];
    if (i === 0) items.push(fakeItem(++n, payer, PRO));
    fake.items.push(...items);
    fake.subscriptions.set(user.id, fakeSubscription(payer, items));
  });
  const team = fakeItem(++n, { organizationId: org.id }, TEAM);
  fake.items.push(team);
  fake.subscriptions.set(org.id, fakeSubscription({ organizationId: org.id }, [team]));
  return { people, org };
}

describe.each(await backends())("the Billing backfill on $name", (backend) => {
  let h: Harness;
  let fake: FakeClerk;
  let time: ReturnType<typeof virtualTime>;
  beforeAll(async () => {
    h = await openHarness(backend);
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    await h.reset();
    await h.sync.database.query("truncate reconcile_runs, leases");
    fake = await startFakeClerk();
    time = virtualTime();
  });
  afterEach(() => fake.close());

  const db = () => h.sync.database;
  function api(options: Partial<ClerkApiOptions> = {}) {
    return new ClerkApi({
      secretKey: fake.secretKey,
      baseUrl: fake.url,
      now: time.now,
      sleep: time.sleep,
      random: () => 0.5,
      ...options,
    });
  }
  const run = (options: Partial<BackfillOptions> = {}) =>
    backfill({ db: db(), environment: "development", api: api(), now: time.now, pageSize: 2, ...options });
  const rows = (table: string, id: string, columns = "*") =>
    db().query<Record<string, unknown>>(`select ${columns} from ${table} order by ${id}`);
  const plans = async () =>
    (
      await db().query<{ who: string; plan: string }>(
        `select coalesce(clerk_user_id, clerk_org_id) as who, plan_slug as plan from billing_current_plans
        where environment = 'development' order by 1`,
      )
    ).map(({ who, plan }) => `${who}:${plan}`);
  const billingRequests = () =>
    fake.received.filter((r) => r.path.includes("/billing")).map((r) => [r.path, r.query]);
  /** The payers whose subscription was asked for, as `user:<id>` or `organization:<id>`. */
  const payersAsked = () =>
    fake.received
      .map((r) => /^\/v1\/(user|organization)s\/([^/]+)\/billing\/subscription$/.exec(r.path))
      .filter((m) => m !== null)
      .map((m) => `${m[1]}:${m[2]}`);
  const logged: string[] = [];
  const reconcile = (driftedPayersAtMost?: number) =>
    reconcileOnce({
      db: db(),
      environment: "development",
      api: api(),
      prune: false,
      pageSize: 2,
      driftedPayersAtMost,
      logger: pino(new Writable({ write: (chunk, _e, done) => done(void logged.push(String(chunk))) })),
    });

  it("a full backfill loads the plans, every item and each stored payer's subscription, and the view answers at once", async () => {
    const { people, org } = billingInstance(fake);
    const [u0, u1, u2] = people as unknown as [{ id: string }, { id: string }, { id: string }];
    const summary = await run();
    expect(summary.billing).toMatchObject({
      state: "listed",
      plans: 3,
      items: 4,
      subscriptions: 3,
      done: 4,
      total: 4,
      resumed: 0,
      // 3 plans, 4 items and 3 subscriptions created; the 4 items nested in the subscriptions carry the listed
      // versions: unchanged, their links filled in.
      created: 10,
      unchanged: 4,
      updated: 0,
      stale: 0,
    });
    // Offset pages (no order: Clerk lists Billing newest first), the free plan's items asked for, then one request
    // per stored payer: users by id, then organizations.
    expect(billingRequests()).toEqual([
      ["/v1/billing/plans", { limit: "2", offset: "0" }],
      ["/v1/billing/plans", { limit: "2", offset: "2" }],
      ["/v1/billing/subscription_items", { include_free: "true", limit: "2", offset: "0" }],
      ["/v1/billing/subscription_items", { include_free: "true", limit: "2", offset: "2" }],
      ["/v1/billing/subscription_items", { include_free: "true", limit: "2", offset: "4" }],
      [`/v1/users/${u0.id}/billing/subscription`, {}],
      [`/v1/users/${u1.id}/billing/subscription`, {}],
      [`/v1/users/${u2.id}/billing/subscription`, {}],
      [`/v1/organizations/${org.id}/billing/subscription`, {}],
    ]);
    expect(
      await rows("billing_plans", "clerk_plan_id", "clerk_plan_id, slug, is_default, for_payer_type"),
    ).toEqual([
      { clerk_plan_id: "cplan_free", slug: "free", is_default: true, for_payer_type: "user" },
      { clerk_plan_id: "cplan_pro", slug: "pro", is_default: false, for_payer_type: "user" },
      { clerk_plan_id: "cplan_team", slug: "team", is_default: false, for_payer_type: "org" },
    ]);
    const items = await rows(
      "billing_subscription_items",
      "clerk_item_id",
      "clerk_item_id, clerk_subscription_id, clerk_user_id, clerk_org_id, plan_slug, status, interval, clerk_event_at",
    );
    expect(items).toEqual([
      { ...item("csub_item_0001", u0.id, null, "free"), clerk_subscription_id: `csub_${u0.id}` },
      { ...item("csub_item_0002", u0.id, null, "pro"), clerk_subscription_id: `csub_${u0.id}` },
      { ...item("csub_item_0003", u1.id, null, "free"), clerk_subscription_id: `csub_${u1.id}` },
      { ...item("csub_item_0004", null, org.id, "team"), clerk_subscription_id: `csub_${org.id}` },
    ]);
    expect(
      await rows(
        "billing_subscriptions",
        "clerk_subscription_id",
        "clerk_subscription_id, clerk_user_id, clerk_org_id, status",
      ),
    ).toEqual([
      {
        clerk_subscription_id: `csub_${org.id}`,
        clerk_user_id: null,
        clerk_org_id: org.id,
        status: "active",
      },
      { clerk_subscription_id: `csub_${u0.id}`, clerk_user_id: u0.id, clerk_org_id: null, status: "active" },
      { clerk_subscription_id: `csub_${u1.id}`, clerk_user_id: u1.id, clerk_org_id: null, status: "active" },
    ]);
    const [raw] = await rows("billing_subscriptions", "clerk_subscription_id", "raw_payload");
    expect(raw?.raw_payload).toEqual(fake.subscriptions.get(org.id));
    // The paid plan before the default one; the payer without a subscription has none.
    expect(await plans()).toEqual([`${org.id}:team`, `${u0.id}:pro`, `${u1.id}:free`]);
    expect(await getCurrentPlan(db(), { userId: u0.id })).toMatchObject({
      planSlug: "pro",
      isDefault: false,
    });
    expect(await getCurrentPlan(db(), { userId: u2.id })).toBeNull();
    expect(await db().query("select * from backfill_checkpoints")).toEqual([]);

    // Run again: everything is unchanged, nothing is written.
    const again = await run({ only: ["billing"] });
    expect(again.billing).toMatchObject({ created: 0, updated: 0, unchanged: 14, stale: 0 });
  });

  function item(id: string, user: string | null, org: string | null, plan: string) {
    return {
      clerk_item_id: id,
      clerk_user_id: user,
      clerk_org_id: org,
      plan_slug: plan,
      status: "active",
      interval: "month",
      clerk_event_at: null,
    };
  }

  it("goes on after an interrupted walk from where it stopped, not from the start", async () => {
    const { people, org } = billingInstance(fake, 5);
    await run({ only: ["users", "organizations"] });
    const [, , u2, u3, u4] = people as { id: string }[];
    // The third payer's request fails for good: the first run of two payers is written with its checkpoint.
    fake.fail(`/v1/users/${u2?.id}/billing/subscription`, { status: 400, body: "{}" });
    let last: BackfillProgress | undefined;
    const failure = await run({ only: ["billing"], onProgress: (p) => (last = p) }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ClerkApiError);
    expect(failure).toMatchObject({ code: "clerk_request_failed" });
    expect(last?.billing).toMatchObject({ step: "subscriptions", done: 2, total: 6, subscriptions: 2 });
    expect(
      await rows("billing_subscriptions", "clerk_subscription_id", "clerk_subscription_id"),
    ).toHaveLength(2);
    expect(await db().query("select environment, job from backfill_checkpoints")).toEqual([
      { environment: "development", job: "billing_subscriptions" },
    ]);

    fake.received.length = 0;
    const resumed = await run({ only: ["billing"] });
    // Only the payers not yet done are asked for; plans and items (a few pages) are listed again.
    expect(billingRequests().filter(([path]) => String(path).endsWith("/subscription"))).toEqual(
      [u2, u3, u4]
        .map((u) => [`/v1/users/${u?.id}/billing/subscription`, {}])
        .concat([[`/v1/organizations/${org.id}/billing/subscription`, {}]]),
    );
    expect(resumed.billing).toMatchObject({
      state: "listed",
      resumed: 2,
      done: 6,
      total: 6,
      subscriptions: 3,
    });
    expect(formatSummary(resumed)).toContain(
      "  billing: 3 plans, 6 items, 3 subscriptions of 6 payers (6 stored, 2 of them by the interrupted run this one resumed),",
    );
    expect(
      await rows("billing_subscriptions", "clerk_subscription_id", "clerk_subscription_id"),
    ).toHaveLength(5);
    expect(await db().query("select * from backfill_checkpoints")).toEqual([]);
    // The next walk starts from the start again.
    fake.received.length = 0;
    expect((await run({ only: ["billing"] })).billing).toMatchObject({ resumed: 0, done: 6 });
    expect(billingRequests().filter(([path]) => String(path).endsWith("/subscription"))).toHaveLength(6);
  });

  it("waits out a 429's Retry-After on a listing and on a payer's subscription, then asks again", async () => {
    const { people } = billingInstance(fake);
    await run({ only: ["users", "organizations"] });
    fake.fail("/v1/billing/subscription_items", { status: 429, headers: { "retry-after": "7" } });
    fake.fail(`/v1/users/${people[0]?.id}/billing/subscription`, {
      status: 429,
      headers: { "retry-after": "3" },
    });
    const summary = await run({ only: ["billing"] });
    expect(time.slept).toEqual([7000, 3000]);
    expect(summary.billing).toMatchObject({ state: "listed", items: 4, subscriptions: 3, done: 4 });
    expect(await plans()).toHaveLength(3);
  });

  it("an instance without Billing is skipped in one line, not a failure, and nothing is written", async () => {
    fake.users.push(...fakeUsers(2));
    const summary = await run();
    expect(summary.billing).toMatchObject({ state: "disabled", created: 0, done: 0 });
    expect(billingRequests()).toEqual([["/v1/billing/plans", { limit: "2", offset: "0" }]]);
    expect(formatSummary(summary)).toContain(
      "\n  billing: skipped, Billing is not enabled in this instance\n",
    );
    expect(await rows("billing_plans", "clerk_plan_id")).toEqual([]);
    expect(await db().query("select * from backfill_checkpoints")).toEqual([]);
  });

  it("a listed object never replaces a newer state a webhook stored; at the same version the webhook's row stays", async () => {
    const { people } = billingInstance(fake);
    const u0 = people[0]?.id as string;
    await run({ only: ["users", "organizations"] });
    // The webhook saw Pro canceled after the listed (active) state, and the free item at the listed version.
    const payer = { object: "commerce_payer", id: `cpayer_${u0}`, user_id: u0, organization_id: "" };
    const standalone = (listed: Record<string, unknown>, status: string, updatedAt: number): ClerkEvent => ({
      object: "event",
      type: `subscriptionItem.${status}`,
      timestamp: Math.floor(updatedAt / 1000),
      data: {
        object: "subscription_item",
        id: listed.id,
        status,
        is_free_trial: false,
        created_at: listed.created_at,
        updated_at: updatedAt,
        period_start: T0,
        period_end: listed.period_end,
        interval: "month",
        plan_id: listed.plan_id,
        plan: { id: listed.plan_id, slug: (listed.plan as { slug: string }).slug, is_recurring: true },
        payer,
        subscription_id: `csub_${u0}`,
      },
    });
    const [free, pro] = fake.items as unknown as [Record<string, unknown>, Record<string, unknown>];
    expect((await h.post(standalone(pro, "canceled", T0 + 5000))).status).toBe(200);
    expect((await h.post(standalone(free, "active", free.updated_at as number))).status).toBe(200);
    const before = await rows(
      "billing_subscription_items",
      "clerk_item_id",
      "clerk_item_id, status, raw_payload",
    );

    const summary = await run({ only: ["billing"] });
    // Pro: stale twice (the list and the subscription's nested copy); free: unchanged twice, as are the other two
    // items' nested copies; created: 3 plans, 2 items, 3 subscriptions.
    expect(summary.billing).toMatchObject({ created: 8, updated: 0, unchanged: 4, stale: 2 });
    const after = await rows(
      "billing_subscription_items",
      "clerk_item_id",
      "clerk_item_id, status, raw_payload",
    );
    expect(after.slice(0, 2)).toEqual(before);
    expect(after.map((r) => [r.clerk_item_id, r.status])).toEqual([
      ["csub_item_0001", "active"],
      ["csub_item_0002", "canceled"],
      ["csub_item_0003", "active"],
      ["csub_item_0004", "active"],
    ]);
    expect(after[0]?.raw_payload).toMatchObject({ object: "subscription_item" });
    // A canceled plan keeps its features until its period ends.
    expect(await getCurrentPlan(db(), { userId: u0 })).toMatchObject({ planSlug: "pro", status: "canceled" });
  });

  it.runIf(backend.name === "postgres")(
    "waits for the lock a webhook writing the same item holds, and commits after it",
    async () => {
      billingInstance(fake);
      await run({ only: ["users", "organizations"] });
      // A webhook's transaction for item 2 is under way: it holds the item's lock until it commits.
      const webhook = new pg.Client({ connectionString: h.db.database });
      await webhook.connect();
      let done = false;
      let backfilling: Promise<void> | undefined;
      try {
        await webhook.query("begin");
        // The key as written literally: a key that changed would no longer exclude writers of an older version.
        await webhook.query("select pg_advisory_xact_lock(hashtextextended($1, 0))", [
          "development:billing:csub_item_0002",
        ]);
        backfilling = run({ only: ["billing"] }).then(() => {
          done = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 1000));
        // The first page of items (4 and 3: newest first) is written; the second, with item 2, waits.
        expect(done).toBe(false);
        expect(await rows("billing_subscription_items", "clerk_item_id", "clerk_item_id")).toEqual([
          { clerk_item_id: "csub_item_0003" },
          { clerk_item_id: "csub_item_0004" },
        ]);
        await webhook.query("commit");
        await backfilling;
      } finally {
        await webhook.end();
        await backfilling?.catch(() => {});
      }
      expect(done).toBe(true);
      expect(await rows("billing_subscription_items", "clerk_item_id", "clerk_item_id")).toHaveLength(4);
    },
  );

  it("the CLI: `backfill --env production --only billing`, with progress lines, a summary and exit 0", async () => {
    const test = await backend.create();
    try {
      const live = await startFakeClerk({ secretKey: "sk_live_fakeProductionKey0123456789" });
      const { people } = billingInstance(live);
      const env = { ...test.env, PROD_CLERK_SECRET_KEY: live.secretKey, CLERK_API_URL: live.url };
      const first = await cli(["backfill", "--env", "production", "--only", "users,organizations"], env);
      expect(first.code).toBe(0);
      const result = await cli(
        ["backfill", "--env", "production", "--only", "billing", "--page-size", "2"],
        env,
      );
      const disabled = await (async () => {
        live.billingEnabled = false;
        return cli(["backfill", "--env", "production", "--only", "billing"], env);
      })().finally(() => live.close());
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^backfill production: complete in [\d.]+s\n/);
      expect(result.stdout).toContain(
        "  billing: 3 plans, 4 items, 3 subscriptions of 4 payers (4 stored), created 10, updated 0, unchanged 4, skipped as stale 0, never pruned\n",
      );
      expect(result.stderr).toContain(
        "backfill production: billing 3 plans, 4 items, subscriptions of 4/4 payers\n",
      );
      expect(disabled.code).toBe(0);
      expect(disabled.stdout).toContain("  billing: skipped, Billing is not enabled in this instance\n");
      expect(disabled.stderr).toContain(
        "backfill production: billing skipped: Billing is not enabled in this instance\n",
      );
      for (const secretOrPersonal of [live.secretKey, "test@example.com", people[0]?.id as string]) {
        expect(result.stdout + result.stderr).not.toContain(secretOrPersonal);
      }
      const database = await openDatabase(test.database, { dataDir: test.dataDir });
      const current = await database
        .query("select environment, plan_slug from billing_current_plans order by plan_slug")
        .finally(() => database.close());
      expect(current).toEqual([
        { environment: "production", plan_slug: "free" },
        { environment: "production", plan_slug: "pro" },
        { environment: "production", plan_slug: "team" },
      ]);
    } finally {
      await test.drop();
    }
  }, 60_000);

  it("the scheduled reconcile covers Billing: a missed item event is repaired at the next run", async () => {
    const { people } = billingInstance(fake);
    await run();
    const u1 = people[1]?.id as string;
    // The user upgraded; its subscriptionItem.active (and the subscription's update) never arrived. The list names
    // the new item's payer by its payer id only: the stored subscription ties that to the user.
    const upgrade = fakeItem(9, { userId: u1 }, PRO, { version: 9000, withPayer: false });
    fake.items.push(upgrade);
    const subscription = fake.subscriptions.get(u1) as NonNullable<ReturnType<typeof fake.subscriptions.get>>;
    fake.subscriptions.set(u1, {
      ...subscription,
      updated_at: T0 + 9000,
      subscription_items: [...(subscription.subscription_items as unknown[]), upgrade],
    });
    expect(await getCurrentPlan(db(), { userId: u1 })).toMatchObject({ planSlug: "free" });
    // An item stored without its subscription while its payer's is stored (user 0's free one) is no drift: Clerk
    // may leave an old item out of the subscription's answer, and asking again would not link it.
    await db().query(
      "update billing_subscription_items set clerk_subscription_id = null where clerk_item_id = 'csub_item_0001'",
    );
    fake.received.length = 0;
    const results: unknown[] = [];
    const scheduler = startReconcile({
      db: db(),
      instances: [{ environment: "development", api: api({ now: Date.now, sleep: undefined }) }],
      intervalMs: 3_600_000,
      prune: false,
      logger: pino({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() })),
      onRun: (result) => results.push(result),
    });
    try {
      await expect.poll(() => results.length, { timeout: 20_000 }).toBe(1);
    } finally {
      scheduler.stop();
    }
    expect(results[0]).toMatchObject({ outcome: "succeeded", code: null, created: 1, updated: 1 });
    // Only the payer of the item the walk created is asked for its subscription, which links the item to it.
    expect(payersAsked()).toEqual([`user:${u1}`]);
    expect(
      await rows("billing_subscription_items", "clerk_item_id", "clerk_item_id, clerk_subscription_id"),
    ).toContainEqual({ clerk_item_id: upgrade.id, clerk_subscription_id: `csub_${u1}` });
    expect(
      await db().query("select clerk_user_id from billing_subscription_items where clerk_item_id = $1", [
        upgrade.id,
      ]),
    ).toEqual([{ clerk_user_id: u1 }]);
    expect(await getCurrentPlan(db(), { userId: u1 })).toMatchObject({
      planSlug: "pro",
      clerkItemId: upgrade.id,
    });
    expect(
      await db().query("select outcome, created, updated from reconcile_runs where finished_at is not null"),
    ).toEqual([{ outcome: "succeeded", created: 1, updated: 1 }]);
  });

  it("the reconcile asks for no payer's subscription on an unchanged instance: plans and items only", async () => {
    billingInstance(fake);
    await run();
    fake.received.length = 0;
    const result = await reconcile();
    expect(result).toMatchObject({ outcome: "succeeded", created: 0, updated: 0 });
    expect(billingRequests()).toEqual([
      ["/v1/billing/plans", { limit: "2", offset: "0" }],
      ["/v1/billing/plans", { limit: "2", offset: "2" }],
      ["/v1/billing/subscription_items", { include_free: "true", limit: "2", offset: "0" }],
      ["/v1/billing/subscription_items", { include_free: "true", limit: "2", offset: "2" }],
      ["/v1/billing/subscription_items", { include_free: "true", limit: "2", offset: "4" }],
    ]);
  });

  it("the reconcile repairs missed subscriptions, asking only their payers, at most the bound per run", async () => {
    const { people, org } = billingInstance(fake);
    await run();
    const u0 = people[0]?.id as string;
    // The organization's subscription.created was missed: its item names a subscription not stored.
    await db().query("delete from billing_subscriptions where clerk_org_id = $1", [org.id]);
    // So was user 0's, and its items were stored without their subscription; the free one, listed without its
    // payer, names only the payer's id, which the Pro item ties to the user.
    await db().query("delete from billing_subscriptions where clerk_user_id = $1", [u0]);
    await db().query(
      `update billing_subscription_items set clerk_subscription_id = null,
        clerk_user_id = case when plan_slug = 'free' then null else clerk_user_id end
      where payer_id = $1`,
      [`cpayer_${u0}`],
    );
    fake.received.length = 0;
    logged.length = 0;
    // A bound of one: users first; the organization waits, and the run says so.
    expect(await reconcile(1)).toMatchObject({ outcome: "succeeded", created: 1 });
    expect(payersAsked()).toEqual([`user:${u0}`]);
    expect(logged.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({
        level: 40,
        environment: "development",
        deferred: 1,
        msg: "reconcile: more Billing payers drifted than one run asks for; the rest wait for the next",
      }),
    );
    fake.received.length = 0;
    expect(await reconcile(1)).toMatchObject({ outcome: "succeeded", created: 1 });
    expect(payersAsked()).toEqual([`organization:${org.id}`]);
    fake.received.length = 0;
    expect(await reconcile(1)).toMatchObject({ outcome: "succeeded", created: 0, updated: 0 });
    expect(payersAsked()).toEqual([]);
    expect(
      await rows("billing_subscriptions", "clerk_subscription_id", "clerk_subscription_id"),
    ).toHaveLength(3);
    expect(
      await db().query(
        "select clerk_item_id from billing_subscription_items where clerk_subscription_id is null or clerk_user_id is null and clerk_org_id is null",
      ),
    ).toEqual([]);
    expect(await getCurrentPlan(db(), { userId: u0 })).toMatchObject({ planSlug: "pro" });
  });

  it("the reconcile leaves an interrupted backfill's checkpoint alone: the backfill goes on from it", async () => {
    const { people, org } = billingInstance(fake, 5);
    await run({ only: ["users", "organizations"] });
    const [, u1, u2, u3, u4] = people as { id: string }[];
    fake.fail(`/v1/users/${u2?.id}/billing/subscription`, { status: 400, body: "{}" });
    await expect(run({ only: ["billing"] })).rejects.toBeInstanceOf(ClerkApiError);
    const checkpoint = "select job, position, updated_at from backfill_checkpoints";
    const saved = await db().query(checkpoint);
    expect(saved).toMatchObject([{ job: "billing_subscriptions", position: `user:${u1?.id}` }]);

    fake.received.length = 0;
    expect(await reconcile()).toMatchObject({ outcome: "succeeded" });
    // The payers whose items the failed walk stored with no subscription beside them, and only those.
    expect(payersAsked()).toEqual([`user:${u2?.id}`, `user:${u3?.id}`, `organization:${org.id}`]);
    expect(await db().query(checkpoint)).toEqual(saved);

    fake.received.length = 0;
    expect((await run({ only: ["billing"] })).billing).toMatchObject({ resumed: 2, done: 6 });
    expect(payersAsked()).toEqual([
      `user:${u2?.id}`,
      `user:${u3?.id}`,
      `user:${u4?.id}`,
      `organization:${org.id}`,
    ]);
    expect(await db().query(checkpoint)).toEqual([]);
  });
});
