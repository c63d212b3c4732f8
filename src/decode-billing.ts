import { InvalidPayloadError } from "./errors.js";
import { isObject, text } from "./fields.js";
import { millis } from "./time.js";

/**
 * Clerk Billing events, read defensively: Billing's API is still experimental and its payloads have changed shape
 * (docs/billing.md). Every field is optional here; what is kept whole is the object's payload.
 */

/**
 * One Billing object to write: its id, its version (`v`: its `updated_at`, or the event's time when that is 0 or
 * missing), its creation time (`c`), its columns by name (`src/store/billing.ts` lists them), its payload (`raw`).
 */
export type BillingObject = {
  id: string;
  v: number;
  c: number | null;
  raw: Record<string, unknown>;
} & Record<string, unknown>;

/**
 * The objects one Billing event writes, by table.
 *
 * @example
 * ```ts
 * const delivery = decode(verified);
 * if (delivery.resource === "billing") delivery.billing.items.map((item) => item.status);
 * ```
 */
export interface BillingObjects {
  subscriptions: BillingObject[];
  items: BillingObject[];
  paymentAttempts: BillingObject[];
}

/** The payer's ids in an event's `data`: Clerk sends `""` (webhooks) or null (Backend API) for the unused side. */
interface PayerIds {
  payerId: string | null;
  clerkUserId: string | null;
  clerkOrgId: string | null;
}

/** Whether `type` is a Billing event: any type of its three objects, known or new. */
export function isBillingType(type: string): boolean {
  return PREFIXES.some((prefix) => type.startsWith(prefix) && type.length > prefix.length);
}

const PREFIXES = ["subscription.", "subscriptionItem.", "paymentAttempt."];

/**
 * The objects a Billing event writes. A subscription event writes the subscription and each of its nested
 * `items[]` with its own version (an item without one takes the event's time); the items nested in a payment
 * attempt are another, older shape without versions and never change an item. Throws {@link InvalidPayloadError}
 * when neither the object nor the envelope gives a version.
 */
export function billingObjects(
  type: string,
  data: Record<string, unknown>,
  eventTime: number | null,
): BillingObjects {
  const version = versionOf(data, eventTime);
  if (version === null) {
    throw new InvalidPayloadError(
      `a ${type} event needs \`data.updated_at\` (or the envelope's \`timestamp\`)`,
    );
  }
  const payer = payerOf(data);
  if (type.startsWith("subscriptionItem."))
    return { subscriptions: [], items: [item(data, version, payer, null)], paymentAttempts: [] };
  if (type.startsWith("paymentAttempt."))
    return { subscriptions: [], items: [], paymentAttempts: [attempt(data, version, payer)] };
  const nested = Array.isArray(data.items) ? data.items.filter(hasId) : [];
  const items = nested.map((entry) =>
    item(entry, versionOf(entry, eventTime) ?? version, payer, data.id as string),
  );
  return { subscriptions: [subscription(data, version, payer)], items, paymentAttempts: [] };
}

/**
 * The objects a subscription read from the Backend API writes (`GET /v1/{users|organizations}/{id}/billing/subscription`):
 * the subscription and each of its nested `subscription_items` (`items` in older versions), each with its own
 * {@link listedVersion}. The API's subscription names no payer beyond `payer_id`: `owner` is whom it was asked for.
 */
export function listedSubscription(
  data: Record<string, unknown>,
  owner: { clerkUserId: string | null; clerkOrgId: string | null },
): BillingObjects {
  const payer = { ...payerOf(data), ...owner };
  const nested = [data.subscription_items, data.items].find(Array.isArray) ?? [];
  const items = nested
    .filter(hasId)
    .map((entry) => item(entry, listedVersion(entry), payer, data.id as string));
  return { subscriptions: [subscription(data, listedVersion(data), payer)], items, paymentAttempts: [] };
}

/**
 * A subscription item from the Backend API's instance-wide list: it names its payer (`payer`, when sent, and
 * `payer_id`) but not its subscription, which a stored row keeps.
 */
export function listedItem(data: Record<string, unknown> & { id: string }): BillingObject {
  return item(data, listedVersion(data), payerOf(data), null);
}

/**
 * A listed object's version: its `updated_at`; else (the API's item may omit it) its `created_at`, else 0. A listed
 * object carries no envelope, so no event time: a stored state of the same version keeps its place.
 */
