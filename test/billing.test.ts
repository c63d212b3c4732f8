import { readFileSync } from "node:fs";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { billingCurrentPlans, users } from "../src/db/schema.js";
import { BadRequestError } from "../src/errors.js";
import type { Outcome } from "../src/store/apply.js";
import { backends } from "./support/backends.js";
import { type ClerkEvent, deletedEvent, userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";

/** Clerk's published Billing examples (OpenAPI webhook spec), copied into test/fixtures/clerk. */
const EXAMPLES = [
  "subscription.created",
  "subscriptionItem.active",
  "subscriptionItem.canceled",
  "subscriptionItem.ended",
  "paymentAttempt.created",
] as const;

function example(name: (typeof EXAMPLES)[number]): ClerkEvent {
  return JSON.parse(
    readFileSync(new URL(`fixtures/clerk/${name}.openapi.json`, import.meta.url), "utf8"),
  ) as ClerkEvent;
}

const T = 1_700_000_000_000;
const DAY = 86_400_000;
/** A period end still ahead whenever the suite runs. */
const AHEAD = Date.now() + 30 * DAY;
const USER = "user_billing";
const PAYER = { object: "commerce_payer", id: "cpayer_1", user_id: USER, organization_id: "" };
const PLANS = {
  free: { id: "cplan_free", slug: "free", name: "Free", is_recurring: false, amount: 0, currency: "USD" },
  pro: { id: "cplan_pro", slug: "pro", name: "Pro", is_recurring: true, amount: 2000, currency: "USD" },
  basic: {
    id: "cplan_basic",
    slug: "basic",
    name: "Basic",
    is_recurring: true,
    amount: 900,
    currency: "USD",
  },
};
type Plan = keyof typeof PLANS;

/** An item object: `id`, its plan, status and version, its period's end (null: none). */
function itemData(
  id: string,
  plan: Plan,
  status: string,
  updatedAt: number,
  periodEnd: number | null = null,
) {
  return {
    object: "commerce_subscription_item",
    id,
    status,
    is_free_trial: false,
    created_at: T,
    updated_at: updatedAt,
    period_start: T,
    period_end: plan === "free" ? null : periodEnd,
    interval: "month",
    plan_id: PLANS[plan].id,
    plan: PLANS[plan],
    seats: { quantity: null },
  };
}

/** A standalone `subscriptionItem.<event>` delivery, its envelope timestamp `timestamp` (ms; default: the version). */
function item(
  event: string,
  id: string,
  plan: Plan,
  status: string,
  updatedAt: number,
  { periodEnd = AHEAD, timestamp }: { periodEnd?: number | null; timestamp?: number } = {},
): ClerkEvent {
  return {
    object: "event",
    type: `subscriptionItem.${event}`,
    timestamp: timestamp ?? updatedAt,
    data: {
      ...itemData(id, plan, status, updatedAt, periodEnd),
      payer: PAYER,
      subscription_id: "csub_1",
    },
  };
}

/** A `subscription.<event>` delivery with its nested items. */
function subscription(
  event: string,
  updatedAt: number,
  items: ReturnType<typeof itemData>[],
  timestamp = updatedAt,
): ClerkEvent {
  return {
    object: "event",
    type: `subscription.${event}`,
    timestamp,
    data: {
      object: "commerce_subscription",
      id: "csub_1",
      status: "active",
      created_at: T,
      updated_at: updatedAt,
      active_at: T,
      payer_id: PAYER.id,
      payer: PAYER,
      items: items.map((i) => ({ ...i, subscription_id: null })),
    },
  };
}

/** A payment attempt whose nested item claims `status` with a later version than any other event. */
function attempt(status: string): ClerkEvent {
  const base = example("paymentAttempt.created");
  const nested = {
    ...itemData("csub_item_pro", "pro", status, T + 99 * DAY, AHEAD),
    updated_at: T + 99 * DAY,
  };
  return { ...base, timestamp: T, data: { ...base.data, payer: PAYER, subscription_items: [nested] } };
}

type Step = [ClerkEvent, Outcome];
/** The view's answer: the plan's slug and status, or null (no plan). */
type Answer = { slug: string; status: string } | null;

const freeActive = item("active", "csub_item_free", "free", "active", T);
const freeUpcoming = item("upcoming", "csub_item_free", "free", "upcoming", T + 2500);
const freeAgain = item("active", "csub_item_free", "free", "active", T + 3000);
const proActive = item("active", "csub_item_pro", "pro", "active", T + 1000);
const proCanceled = item("canceled", "csub_item_pro", "pro", "canceled", T + 2000);
const proEnded = item("ended", "csub_item_pro", "pro", "ended", T + 3000);
const proCanceledPast = item("canceled", "csub_item_pro", "pro", "canceled", T + 2000, { periodEnd: T });

/** [what it shows, the deliveries in order with their outcomes, items left (id: status), the view's answer] */
const CASES: [string, Step[], Record<string, string>, Answer][] = [
  [
    "subscription.created and .active share a version: the later envelope wins the tie",
    [
      [subscription("created", T, [itemData("csub_item_free", "free", "active", T)], T), "applied"],
      [subscription("active", T, [itemData("csub_item_free", "free", "active", T)], T + 1), "applied"],
    ],
    { csub_item_free: "active" },
    { slug: "free", status: "active" },
  ],
  [
    "a tie that arrives after the later envelope is stale",
    [
      [subscription("active", T, [itemData("csub_item_free", "free", "active", T)], T + 1), "applied"],
      [subscription("created", T, [itemData("csub_item_free", "free", "active", T)], T), "stale"],
    ],
    { csub_item_free: "active" },
    { slug: "free", status: "active" },
  ],
  [
    "an older item event that arrives late is stale",
    [
      [freeActive, "applied"],
      [proCanceled, "applied"],
      [proActive, "stale"],
    ],
    { csub_item_free: "active", csub_item_pro: "canceled" },
    { slug: "pro", status: "canceled" },
  ],
  [
    "between the paid plan's end and the default plan's return there is no plan",
    [
      [proCanceled, "applied"],
      [freeUpcoming, "applied"],
      [proEnded, "applied"],
    ],
    { csub_item_free: "upcoming", csub_item_pro: "ended" },
    null,
  ],
  [
    "a canceled paid plan is in force until its period ends, then the default plan",
    [
      [freeActive, "applied"],
      [proActive, "applied"],
      [proCanceled, "applied"],
      [freeUpcoming, "applied"],
      [proEnded, "applied"],
      [freeAgain, "applied"],
    ],
    { csub_item_free: "active", csub_item_pro: "ended" },
    { slug: "free", status: "active" },
  ],
  [
    "a canceled plan whose period is over is not in force",
    [
      [freeActive, "applied"],
      [proCanceledPast, "applied"],
    ],
    { csub_item_free: "active", csub_item_pro: "canceled" },
    { slug: "free", status: "active" },
  ],
  [
    "an upcoming downgrade beside the active plan changes nothing yet",
    [
      [proActive, "applied"],
      [item("upcoming", "csub_item_basic", "basic", "upcoming", T + 2000), "applied"],
    ],
    { csub_item_basic: "upcoming", csub_item_pro: "active" },
    { slug: "pro", status: "active" },
  ],
  [
    "the default plan's item cycles active → ended → active under one id; status never orders",
    [
      [freeActive, "applied"],
      [item("ended", "csub_item_free", "free", "ended", T + 2000), "applied"],
      [freeAgain, "applied"],
      [item("ended", "csub_item_free", "free", "ended", T + 2000), "stale"],
    ],
    { csub_item_free: "active" },
    { slug: "free", status: "active" },
  ],
  [
    "nested items carry their own versions: a later standalone item event with an older one is stale",
    [
      [
        subscription("updated", T + 5000, [itemData("csub_item_pro", "pro", "active", T + 2000, AHEAD)]),
        "applied",
      ],
      [proActive, "stale"],
      [proCanceled, "stale"],
      [item("canceled", "csub_item_pro", "pro", "canceled", T + 2001), "applied"],
    ],
    { csub_item_pro: "canceled" },
    { slug: "pro", status: "canceled" },
  ],
  [
    "the items nested in a payment attempt never change an item",
    [
      [proCanceledPast, "applied"],
      [attempt("active"), "applied"],
    ],
    { csub_item_pro: "canceled" },
    null,
  ],
  [
    "both spellings of past due, and a new item type, are stored by their status",
    [
      [item("past_due", "csub_item_pro", "pro", "past_due", T + 1000), "applied"],
      [item("pastDue", "csub_item_basic", "basic", "past_due", T + 1000), "applied"],
      [item("somethingNew", "csub_item_free", "free", "active", T + 1000), "applied"],
    ],
    { csub_item_basic: "past_due", csub_item_free: "active", csub_item_pro: "past_due" },
    { slug: "free", status: "active" },
  ],
  [
    "a deleted user has no plan",
    [
      [proActive, "applied"],
      [deletedEvent(USER, T + 5000), "applied"],
    ],
    { csub_item_pro: "active" },
    null,
  ],
];

describe.each(await backends())("Clerk Billing on $name", (backend) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness(backend, { writer: { concurrency: 1 } });
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    await h.reset();
    await h.sync.database.query(
      "truncate billing_subscriptions, billing_subscription_items, billing_plans, billing_payment_attempts",
    );
  });

  const rows = (table: string, id: string) =>
    h.sync.database.query<Record<string, unknown>>(`select * from ${table} order by environment, ${id}`);
  const items = async () =>
    Object.fromEntries(
      (await rows("billing_subscription_items", "clerk_item_id")).map((r) => [r.clerk_item_id, r.status]),
    );
  const answer = async (environment?: "development" | "production"): Promise<Answer> => {
    const plan = await h.sync.getCurrentPlan({ userId: USER }, environment);
    return plan && { slug: plan.planSlug as string, status: plan.status };
  };

  it.each(CASES)("%s", async (_title, steps, left, plan) => {
    for (const [event, outcome] of steps) {
      const res = await h.post(event);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: outcome, environment: "development", type: event.type });
    }
    expect(await items()).toEqual(left);
    expect(await answer("development")).toEqual(plan);
    expect(await answer()).toEqual(plan);
    expect(await answer("production")).toBeNull();
  });

  it.each(CASES)("%s, also when they all commit in one transaction", async (_title, steps, left, plan) => {
    const answers = await Promise.all(steps.map(([event]) => h.post(event)));
    expect(answers.map((a) => a.body.status)).toEqual(steps.map(([, outcome]) => outcome));
    expect(await items()).toEqual(left);
    expect(await answer()).toEqual(plan);
  });

  it("applies Clerk's published examples: answers, rows, the log, the plan after each; a redelivery is a duplicate", async () => {
    const [created, active, canceled, ended, paid] = EXAMPLES.map(example) as [
      ClerkEvent,
      ClerkEvent,
      ClerkEvent,
      ClerkEvent,
      ClerkEvent,
    ];
    const user = "user_34D368EufHwugfYh4yyGNEheM0S";
    const post = async (event: ClerkEvent, status: Outcome, id?: string) => {
      const res = await h.post(event, { env: "production", ...(id ? { id } : {}) });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status, environment: "production", type: event.type });
    };
    const plan = async () => {
      const p = await h.sync.getCurrentPlan({ userId: user });
      return p && { slug: p.planSlug, status: p.status, periodEnd: p.periodEnd, environment: p.environment };
    };

    await post(created, "applied", "msg_billing_1");
    const sub = created.data as Record<string, unknown> & { items: Record<string, unknown>[] };
    expect(await rows("billing_subscriptions", "clerk_subscription_id")).toEqual([
      {
        clerk_subscription_id: sub.id,
        environment: "production",
        payer_id: sub.payer_id,
        clerk_user_id: user,
        clerk_org_id: null,
        status: "active",
        active_at: new Date(sub.active_at as number),
        canceled_at: null,
        ended_at: null,
        past_due_at: null,
        raw_payload: sub,
        clerk_created_at: new Date(sub.created_at as number),
        clerk_updated_at: new Date(sub.updated_at as number),
        clerk_event_at: new Date((created.timestamp as number) * 1000),
        created_at: expect.any(Date),
        updated_at: expect.any(Date),
      },
    ]);
    const nested = sub.items[0] as Record<string, unknown>;
    expect(await rows("billing_subscription_items", "clerk_item_id")).toEqual([
      {
        clerk_item_id: nested.id,
        environment: "production",
        clerk_subscription_id: sub.id,
        payer_id: sub.payer_id,
        clerk_user_id: user,
        clerk_org_id: null,
        plan_id: nested.plan_id,
        plan_slug: "pro-plan",
        status: "active",
        is_free_trial: false,
        interval: "month",
        period_start: new Date(nested.period_start as number),
        period_end: new Date(nested.period_end as number),
        seats: 5,
        raw_payload: nested,
        clerk_created_at: new Date(nested.created_at as number),
        clerk_updated_at: new Date(nested.updated_at as number),
        clerk_event_at: new Date((created.timestamp as number) * 1000),
        created_at: expect.any(Date),
        updated_at: expect.any(Date),
      },
    ]);
    // The example's period ended long ago: an active item is in force whatever its period says.
    expect(await plan()).toEqual({
      slug: "pro-plan",
      status: "active",
      periodEnd: new Date(nested.period_end as number),
      environment: "production",
    });

    await post(created, "duplicate", "msg_billing_1");
    // The same item at the same version and envelope time: nothing newer.
    await post(active, "stale");
    await post(canceled, "applied");
    expect(await items()).toEqual({ [nested.id as string]: "canceled" });
    // Canceled, and its period (2024) is over: no plan.
    expect(await plan()).toBeNull();
    await post(ended, "applied");
    expect(await items()).toEqual({ [nested.id as string]: "ended" });

    await post(paid, "applied");
    const attemptData = paid.data;
    expect(await rows("billing_payment_attempts", "clerk_payment_attempt_id")).toMatchObject([
      {
        clerk_payment_attempt_id: attemptData.id,
        payment_id: attemptData.payment_id,
        statement_id: attemptData.statement_id,
        status: "pending",
        charge_type: "recurring",
        clerk_user_id: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
        raw_payload: attemptData,
      },
    ]);
    // Its nested item says `active`: the item stays ended.
    expect(await items()).toEqual({ [nested.id as string]: "ended" });
    expect(
      (await h.deliveries()).map((d) => [d.event_type, d.outcome, d.clerk_user_id, d.environment]),
    ).toEqual([
      ["subscription.created", "applied", user, "production"],
      ["subscriptionItem.active", "stale", user, "production"],
      ["subscriptionItem.canceled", "applied", user, "production"],
      ["subscriptionItem.ended", "applied", user, "production"],
      ["paymentAttempt.created", "applied", "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "production"],
    ]);
  });

  it("answers for an organization, and never for a deleted one", async () => {
    const orgPayer = {
      object: "commerce_payer",
      id: "cpayer_org",
      user_id: "",
      organization_id: "org_billing",
    };
    const event = item("active", "csub_item_org", "pro", "active", T);
    const res = await h.post({ ...event, data: { ...event.data, payer: orgPayer } });
    expect(res.body).toMatchObject({ status: "applied" });
    expect(await rows("billing_subscription_items", "clerk_item_id")).toMatchObject([
      {
        clerk_item_id: "csub_item_org",
        payer_id: "cpayer_org",
        clerk_user_id: null,
        clerk_org_id: "org_billing",
      },
    ]);
    expect(await h.sync.getCurrentPlan({ organizationId: "org_billing" })).toMatchObject({
      clerkOrgId: "org_billing",
      clerkUserId: null,
      planSlug: "pro",
      status: "active",
      periodEnd: new Date(AHEAD),
      isDefault: false,
    });
    expect(await h.sync.getCurrentPlan({ userId: "org_billing" })).toBeNull();
    const deleted = {
      type: "organization.deleted",
      timestamp: T,
      data: { id: "org_billing", deleted: true },
    };
    expect((await h.post(deleted)).body).toMatchObject({ status: "applied" });
    expect(await h.sync.getCurrentPlan({ organizationId: "org_billing" })).toBeNull();
  });

  it("refuses a payer without a Clerk id with BadRequestError (bad_request), before any query", async () => {
    for (const payer of [{ userId: "" }, { organizationId: "" }, {} as { userId: string }]) {
      const refused = h.sync.getCurrentPlan(payer);
      await expect(refused).rejects.toBeInstanceOf(BadRequestError);
      await expect(refused).rejects.toMatchObject({ code: "bad_request" });
    }
  });

  it("exports the view as a typed Drizzle view that a query joins with the users (clerk-user-sync/schema)", async () => {
    expect((await h.post(userEvent("user.created", { id: USER }))).body).toMatchObject({ status: "applied" });
    await h.post(item("active", "csub_item_pro", "pro", "active", T));
    const joined = await h.sync.database.orm
      .select({ email: users.email, plan: billingCurrentPlans.planSlug, end: billingCurrentPlans.periodEnd })
      .from(users)
      .innerJoin(
        billingCurrentPlans,
        and(
          eq(billingCurrentPlans.environment, users.environment),
          eq(billingCurrentPlans.clerkUserId, users.clerkUserId),
        ),
      );
    expect(joined).toEqual([{ email: expect.any(String), plan: "pro", end: new Date(AHEAD) }]);
  });

  it("tells the default plan apart by billing_plans when it is stored", async () => {
    await h.post(freeActive);
    await h.post(item("active", "csub_item_basic", "basic", "active", T));
    expect(await answer()).toEqual({ slug: "basic", status: "active" });
    await h.sync.database.query(
      `insert into billing_plans (clerk_plan_id, environment, slug, is_default, raw_payload)
      values ('cplan_basic', 'development', 'basic', true, '{}'), ('cplan_free', 'development', 'free', false, '{}')`,
    );
    expect(await answer()).toEqual({ slug: "free", status: "active" });
  });

  it("labels the Billing types in /metrics; a type Clerk adds later counts as other", async () => {
    await h.post(item("past_due", "csub_item_pro", "pro", "past_due", T));
    await h.post(item("somethingNew", "csub_item_pro", "pro", "active", T + 1));
    await h.post(attempt("active"));
    const { body } = await h.app.inject({ method: "GET", url: "/metrics" });
    const count = (type: string) =>
      new RegExp(
        `^clerk_user_sync_deliveries_total\\{[^}]*type="${type.replace(".", "\\.")}"[^}]*\\} (\\d+)`,
        "m",
      ).exec(body)?.[1];
    expect(count("subscriptionItem.past_due")).toBeDefined();
    expect(count("paymentAttempt.created")).toBeDefined();
    expect(count("subscriptionItem.somethingNew")).toBeUndefined();
    expect(count("other")).toBeDefined();
  });

  it("refuses a Billing event without an id, and writes nothing", async () => {
    const res = await h.post({ type: "subscriptionItem.active", timestamp: T, data: { status: "active" } });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: "invalid_payload" });
    expect(await items()).toEqual({});
    expect(await h.deliveries()).toEqual([]);
  });
});
