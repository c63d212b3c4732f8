import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { type ClerkEvent, deletedEvent } from "./fixtures.js";
import type { Delivery, Env } from "./histories.js";

/**
 * Clerk Billing histories for the property test, and the model they are checked against: each object's row is its
 * greatest (version, envelope time) event's; a payment attempt's nested items change nothing; the plan in force is
 * an active item, or a canceled one inside its period, a paid plan before the default one, none for a deleted
 * payer. Versions come from a small set so that ties are common; every event has its own envelope time, so that
 * (version, envelope time) names one event.
 */

const T = 1_700_000_000_000;
/** A period end already over, and one still ahead whenever the suite runs. */
const PAST = T - 86_400_000;
const AHEAD = Date.now() + 30 * 86_400_000;

const PLANS = {
  free: { id: "cplan_free", slug: "free", is_recurring: false, amount: 0 },
  pro: { id: "cplan_pro", slug: "pro", is_recurring: true, amount: 2000 },
  basic: { id: "cplan_basic", slug: "basic", is_recurring: true, amount: 900 },
} as const;
type Plan = keyof typeof PLANS;
const PLAN_NAMES = Object.keys(PLANS) as Plan[];

/** `updated_at` as sent: 0 and missing (`undefined`) fall back to the envelope's time. */
const version = fc.constantFrom<number | undefined>(0, undefined, T, T + 1000, T + 2000, T + 3000);
const periodEnd = fc.constantFrom<number | null>(null, PAST, AHEAD);
const ITEM_STATUSES = ["active", "canceled", "ended", "upcoming", "past_due", "abandoned", "incomplete"];
/** Every item event type Clerk has sent, both past-due spellings, and one it may add. */
const ITEM_TYPES = [
  "created",
  "updated",
  "active",
  "canceled",
  "ended",
  "upcoming",
  "abandoned",
  "incomplete",
  "pastDue",
  "past_due",
  "freeTrialEnding",
  "somethingNew",
];
const SUBSCRIPTION_TYPES = ["created", "updated", "active", "pastDue", "past_due"];

/** One payer (a user or an organization) of one instance, with its subscription, items and payment attempts. */
export interface Payer {
  env: Env;
  kind: "user" | "org";
  /** `user_…` or `org_…`. */
  clerkId: string;
  deleted: boolean;
}

/** One Billing event as generated, before its envelope time is known. */
type Draft =
  | { kind: "subscription"; type: string; v: number | undefined; status: string; items: ItemState[] }
  | ({ kind: "item"; type: string } & ItemState)
  | { kind: "attempt"; type: string; n: number; v: number | undefined; status: string; nested: ItemState[] };

interface ItemState {
  plan: Plan;
  v: number | undefined;
  status: string;
  periodEnd: number | null;
}

const itemState = (plan: Plan) =>
  fc.record({ plan: fc.constant(plan), v: version, status: fc.constantFrom(...ITEM_STATUSES), periodEnd });

const draft: fc.Arbitrary<Draft> = fc.oneof(
  fc.record({
    kind: fc.constant("subscription" as const),
    type: fc.constantFrom(...SUBSCRIPTION_TYPES),
    v: version,
    status: fc.constantFrom("active", "past_due", "incomplete", "canceled", "ended"),
    items: fc.subarray(PLAN_NAMES).chain((plans) => fc.tuple(...plans.map(itemState))),
  }),
  fc
    .record({ type: fc.constantFrom(...ITEM_TYPES), state: fc.constantFrom(...PLAN_NAMES).chain(itemState) })
    .map(({ type, state }) => ({ kind: "item" as const, type, ...state })),
  fc.record({
    kind: fc.constant("attempt" as const),
    type: fc.constantFrom("created", "updated"),
    n: fc.nat(1),
    v: version,
    status: fc.constantFrom("pending", "paid", "failed"),
    // What a payment attempt says of the items it charges, with a version above every other: never applied.
    nested: fc.subarray(PLAN_NAMES).chain((plans) => fc.tuple(...plans.map(itemState))),
  }),
);

/** Billing events of `min`–`max` payers, plus the delete of each payer that is deleted. */
export interface BillingWorld {
  payers: Payer[];
  /** Every event once, each with its own svix-id, in no particular order. */
  deliveries: Delivery[];
}

export function billingWorlds(min: number, max: number): fc.Arbitrary<BillingWorld> {
  const payer = fc.record({
    n: fc.nat(3),
    env: fc.constantFrom<Env>("development", "production"),
    kind: fc.constantFrom<"user" | "org">("user", "org"),
    // One payer in four is deleted.
    deleted: fc.nat(3).map((n) => n === 0),
    drafts: fc.array(draft, { minLength: 1, maxLength: 8 }),
  });
  return fc
    .uniqueArray(payer, { minLength: min, maxLength: max, selector: (p) => `${p.env}:${p.kind}${p.n}` })
    .chain((list) => {
      const count = list.reduce((sum, p) => sum + p.drafts.length + 1, 0);
      return fc
        .uniqueArray(fc.integer({ min: 0, max: 4000 }), { minLength: count, maxLength: count })
        .map((offsets) => build(list, offsets));
    });
}

