import type { FakeObject } from "./fake-clerk.js";

/**
 * Clerk Billing objects as the Backend API (version 2026-05-12) returns them, field for field from its OpenAPI
 * spec (`CommercePlan`, `CommerceSubscriptionItem`, `CommerceSubscription`): snake case, times in Unix ms, nulls
 * (not `""`) for the payer's unused side, no `subscription_id` on an item.
 */

const T0 = 1_700_000_000_000;
const INSTANCE = "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S";

function money(amount: number) {
  return { amount, amount_formatted: `$${(amount / 100).toFixed(2)}`, currency: "USD", currency_symbol: "$" };
}

/** A plan (`cplan_<slug>`): the default free plan when `isDefault`. Plans carry no `created_at`/`updated_at`. */
export function fakePlan(
  slug: string,
  {
    isDefault = false,
    amount = isDefault ? 0 : 2000,
    payerType = "user",
  }: { isDefault?: boolean; amount?: number; payerType?: "user" | "org" } = {},
): Record<string, unknown> & { id: string } {
  return {
    object: "commerce_plan",
    id: `cplan_${slug}`,
    name: slug[0]?.toUpperCase() + slug.slice(1),
    slug,
    description: null,
    is_default: isDefault,
    is_recurring: !isDefault,
    has_base_fee: amount > 0,
    publicly_visible: true,
    fee: money(amount),
    annual_fee: money(amount * 10),
    annual_monthly_fee: money(Math.round((amount * 10) / 12)),
    for_payer_type: payerType,
    features: [],
    free_trial_days: null,
    free_trial_enabled: false,
    avatar_url: null,
  };
}

/** Who pays: a user's or an organization's id. */
export type FakePayer = { userId: string } | { organizationId: string };

function payerOf(payer: FakePayer) {
  const id = "userId" in payer ? payer.userId : payer.organizationId;
  return {
    object: "commerce_payer",
    id: `cpayer_${id}`,
    instance_id: INSTANCE,
    user_id: "userId" in payer ? payer.userId : null,
    organization_id: "organizationId" in payer ? payer.organizationId : null,
    organization_name: "organizationId" in payer ? "Org" : null,
    first_name: "userId" in payer ? "Test" : null,
    last_name: "userId" in payer ? "User" : null,
    email: "test@example.com",
    image_url: "https://img.clerk.com/xxxxxx",
    created_at: T0,
    updated_at: T0,
  };
}

/**
 * A subscription item (`csub_item_<n>`) of `payer` on `plan`, `updated_at` T0 + `version` ms; the default plan's
 * has no period end. `withPayer: false` leaves the optional `payer` out (the list may omit it).
 */
export function fakeItem(
  n: number,
  payer: FakePayer,
  plan: Record<string, unknown> & { id: string },
  {
    status = "active",
    version = n,
    periodEnd = Date.now() + 30 * 86_400_000,
    withPayer = true,
  }: { status?: string; version?: number; periodEnd?: number | null; withPayer?: boolean } = {},
): FakeObject {
  const free = plan.is_default === true;
  return {
    object: "commerce_subscription_item",
    id: `csub_item_${String(n).padStart(4, "0")}`,
    instance_id: INSTANCE,
    status,
    plan_id: plan.id,
    plan_period: "month",
    payer_id: payerOf(payer).id,
    is_free_trial: false,
    period_start: T0,
    period_end: free ? null : periodEnd,
    canceled_at: status === "canceled" ? T0 + version : null,
    past_due_at: null,
    ended_at: status === "ended" ? T0 + version : null,
    created_at: T0 + n,
    updated_at: T0 + version,
    plan,
    ...(withPayer ? { payer: payerOf(payer) } : {}),
    seats: { quantity: null },
    lifetime_paid: money(0),
    next_payment: null,
  };
}

/** `payer`'s subscription (`csub_<id>`), its items nested in `subscription_items`, `updated_at` T0 + `version`. */
export function fakeSubscription(payer: FakePayer, items: FakeObject[], version = 1): FakeObject {
  const id = "userId" in payer ? payer.userId : payer.organizationId;
  return {
    object: "commerce_subscription",
    id: `csub_${id}`,
    instance_id: INSTANCE,
    status: "active",
    payer_id: payerOf(payer).id,
    created_at: T0,
    updated_at: T0 + version,
    active_at: T0,
    past_due_at: null,
    subscription_items: items.map(({ payer: _, ...item }) => item),
    next_payment: null,
    eligible_for_free_trial: false,
  };
}
