import { and, count, desc, eq, gte, lt, sql } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { webhookDeliveries } from "../db/schema.js";
import type { Environment } from "../verify.js";
import { decodeCursor, encodeCursor } from "./cursor.js";

/** The outcomes the delivery log records. */
export const OUTCOMES = ["applied", "duplicate", "stale", "ignored"] as const;
export type DeliveryOutcome = (typeof OUTCOMES)[number];

/** One row of the delivery log, times as ISO 8601. */
export interface DeliveryEntry {
  receivedAt: string;
  environment: Environment;
  type: string;
  outcome: DeliveryOutcome;
  /** The Clerk user (or organization, membership) the event is about, when it names one. */
  subject: string | null;
  svixId: string;
  eventTimestamp: string | null;
}

/** Filters and position of {@link listDeliveries}. */
export interface DeliveryQuery {
  environment?: Environment | undefined;
  type?: string | undefined;
  outcome?: DeliveryOutcome | undefined;
  /** 1 to 200; 50 when omitted. */
  limit?: number | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

/** `received_at` as PostgreSQL prints it: microseconds, which a JavaScript `Date` would lose. */
const POSITION = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:?\d\d)?$/;

/**
 * The delivery log newest first, keyset-paginated on (received_at, environment, svix_id): stable while rows
 * arrive. A cursor it did not make: `bad_request`.
 */
export async function listDeliveries(
  db: Database,
  query: DeliveryQuery,
): Promise<{ deliveries: DeliveryEntry[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 200);
  const after = query.cursor
    ? decodeCursor<[string, string, string]>(query.cursor, 3, ([at]) => POSITION.test(at as string))
    : undefined;
  const d = webhookDeliveries;
  const rows = await db.orm
    .select({
      receivedAt: d.receivedAt,
      position: sql<string>`${d.receivedAt}::text`,
      environment: d.environment,
      type: d.eventType,
      outcome: d.outcome,
      subject: sql<string | null>`coalesce(${d.clerkUserId}, ${d.clerkOrgId}, ${d.clerkMembershipId})`,
      svixId: d.svixId,
      eventTimestamp: d.eventTimestamp,
    })
    .from(d)
    .where(
      and(
        query.environment ? eq(d.environment, query.environment) : undefined,
        query.type ? eq(d.eventType, query.type) : undefined,
        query.outcome ? eq(d.outcome, query.outcome) : undefined,
        after
          ? sql`(${d.receivedAt}, ${d.environment}, ${d.svixId}) < (${after[0]}::timestamptz, ${after[1]}::text, ${after[2]}::text)`
          : undefined,
      ),
    )
    .orderBy(desc(d.receivedAt), desc(d.environment), desc(d.svixId))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    deliveries: page.map(({ position: _, receivedAt, eventTimestamp, ...row }) => ({
      receivedAt: receivedAt.toISOString(),
      ...row,
      eventTimestamp: eventTimestamp?.toISOString() ?? null,
    })),
    nextCursor:
      rows.length > limit && last ? encodeCursor([last.position, last.environment, last.svixId]) : null,
  };
}

/** Deliveries received since `since`, by outcome, in buckets of `bucketMs` (keyed by their start, epoch ms). */
export async function countDeliveries(
  db: Database,
  since: Date,
  bucketMs: number,
): Promise<{ at: number; outcome: DeliveryOutcome; n: number }[]> {
  const d = webhookDeliveries;
  const rows = await db.orm
    .select({
      at: sql<string>`(floor(extract(epoch from ${d.receivedAt}) * 1000 / ${bucketMs}::bigint) * ${bucketMs}::bigint)::bigint::text`,
      outcome: d.outcome,
      n: count(),
    })
    .from(d)
    .where(gte(d.receivedAt, since))
    // By position: the bucket's expression carries parameters, which PostgreSQL cannot match in a GROUP BY.
    .groupBy(sql`1`, d.outcome);
  return rows.map((row) => ({ ...row, at: Number(row.at) }));
}

/** Deletes delivery-log rows received before `before`; returns how many. Tombstones stay. */
export async function pruneDeliveries(db: Database, before: Date): Promise<number> {
  const deleted = await db.orm
    .delete(webhookDeliveries)
    .where(lt(webhookDeliveries.receivedAt, before))
    .returning({ one: sql`1` });
  return deleted.length;
}
