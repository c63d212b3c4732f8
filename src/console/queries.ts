import type { Database } from "../db/database.js";
import { type Freshness, readFreshness } from "../freshness.js";
import type { Environment } from "../verify.js";
import type { RefusalLog } from "./refusals.js";

/** The outcomes the delivery log records. */
export const OUTCOMES = ["applied", "duplicate", "stale", "ignored"] as const;

/** One row of the delivery log, as the console shows it. */
export interface DeliveryItem {
  receivedAt: string;
  environment: Environment;
  type: string;
  outcome: string;
  /** The Clerk user (or organization, membership) the event is about, when it names one. */
  subject: string | null;
  svixId: string;
  eventTimestamp: string | null;
}

/** Filters and position of {@link listDeliveries}. */
export interface DeliveryQuery {
  environment?: string | undefined;
  type?: string | undefined;
  outcome?: string | undefined;
  /** 1 to 200; 50 when omitted. */
  limit?: number | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

/** Newest first, keyset-paginated on (received_at, environment, svix_id): stable while rows arrive. */
export async function listDeliveries(
  db: Database,
  query: DeliveryQuery,
): Promise<{ deliveries: DeliveryItem[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 200);
  const after = query.cursor ? decodeCursor(query.cursor) : [null, null, null];
  const rows = await db.query<Record<string, unknown>>(
    `select d.*, d.received_at::text as position from webhook_deliveries d
      where ($1::text is null or environment = $1) and ($2::text is null or event_type = $2)
        and ($3::text is null or outcome = $3)
        and ($4::timestamptz is null or (received_at, environment, svix_id) < ($4::timestamptz, $5::text, $6::text))
      order by received_at desc, environment desc, svix_id desc
      limit ${limit + 1}`,
    [query.environment ?? null, query.type ?? null, query.outcome ?? null, ...after],
  );
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    deliveries: page.map(deliveryItem),
    nextCursor:
      rows.length > limit && last
        ? encodeCursor([String(last.position), String(last.environment), String(last.svix_id)])
        : null,
  };
}

function deliveryItem(row: Record<string, unknown>): DeliveryItem {
  // Another table version may name organizations or memberships in columns of their own: any *_id but svix_id.
  const subject =
    (row.clerk_user_id as string | null) ??
    Object.entries(row).find(([name, value]) => /_id$/.test(name) && name !== "svix_id" && value)?.[1];
  return {
    receivedAt: iso(row.received_at) ?? "",
    environment: row.environment as Environment,
    type: String(row.event_type),
    outcome: String(row.outcome),
    subject: typeof subject === "string" ? subject : null,
    svixId: String(row.svix_id),
    eventTimestamp: iso(row.event_timestamp),
  };
}

type Position = [string, string, string];

function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify(position)).toString("base64url");
}

/** Thrown for a cursor this API did not make. */
export class InvalidCursorError extends Error {}

function decodeCursor(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "string")) {
      if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:?\d\d)?$/.test(String(value[0])))
        return value as Position;
    }
  } catch {}
  throw new InvalidCursorError("invalid cursor");
}

/** The tables counted per environment: those that exist in this version of the schema. */
const COUNTED = ["users", "organizations", "organization_memberships"];

/**
 * Rows per environment of each table with an `environment` column among the users, organizations, memberships
 * and tombstone tables that exist (organizations arrive in a later schema; the console works before and after).
 */
export async function countRows(db: Database): Promise<{
  tables: string[];
  counts: Record<Environment, Record<string, number>>;
}> {
  const found = await db.query<{ table_name: string }>(
    // pg_catalog rather than information_schema, whose views cost tens of milliseconds per call.
    `select c.relname as table_name from pg_class c join pg_attribute a on a.attrelid = c.oid
      where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p')
        and a.attname = 'environment' and not a.attisdropped
        and (c.relname = any($1::text[]) or c.relname like '%\\_tombstones')`,
    [COUNTED],
  );
  const tables = found.map((r) => r.table_name).filter((name) => /^[a-z_]+$/.test(name));
  tables.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const counts: Record<Environment, Record<string, number>> = { development: {}, production: {} };
  for (const table of tables) {
    counts.development[table] = 0;
    counts.production[table] = 0;
  }
  if (tables.length === 0) return { tables, counts };
  const rows = await db.query<{ name: string; environment: Environment; count: number }>(
    tables
      .map(
        (t) => `select '${t}' as name, environment, count(*)::int as count from "${t}" group by environment`,
      )
      .join(" union all "),
  );
  for (const row of rows) {
    const bucket = counts[row.environment];
    if (bucket) bucket[row.name] = Number(row.count);
  }
  return { tables, counts };
}

/** Each table followed by its tombstones: users, user_tombstones, organizations, organization_tombstones, … */
function rank(table: string): number {
  const tombstones = table.endsWith("_tombstones");
  const at = COUNTED.indexOf(tombstones ? `${table.slice(0, -"_tombstones".length)}s` : table);
  return (at < 0 ? COUNTED.length : at) * 2 + (tombstones ? 1 : 0);
}

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
  const rows = await db.query<{ bucket: string; outcome: string; count: number }>(
    `select (floor(extract(epoch from received_at) * 1000 / $2::bigint) * $2::bigint)::bigint::text as bucket,
            outcome, count(*)::int as count
       from webhook_deliveries where received_at >= $1::timestamptz group by 1, 2`,
    [new Date(first).toISOString(), bucketMs],
  );
  const buckets = new Map<number, Bucket>();
  for (let at = first; at <= now.getTime(); at += bucketMs) {
    buckets.set(at, {
      at: new Date(at).toISOString(),
      applied: 0,
      duplicate: 0,
      stale: 0,
      ignored: 0,
      refused: 0,
    });
  }
  for (const row of rows) {
    const bucket = buckets.get(Number(row.bucket));
    if (bucket && (OUTCOMES as readonly string[]).includes(row.outcome))
      bucket[row.outcome as (typeof OUTCOMES)[number]] += Number(row.count);
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
): Promise<{ users: Record<string, unknown>[]; tombstone: { deletedAt: string | null } | null }> {
  const users = await db.query<Record<string, unknown>>(
    `select * from users where environment = $1 and (clerk_user_id = $2 or email = $2 or email = lower($2))
      order by clerk_user_id limit 10`,
    [environment, key],
  );
  const [tombstone] = await db.query<{ deleted_at: unknown }>(
    "select deleted_at from user_tombstones where environment = $1 and clerk_user_id = $2",
    [environment, key],
  );
  return {
    users: users.map((row) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v])),
    ),
    tombstone: tombstone ? { deletedAt: iso(tombstone.deleted_at) } : null,
  };
}

function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : new Date(String(value));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
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