function build(
  list: { n: number; env: Env; kind: "user" | "org"; deleted: boolean; drafts: Draft[] }[],
  offsets: number[],
): BillingWorld {
  const times = offsets.map((offset) => T + offset);
  const payers: Payer[] = [];
  const deliveries: Delivery[] = [];
  for (const { n, env, kind, deleted, drafts } of list) {
    const p: Payer = { env, kind, clerkId: `${kind}_bprop${n}`, deleted };
    payers.push(p);
    for (const d of drafts)
      deliveries.push({ event: billingEvent(p, d, times.pop() as number), env, id: svixId() });
    const at = times.pop() as number;
    if (deleted) deliveries.push({ event: deleteEvent(p, at), env, id: svixId() });
  }
  return { payers, deliveries };
}

const payerObject = (p: Payer) => ({
  object: "commerce_payer",
  id: `cpayer_${p.clerkId}`,
  user_id: p.kind === "user" ? p.clerkId : "",
  organization_id: p.kind === "org" ? p.clerkId : "",
});

/** An item object as Clerk nests it in a subscription or a payment attempt (no payer, no subscription id). */
function itemObject(p: Payer, s: ItemState) {
  return {
    object: "commerce_subscription_item",
    id: `csub_item_${p.clerkId}_${s.plan}`,
    status: s.status,
    plan_id: PLANS[s.plan].id,
    plan: PLANS[s.plan],
    interval: "month",
    is_free_trial: false,
    created_at: T,
    ...(s.v === undefined ? {} : { updated_at: s.v }),
    period_start: T,
    period_end: s.plan === "free" ? null : s.periodEnd,
  };
}

function billingEvent(p: Payer, d: Draft, timestamp: number): ClerkEvent {
  const updated = (v: number | undefined) => (v === undefined ? {} : { updated_at: v });
  const envelope = { object: "event", timestamp, type: "" };
  if (d.kind === "item") {
    const data = { ...itemObject(p, d), payer: payerObject(p), subscription_id: `csub_${p.clerkId}` };
    return { ...envelope, type: `subscriptionItem.${d.type}`, data };
  }
  if (d.kind === "attempt") {
    const data = {
      object: "commerce_payment_attempt",
      id: `pa_${p.clerkId}_${d.n}`,
      payment_id: `cpa_${p.clerkId}_${d.n}`,
      status: d.status,
      charge_type: "recurring",
      created_at: T,
      ...updated(d.v),
      payer: payerObject(p),
      totals: { grand_total: { amount: 2200, currency: "USD" } },
      subscription_items: d.nested.map((s) => ({ ...itemObject(p, s), updated_at: T + 9000 })),
    };
    return { ...envelope, type: `paymentAttempt.${d.type}`, data };
  }
  const data = {
    object: "commerce_subscription",
    id: `csub_${p.clerkId}`,
    status: d.status,
    created_at: T,
    ...updated(d.v),
    payer_id: `cpayer_${p.clerkId}`,
    payer: payerObject(p),
    items: d.items.map((s) => itemObject(p, s)),
  };
  return { ...envelope, type: `subscription.${d.type}`, data };
}

function deleteEvent(p: Payer, timestamp: number): ClerkEvent {
  if (p.kind === "user") return deletedEvent(p.clerkId, timestamp);
  return {
    object: "event",
    type: "organization.deleted",
    timestamp,
    data: { object: "organization", id: p.clerkId, deleted: true },
  };
}

function svixId(): string {
  return `msg_${randomUUID().replaceAll("-", "")}`;
}

/** A stored Billing row as the queries below read it. */
export interface ExpectedRow {
  environment: Env;
  id: string;
  status: string | null;
  clerk_updated_at: Date;
  clerk_event_at: Date;
  raw_payload: Record<string, unknown>;
}

/** The plan in force for one payer, as {@link PLANS_AS_EXPECTED} reads it. */
export interface ExpectedPlan {
  environment: Env;
  clerk_user_id: string | null;
  clerk_org_id: string | null;
  clerk_item_id: string;
  status: string;
  is_default: boolean;
}

type Table = "subscriptions" | "items" | "attempts";

/** One object an event writes, as the model sees it. */
interface Written {
  table: Table;
  row: ExpectedRow;
  /** The svix-id of the event that carries it. */
  svixId: string;
}

