import type { Database } from "../db/database.js";

/**
 * A lease on a named job: at most one holder until `expires_at`, taken and renewed by one conditional statement
 * each. It holds through a transaction pooler (PgBouncer in transaction mode, Supavisor), where a session advisory
 * lock would not: nothing outlives the statement. The database's clock decides, so the processes' clocks may drift.
 */

/**
 * Takes the lease `name` for `holder` for `ttlMs` when it is free: never taken, or expired, whoever held it. A
 * holder does not take its own unexpired lease again: a job that runs at most once per `ttlMs` takes it before each
 * run, and keeps it during a long run with {@link extendLease}. True when `holder` took it.
 *
 * @example
 * ```ts
 * if (await takeLease(db, "reconcile", instanceId, 6 * 3600_000)) await reconcileNow();
 * ```
 */
export async function takeLease(db: Database, name: string, holder: string, ttlMs: number): Promise<boolean> {
  const rows = await db.query<{ holder: string }>(
    `insert into leases (name, holder, expires_at) values ($1, $2, now() + $3::bigint * interval '1 millisecond')
     on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at
     where leases.expires_at <= now()
     returning holder`,
    [name, holder, Math.ceil(ttlMs)],
  );
  return rows.length === 1;
}

/**
 * Keeps `holder`'s lease for at least `ms` more from now (never shortens it); false when `holder` no longer holds it.
 *
 * @example
 * ```ts
 * await extendLease(db, "reconcile", instanceId, 120_000);
 * ```
 */
export async function extendLease(db: Database, name: string, holder: string, ms: number): Promise<boolean> {
  const rows = await db.query<{ holder: string }>(
    `update leases set expires_at = greatest(expires_at, now() + $3::bigint * interval '1 millisecond')
     where name = $1 and holder = $2 and expires_at > now() returning holder`,
    [name, holder, Math.ceil(ms)],
  );
  return rows.length === 1;
}
