import { getTableColumns } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { billingSubscriptionItems, organizations, users } from "../db/schema.js";
import { type Freshness, readFreshness } from "../freshness.js";
import { countDeliveries, OUTCOMES } from "../store/deliveries.js";
import { getOrganization, getOrganizationTombstone } from "../store/organizations.js";
import { getCurrentPlan, listSubscriptionItems, type Payer } from "../store/plans.js";
import { findUsers, getUserTombstone } from "../store/users.js";
import { iso } from "../time.js";
import type { Environment } from "../verify.js";
import type { RefusalLog } from "./refusals.js";

// The console's reads are the store's (src/store/): this module shapes them for its JSON API.

/** The chart's ranges: the last hour by minute, the last day by half hour. */
export const RANGES = {
  hour: { spanMs: 60 * 60_000, bucketMs: 60_000 },
  day: { spanMs: 24 * 60 * 60_000, bucketMs: 30 * 60_000 },
} as const;

/** One bar of the chart: deliveries stored, by outcome, and refusals, in the bucket starting at `at`. */
export type Bucket = { at: string; refused: number } & Record<(typeof OUTCOMES)[number], number>;

/** Deliveries by outcome (from the delivery log) and refusals (from the ring), bucket by bucket. */
export async function deliveryBuckets(
  db: Database,
  refusals: RefusalLog,
  range: keyof typeof RANGES,
  now: Date,
): Promise<{ bucketMs: number; buckets: Bucket[] }> {
  const { spanMs, bucketMs } = RANGES[range];
  const first = Math.floor((now.getTime() - spanMs) / bucketMs) * bucketMs + bucketMs;
  const rows = await countDeliveries(db, new Date(first), bucketMs);
  const buckets = new Map<number, Bucket>();
  for (let at = first; at <= now.getTime(); at += bucketMs) {
    buckets.set(at, {
      at: new Date(at).toISOString(),
      ...(Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<(typeof OUTCOMES)[number], number>),
      refused: 0,
    });
  }
  for (const row of rows) {
    const bucket = buckets.get(row.at);
    if (bucket) bucket[row.outcome] += row.n;
  }
  for (const [at, count] of refusals.countsSince(first, bucketMs)) {
    const bucket = buckets.get(at);
    if (bucket) bucket.refused += count;
  }
  return { bucketMs, buckets: [...buckets.values()] };
}

/** A payer's Billing as the console shows it: the plan in force now, and its subscription items. */
export interface PayerBilling {
  plan: Record<string, unknown> | null;
  /** Every column but `raw_payload`, newest first. */
  items: Record<string, unknown>[];
}

/**
 * Users matching a Clerk id or an email in one environment, every column, the tombstone of a deleted one, and each
 * user's Billing by Clerk user id.
 */
export async function lookUpUser(
  db: Database,
  environment: Environment,
  key: string,
): Promise<{
  users: Record<string, unknown>[];
  tombstone: { deletedAt: string } | null;
  billing: Record<string, PayerBilling>;
}> {
  const [found, tombstone] = await Promise.all([
    findUsers(db, environment, key),
    getUserTombstone(db, { clerkUserId: key, environment }),
  ]);
  const billing = await Promise.all(
    found.map(async (u) => [u.clerkUserId, await payerBilling(db, { userId: u.clerkUserId }, environment)]),
  );
  return {
    users: found.map((row) => byColumnName(getTableColumns(users), row)),
    tombstone: tombstone ? { deletedAt: tombstone.deletedAt.toISOString() } : null,
    billing: Object.fromEntries(billing),
  };
}

/** An organization by Clerk id in one environment, every column, its tombstone when deleted, and its Billing. */
export async function lookUpOrganization(
  db: Database,
  environment: Environment,
  clerkOrgId: string,
): Promise<{
  organizations: Record<string, unknown>[];
  tombstone: { deletedAt: string } | null;
  billing: Record<string, PayerBilling>;
}> {
  const [found, tombstone] = await Promise.all([
    getOrganization(db, { clerkOrgId, environment }),
    getOrganizationTombstone(db, { clerkOrgId, environment }),
  ]);
  return {
    organizations: found ? [byColumnName(getTableColumns(organizations), found)] : [],
    tombstone: tombstone ? { deletedAt: tombstone.deletedAt.toISOString() } : null,
    billing: found
      ? { [clerkOrgId]: await payerBilling(db, { organizationId: clerkOrgId }, environment) }
      : {},
  };
}

async function payerBilling(db: Database, payer: Payer, environment: Environment): Promise<PayerBilling> {
  const [plan, items] = await Promise.all([
    getCurrentPlan(db, payer, environment),
    listSubscriptionItems(db, payer, environment),
  ]);
  const columns = getTableColumns(billingSubscriptionItems);
  return {
    plan: plan ? byColumnName({}, { ...plan }) : null,
    items: items.map(({ rawPayload: _, ...item }) => byColumnName(columns, item)),
  };
}

/**
 * A row as the table (or the view) names its columns, `clerk_user_id` rather than `clerkUserId`, times as ISO 8601:
 * the names an operator queries by.
 */
function byColumnName(
  columns: Record<string, { name: string }>,
  row: Record<string, unknown>,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([key, value]) => [
      columns[key]?.name ?? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      value instanceof Date ? iso(value) : value,
    ]),
  );
}

/** How long an instance with users may go without a delivery before the console warns, by default: 6 hours. */
export const STALE_AFTER_MS = 6 * 60 * 60_000;

/** One instance's freshness as the console shows it: {@link Freshness}, and whether to warn. */
export interface InstanceFreshness extends Freshness {
  /** The instance has users and its newest delivery is older than the threshold, or there is none. */
  stale: boolean;
}

/**
 * Each instance's last delivery and last reconcile, read from the database, and whether the last delivery is older
 * than `staleAfterMs` at `now` while the instance has users (a disabled endpoint looks exactly like this).
 */
export async function instanceFreshness(
  db: Database,
  now: Date,
  staleAfterMs: number,
  users?: Record<Environment, number>,
): Promise<Record<Environment, InstanceFreshness>> {
  const all = await readFreshness(db, users);
  const judged = (f: Freshness): InstanceFreshness => ({
    ...f,
    stale:
      f.users > 0 && (f.lastDelivery === null || now.getTime() - Date.parse(f.lastDelivery) > staleAfterMs),
  });
  return { development: judged(all.development), production: judged(all.production) };
}
