import type { Database } from "./db/database.js";
import { iso } from "./time.js";
import { ENVIRONMENTS, type Environment } from "./verify.js";

/** A finished reconcile as `reconcile_runs` holds it: counts only. */
export interface ReconcileRun {
  startedAt: string;
  finishedAt: string | null;
  outcome: "succeeded" | "failed";
  listed: number | null;
  created: number | null;
  updated: number | null;
  /** Null when the run did not prune. */
  deleted: number | null;
  errorCode: string | null;
}

/** How fresh one instance's tables are, read from the database (so it holds across restarts and processes). */
export interface Freshness {
  /** When the newest verified delivery was received (ISO 8601), or null when the delivery log holds none. */
  lastDelivery: string | null;
  users: number;
  /** The newest finished reconcile (succeeded or failed); null when none finished. */
  lastReconcile: ReconcileRun | null;
  /** When the newest successful reconcile finished, or null. */
  lastSucceededReconcile: string | null;
}

/**
 * Each instance's freshness: the newest delivery (an index lookup on `(environment, received_at)`), the users
 * counted, and the newest reconcile runs. What the metrics and the console show. A caller that has just counted the
 * users (the console's summary) passes its counts, and they are not counted again.
 *
 * @example
 * ```ts
 * const { production } = await readFreshness(db);
 * if (production.lastDelivery === null && production.users > 0) alert();
 * ```
 */
export async function readFreshness(
  db: Database,
  users?: Record<Environment, number>,
): Promise<Record<Environment, Freshness>> {
  const rows = await db.query<{
    environment: Environment;
    last_delivery: unknown;
    users: number;
    run: unknown;
    succeeded: unknown;
  }>(
    `select e.environment,
       (select max(received_at) from webhook_deliveries d where d.environment = e.environment) as last_delivery,
       (select count(*)::int from users u where $2::boolean and u.environment = e.environment) as users,
       (select json_build_object('startedAt', r.started_at, 'finishedAt', r.finished_at, 'outcome', r.outcome,
           'listed', r.listed, 'created', r.created, 'updated', r.updated, 'deleted', r.deleted,
           'errorCode', r.error_code)
          from reconcile_runs r where r.environment = e.environment and r.finished_at is not null
          order by r.finished_at desc limit 1) as run,
       (select max(r.finished_at) from reconcile_runs r
          where r.environment = e.environment and r.outcome = 'succeeded') as succeeded
     from unnest($1::text[]) as e(environment)`,
    [ENVIRONMENTS, users === undefined],
  );
  const result = {} as Record<Environment, Freshness>;
  for (const environment of ENVIRONMENTS) {
    const row = rows.find((r) => r.environment === environment);
    const run = parsed(row?.run) as ReconcileRun | null;
    result[environment] = {
      lastDelivery: iso(row?.last_delivery),
      users: users?.[environment] ?? Number(row?.users ?? 0),
      lastReconcile: run && { ...run, startedAt: iso(run.startedAt) ?? "", finishedAt: iso(run.finishedAt) },
      lastSucceededReconcile: iso(row?.succeeded),
    };
  }
  return result;
}

/** PGlite and node-postgres both parse json columns; a driver that does not leaves text. */
function parsed(value: unknown): unknown {
  return typeof value === "string" ? JSON.parse(value) : (value ?? null);
}
