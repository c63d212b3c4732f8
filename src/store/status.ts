import { count, desc, gte } from "drizzle-orm";
import type { Database } from "../db/database.js";
import {
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
 * Counts (users, organizations, memberships and their tombstones) and the latest delivery per environment; "the last 24 hours" ends at `now`.
 *
 * @example
 * ```ts
 * const { environments } = await syncStatus(sync.database, new Date());
 * ```
 */
export async function syncStatus(db: Database, now: Date): Promise<SyncStatus> {
  const since = new Date(now.getTime() - DAY_MS);
  const d = webhookDeliveries;
  const counted = (
    table:
      | typeof users
      | typeof userTombstones
      | typeof organizations
      | typeof organizationTombstones
      | typeof organizationMemberships
      | typeof organizationMembershipTombstones,
  ) => db.orm.select({ environment: table.environment, n: count() }).from(table).groupBy(table.environment);
  const [
    userCounts,
    tombstoneCounts,
    orgCounts,
    orgTombstoneCounts,
    membershipCounts,
    membershipTombstoneCounts,
    latest,
    recent,
  ] = await Promise.all([
    counted(users),
    counted(userTombstones),
    counted(organizations),
    counted(organizationTombstones),
    counted(organizationMemberships),
    counted(organizationMembershipTombstones),
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
  const of = (rows: { environment: Environment; n: number }[], environment: Environment) =>
    rows.find((r) => r.environment === environment)?.n ?? 0;
  const environments = Object.fromEntries(
    ENVIRONMENTS.map((environment): [Environment, EnvironmentStatus] => {
      const last = latest.find((r) => r.environment === environment);
      const last24h = Object.fromEntries(LOGGED.map((o) => [o, 0])) as Record<LoggedOutcome, number>;
      for (const r of recent) {
        if (r.environment === environment && isLogged(r.outcome)) last24h[r.outcome] = r.n;
      }
      return [
        environment,
        {
          users: of(userCounts, environment),
          tombstones: of(tombstoneCounts, environment),
          organizations: of(orgCounts, environment),
          organizationTombstones: of(orgTombstoneCounts, environment),
          memberships: of(membershipCounts, environment),
          membershipTombstones: of(membershipTombstoneCounts, environment),
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

function isLogged(outcome: Outcome): outcome is LoggedOutcome {
  return (LOGGED as readonly string[]).includes(outcome);
}
