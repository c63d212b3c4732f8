import { count, desc, gte, sql } from "drizzle-orm";
import { unionAll } from "drizzle-orm/pg-core";
import type { Database } from "../db/database.js";
import {
  billingPlans,
  billingSubscriptions,
  organizationMemberships,
  organizationMembershipTombstones,
  organizations,
  organizationTombstones,
  users,
  userTombstones,
  webhookDeliveries,
} from "../db/schema.js";
import { ENVIRONMENTS, type Environment } from "../verify.js";
import type { Outcome } from "./apply.js";

/**
 * The outcomes the delivery log holds. A re-sent delivery (`duplicate`) is answered without being logged again:
 * `/metrics` counts those.
 */
export const LOGGED = ["applied", "stale", "ignored"] as const;
export type LoggedOutcome = (typeof LOGGED)[number];
const DAY_MS = 24 * 60 * 60 * 1000;

/** What `status` reports for one Clerk instance. */
export interface EnvironmentStatus {
  users: number;
  /** User tombstones. */
  tombstones: number;
  organizations: number;
  organizationTombstones: number;
  memberships: number;
  membershipTombstones: number;
  /** Clerk Billing's subscriptions (one per paying user or organization) and plans (from the backfill). */
  billingSubscriptions: number;
  billingPlans: number;
  /** The most recently received delivery, or null when none is logged (or all were pruned). */
  lastDelivery: { receivedAt: string; type: string; outcome: Outcome } | null;
  /** Deliveries logged in the last 24 hours, by outcome. */
  last24h: Record<LoggedOutcome, number>;
}

/** The whole report: `status --json` prints exactly this. */
export interface SyncStatus {
  database: Database["dialect"];
  environments: Record<Environment, EnvironmentStatus>;
}

/**
 * Counts (users, organizations, memberships and their tombstones, Billing's subscriptions and plans) and the latest
 * delivery per environment; "the last 24 hours" ends at `now`.
 *
 * @example
 * ```ts
 * const { environments } = await syncStatus(sync.database, new Date());
 * ```
 */
export async function syncStatus(db: Database, now: Date): Promise<SyncStatus> {
  const since = new Date(now.getTime() - DAY_MS);
  const d = webhookDeliveries;
  const [counts, latest, recent] = await Promise.all([
    countRows(db),
    db.orm
      .selectDistinctOn([d.environment], {
        environment: d.environment,
        receivedAt: d.receivedAt,
        type: d.eventType,
        outcome: d.outcome,
      })
      .from(d)
      .orderBy(d.environment, desc(d.receivedAt), desc(d.svixId)),
    db.orm
      .select({ environment: d.environment, outcome: d.outcome, n: count() })
      .from(d)
      .where(gte(d.receivedAt, since))
      .groupBy(d.environment, d.outcome),
  ]);
  const environments = Object.fromEntries(
    ENVIRONMENTS.map((environment): [Environment, EnvironmentStatus] => {
      const last = latest.find((r) => r.environment === environment);
      const last24h = Object.fromEntries(LOGGED.map((o) => [o, 0])) as Record<LoggedOutcome, number>;
      for (const r of recent) {
        if (r.environment === environment && isLogged(r.outcome)) last24h[r.outcome] = r.n;
      }
      const rows = counts[environment];
      return [
        environment,
        {
          users: rows.users,
          tombstones: rows.user_tombstones,
          organizations: rows.organizations,
          organizationTombstones: rows.organization_tombstones,
          memberships: rows.organization_memberships,
          membershipTombstones: rows.organization_membership_tombstones,
          billingSubscriptions: rows.billing_subscriptions,
          billingPlans: rows.billing_plans,
          lastDelivery: last
            ? { receivedAt: last.receivedAt.toISOString(), type: last.type, outcome: last.outcome }
            : null,
          last24h,
        },
      ];
    }),
  ) as Record<Environment, EnvironmentStatus>;
  return { database: db.dialect, environments };
}

/**
 * The tables counted per environment, by table name, in the order `status` and the console show them: each
 * resource followed by its tombstones, then Billing's subscriptions and plans.
 */
const COUNTED = {
  users,
  user_tombstones: userTombstones,
  organizations,
  organization_tombstones: organizationTombstones,
  organization_memberships: organizationMemberships,
  organization_membership_tombstones: organizationMembershipTombstones,
  billing_subscriptions: billingSubscriptions,
  billing_plans: billingPlans,
};

/** A table {@link countRows} counts. */
export type CountedTable = keyof typeof COUNTED;

/** The counted tables, in the order they are shown. */
export const COUNTED_TABLES = Object.keys(COUNTED) as CountedTable[];

/**
 * Rows of each counted table per environment, in one statement (`count(*)`: it grows with the tables). What
 * `status` and the console's "At a glance" show.
 *
 * @example
 * ```ts
 * const { production } = await countRows(db);
 * console.log(production.users, production.billing_subscriptions);
 * ```
 */
export async function countRows(db: Database): Promise<Record<Environment, Record<CountedTable, number>>> {
  const queries = COUNTED_TABLES.map((name) => {
    const table = COUNTED[name];
    return db.orm
      .select({ name: sql<CountedTable>`${name}::text`, environment: table.environment, n: count() })
      .from(table)
      .groupBy(table.environment);
  });
  type Query = (typeof queries)[number];
  const rows = await unionAll(...(queries as [Query, Query, ...Query[]]));
  const zero = () =>
    Object.fromEntries(COUNTED_TABLES.map((name) => [name, 0])) as Record<CountedTable, number>;
  const counts: Record<Environment, Record<CountedTable, number>> = {
    development: zero(),
    production: zero(),
  };
  for (const row of rows) counts[row.environment][row.name] = row.n;
  return counts;
}

function isLogged(outcome: Outcome): outcome is LoggedOutcome {
  return (LOGGED as readonly string[]).includes(outcome);
}