export function listedVersion(data: Record<string, unknown>): number {
  return millis(data.updated_at) || millis(data.created_at) || 0;
}

/** A Billing plan's row (`GET /v1/billing/plans`): plans have no version and no events; the list is the truth. */
export function planFields(data: Record<string, unknown> & { id: string }): Record<string, unknown> {
  return {
    id: data.id,
    raw: data,
    slug: text(data.slug),
    name: text(data.name),
    is_default: typeof data.is_default === "boolean" ? data.is_default : null,
    for_payer_type: text(data.for_payer_type),
  };
}

/** The payer an event's object names (`payer.user_id` or `payer.organization_id`, `payer_id` or `payer.id`). */
export function payerOf(data: Record<string, unknown>): PayerIds {
  const payer = isObject(data.payer) ? data.payer : {};
  return {
    payerId: id(data.payer_id) ?? id(payer.id),
    clerkUserId: id(payer.user_id),
    clerkOrgId: id(payer.organization_id),
  };
}

function subscription(data: Record<string, unknown>, v: number, payer: PayerIds): BillingObject {
  return {
    id: data.id as string,
    v,
    c: instant(data.created_at),
    raw: data,
    payer_id: payer.payerId,
    clerk_user_id: payer.clerkUserId,
    clerk_org_id: payer.clerkOrgId,
    status: text(data.status),
    active_at: instant(data.active_at),
    canceled_at: instant(data.canceled_at),
    ended_at: instant(data.ended_at),
    past_due_at: instant(data.past_due_at),
  };
}

/** An item, standalone or nested in its subscription (`parent`: then its payer and subscription are the parent's). */
function item(
  data: Record<string, unknown>,
  v: number,
  parentPayer: PayerIds,
  parent: string | null,
): BillingObject {
  const own = payerOf(data);
  const payer =
    own.clerkUserId !== null || own.clerkOrgId !== null ? own : { ...parentPayer, ...defined(own) };
  const plan = isObject(data.plan) ? data.plan : {};
  const seats = isObject(data.seats) ? data.seats.quantity : null;
  return {
    id: data.id as string,
    v,
    c: instant(data.created_at),
    raw: data,
    clerk_subscription_id: id(data.subscription_id) ?? parent,
    payer_id: payer.payerId,
    clerk_user_id: payer.clerkUserId,
    clerk_org_id: payer.clerkOrgId,
    plan_id: id(data.plan_id) ?? id(plan.id),
    plan_slug: text(plan.slug),
    status: text(data.status),
    is_free_trial: typeof data.is_free_trial === "boolean" ? data.is_free_trial : null,
    interval: text(data.interval) ?? text(data.plan_period),
    period_start: instant(data.period_start),
    // A default plan's item had a negative `period_end` before Clerk sent null: both mean no end.
    period_end: instant(data.period_end),
    seats: Number.isSafeInteger(seats) ? seats : null,
  };
}

function attempt(data: Record<string, unknown>, v: number, payer: PayerIds): BillingObject {
  const totals = isObject(data.totals) ? data.totals : {};
  const total = isObject(totals.grand_total) ? totals.grand_total : {};
  return {
    id: data.id as string,
    v,
    c: instant(data.created_at),
    raw: data,
    payment_id: id(data.payment_id),
    statement_id: id(data.statement_id),
    payer_id: payer.payerId,
    clerk_user_id: payer.clerkUserId,
    clerk_org_id: payer.clerkOrgId,
    status: text(data.status),
    charge_type: text(data.charge_type) ?? text(data.type),
    amount: Number.isSafeInteger(total.amount) ? total.amount : null,
    currency: text(total.currency),
    paid_at: instant(data.paid_at),
    failed_at: instant(data.failed_at),
  };
}

/** `updated_at`, unless 0 or missing (older Backend API versions sent 0): then the event's time. */
function versionOf(data: Record<string, unknown>, eventTime: number | null): number | null {
  return millis(data.updated_at) || eventTime;
}

/** A time in Unix milliseconds; 0 and negative values (Clerk's old "no end") are none. */
function instant(value: unknown): number | null {
  return millis(value) || null;
}

function defined(payer: PayerIds): Partial<PayerIds> {
  return Object.fromEntries(Object.entries(payer).filter(([, value]) => value !== null));
}

function hasId(value: unknown): value is Record<string, unknown> & { id: string } {
  return isObject(value) && typeof value.id === "string" && value.id !== "";
}

function id(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}