/** The objects one event writes: a subscription and its items, an item, or an attempt (its nested items: none). */
function written(d: Delivery): Written[] {
  const { type, timestamp, data } = d.event as ClerkEvent & { timestamp: number };
  if (!type.startsWith("subscription") && !type.startsWith("paymentAttempt.")) return [];
  const row = (object: Record<string, unknown>, fallback: number): ExpectedRow => ({
    environment: d.env,
    id: object.id as string,
    status: object.status as string,
    clerk_updated_at: new Date((object.updated_at as number | undefined) || fallback),
    clerk_event_at: new Date(timestamp),
    raw_payload: object,
  });
  const at = (table: Table, object: Record<string, unknown>) => ({
    table,
    row: row(object, timestamp),
    svixId: d.id,
  });
  if (type.startsWith("subscriptionItem.")) return [at("items", data)];
  if (type.startsWith("paymentAttempt.")) return [at("attempts", data)];
  return [at("subscriptions", data), ...(data.items as Record<string, unknown>[]).map((i) => at("items", i))];
}

/**
 * What the tables hold whatever the order: each object's row from its greatest (version, envelope time) event; the
 * svix-ids of the events that carry a stored row (each must have been answered `applied`); the plan in force per
 * payer, as the set of items that rank first (equal ranks may be listed in either order by the view).
 */
export function expectedBilling(world: BillingWorld) {
  const newest = new Map<string, Written>();
  for (const w of world.deliveries.flatMap(written)) {
    const key = `${w.table}:${w.row.environment}:${w.row.id}`;
    const held = newest.get(key);
    if (held === undefined || compare(rank(w.row), rank(held.row)) > 0) newest.set(key, w);
  }
  const all = [...newest.values()];
  const rows = (table: Table) =>
    all
      .filter((w) => w.table === table)
      .map((w) => w.row)
      .sort((a, b) => a.environment.localeCompare(b.environment) || (a.id < b.id ? -1 : 1));
  return {
    subscriptions: rows("subscriptions"),
    items: rows("items"),
    attempts: rows("attempts"),
    mustBeApplied: new Set(all.map((w) => w.svixId)),
    plans: world.payers.flatMap((p) => planInForce(p, rows("items"))),
  };
}

/** An object's order: its version, then its event's envelope time. */
function rank(row: ExpectedRow): number[] {
  return [row.clerk_updated_at.getTime(), row.clerk_event_at.getTime()];
}

/** Lexicographic order of two lists of numbers of one length. */
function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
}

/** The candidates for a payer's plan in force: none when deleted; else its best-ranked items. */
function planInForce(p: Payer, items: ExpectedRow[]): { payer: Payer; candidates: ExpectedPlan[] }[] {
  if (p.deleted) return [];
  const inForce = items
    .filter((r) => r.environment === p.env && r.id.startsWith(`csub_item_${p.clerkId}_`))
    .filter((r) => {
      const end = r.raw_payload.period_end as number | null;
      return r.status === "active" || (r.status === "canceled" && (end === null || end > Date.now()));
    })
    .map((r) => {
      const plan = r.raw_payload.plan as { is_recurring: boolean };
      const end = r.raw_payload.period_end as number | null;
      // The view's order: paid first, active first, the latest end first (none before any), the newest first.
      const key = [
        plan.is_recurring ? 0 : 1,
        r.status === "active" ? 0 : 1,
        -(end ?? Number.POSITIVE_INFINITY),
        -r.clerk_updated_at.getTime(),
      ];
      return { r, key };
    });
  if (inForce.length === 0) return [];
  const best = inForce.reduce((a, b) => (compare(a.key, b.key) <= 0 ? a : b)).key;
  const candidates = inForce
    .filter((x) => compare(x.key, best) === 0)
    .map(({ r }) => ({
      environment: p.env,
      clerk_user_id: p.kind === "user" ? p.clerkId : null,
      clerk_org_id: p.kind === "org" ? p.clerkId : null,
      clerk_item_id: r.id,
      status: r.status as string,
      is_default: !(r.raw_payload.plan as { is_recurring: boolean }).is_recurring,
    }));
  return [{ payer: p, candidates }];
}

const rowsOf = (table: string, id: string) => `select environment, ${id} as id, status, clerk_updated_at,
  clerk_event_at, raw_payload from ${table} order by environment, ${id} collate "C"`;

/** The Billing tables read in the shape of {@link ExpectedRow}, ordered like {@link expectedBilling}. */
export const BILLING_AS_EXPECTED = {
  subscriptions: rowsOf("billing_subscriptions", "clerk_subscription_id"),
  items: rowsOf("billing_subscription_items", "clerk_item_id"),
  attempts: rowsOf("billing_payment_attempts", "clerk_payment_attempt_id"),
};

/** `billing_current_plans` in the shape of {@link ExpectedPlan}. */
export const PLANS_AS_EXPECTED = `select environment, clerk_user_id, clerk_org_id, clerk_item_id, status, is_default
  from billing_current_plans order by environment, coalesce(clerk_user_id, clerk_org_id) collate "C"`;
