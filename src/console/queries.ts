import { getTableColumns } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { users } from "../db/schema.js";
import { type Freshness, readFreshness } from "../freshness.js";
import { countDeliveries, OUTCOMES } from "../store/deliveries.js";
import { findUsers, getUserTombstone } from "../store/users.js";
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

/** Users matching a Clerk id or an email in one environment, every column, and the tombstone of a deleted one. */
export async function lookUpUser(
  db: Database,
  environment: Environment,
  key: string,
): Promise<{ users: Record<string, unknown>[]; tombstone: { deletedAt: string } | null }> {
  const [found, tombstone] = await Promise.all([
    findUsers(db, environment, key),
    getUserTombstone(db, { clerkUserId: key, environment }),
  ]);
  return {
    users: found.map((row) => byColumnName(USER_COLUMNS, row)),
    tombstone: tombstone ? { deletedAt: tombstone.deletedAt.toISOString() } : null,
  };
}

const USER_COLUMNS = getTableColumns(users);

/** A row as the table names its columns (`clerk_user_id`, not `clerkUserId`), times as ISO 8601. */
function byColumnName(
  columns: Record<string, { name: string }>,
  row: Record<string, unknown>,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([key, value]) => [
      columns[key]?.name ?? key,
      value instanceof Date ? value.toISOString() : value,
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
): Promise<Record<Environment, InstanceFreshness>> {
  const all = await readFreshness(db);
  const judged = (f: Freshness): InstanceFreshness => ({
    ...f,
    stale:
      f.users > 0 && (f.lastDelivery === null || now.getTime() - Date.parse(f.lastDelivery) > staleAfterMs),
  });
  return { development: judged(all.development), production: judged(all.production) };
}
