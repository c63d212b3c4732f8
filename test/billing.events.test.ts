import { readFileSync } from "node:fs";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { billingPaymentAttempts, billingSubscriptionItems, billingSubscriptions } from "../src/db/schema.js";
import type { SyncEvent } from "../src/index.js";
import { backends } from "./support/backends.js";
import type { ClerkEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";

/** Clerk's published Billing examples (OpenAPI webhook spec), copied into test/fixtures/clerk. */
function example(name: string): ClerkEvent & { data: Record<string, unknown> } {
  return JSON.parse(readFileSync(new URL(`fixtures/clerk/${name}.openapi.json`, import.meta.url), "utf8"));
}

const SUBSCRIPTION = "csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S";
const ITEM = "csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S";
const ATTEMPT = "pa_2g7np7Hrk0SN6kj5EDMLDaKNL0S";
/** The examples' `updated_at`. */
const T = 1_716_883_200_000;

describe.each(await backends())("onEvent's Billing rows on $name", (backend) => {
  let h: Harness;
  /** Each event the hook received, with the item's status as another connection read it from inside the hook. */
  const seen: { event: SyncEvent; itemStatusReadInHook: unknown }[] = [];
  beforeAll(async () => {
    h = await openHarness(backend, {
      writer: { concurrency: 1 },
      onEvent: async (event) => {
        const [row] = await h.sync.database.query<{ status: string }>(
          "select status from billing_subscription_items where clerk_item_id = $1",
          [ITEM],
        );
        seen.push({ event, itemStatusReadInHook: row?.status ?? null });
      },
    });
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    await h.reset();
    await h.sync.database.query(
      "truncate billing_subscriptions, billing_subscription_items, billing_plans, billing_payment_attempts",
    );
    seen.length = 0;
  });

  const orm = () => h.sync.database.orm;
  const stored = {
    subscription: async () =>
      (
        await orm()
          .select()
          .from(billingSubscriptions)
          .where(eq(billingSubscriptions.clerkSubscriptionId, SUBSCRIPTION))
      )[0],
    item: async () =>
      (
        await orm()
          .select()
          .from(billingSubscriptionItems)
          .where(eq(billingSubscriptionItems.clerkItemId, ITEM))
      )[0],
    attempt: async () =>
      (
        await orm()
          .select()
          .from(billingPaymentAttempts)
          .where(eq(billingPaymentAttempts.clerkPaymentAttemptId, ATTEMPT))
      )[0],
  };

  it("a subscription event's hook gets the subscription and its items as committed, and no other row", async () => {
    const res = await h.post(example("subscription.created"));
    expect(res.body).toMatchObject({ status: "applied" });
    const subscription = await stored.subscription();
    const item = await stored.item();
    expect(subscription).toMatchObject({ status: "active", clerkUserId: "user_34D368EufHwugfYh4yyGNEheM0S" });
    expect(item).toMatchObject({ status: "active", clerkSubscriptionId: SUBSCRIPTION });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.event).toMatchObject({
      type: "subscription.created",
      outcome: "applied",
      clerkUserId: "user_34D368EufHwugfYh4yyGNEheM0S",
      clerkOrgId: null,
      user: null,
      organization: null,
      membership: null,
      billing: { subscription, items: [item], paymentAttempt: null },
    });
    // Committed before the hook ran: another connection already reads it.
    expect(seen[0]?.itemStatusReadInHook).toBe("active");
  });

  it("an item event's hook gets the item as committed, a newer stored state over the event's own", async () => {
    const canceled = example("subscriptionItem.active");
    canceled.type = "subscriptionItem.canceled";
    canceled.data = { ...canceled.data, status: "canceled", updated_at: T + 2000 };
    const late = example("subscriptionItem.active");
    expect((await h.post(canceled)).body).toMatchObject({ status: "applied" });
    expect((await h.post(late)).body).toMatchObject({ status: "stale" });
    const item = await stored.item();
    expect(item).toMatchObject({ status: "canceled" });
    expect(seen.map(({ event }) => [event.type, event.outcome, event.billing])).toEqual([
      ["subscriptionItem.canceled", "applied", { subscription: null, items: [item], paymentAttempt: null }],
      ["subscriptionItem.active", "stale", { subscription: null, items: [item], paymentAttempt: null }],
    ]);
    expect(seen.map((s) => s.itemStatusReadInHook)).toEqual(["canceled", "canceled"]);
  });

  it("a payment attempt's hook gets the attempt; its nested items are not the event's rows", async () => {
    const first = await h.post(example("paymentAttempt.created"));
    expect(first.body).toMatchObject({ status: "applied" });
    const attempt = await stored.attempt();
    expect(attempt).toMatchObject({
      status: "pending",
      amount: 2200,
      paymentId: "cpa_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    });
    expect(seen[0]?.event.billing).toEqual({ subscription: null, items: [], paymentAttempt: attempt });
    expect(seen[0]?.event.user).toBeNull();
  });

  it("a user event's hook has no Billing rows", async () => {
    await h.post(example("subscription.created"));
    seen.length = 0;
    await h.post({
      object: "event",
      type: "user.created",
      timestamp: T,
      data: { id: "user_34D368EufHwugfYh4yyGNEheM0S", updated_at: T },
    });
    expect(seen.map(({ event }) => [event.type, event.billing])).toEqual([["user.created", null]]);
  });
});
