import type { Database } from "../db/database.js";
import { lockedTransaction } from "../db/sql.js";
import { literal } from "../db/statements.js";
import { ConfigError } from "../errors.js";
import { membershipLockKey, organizationLockKey, userLockKey } from "../store/locks.js";
import { ENVIRONMENTS, type Environment } from "../verify.js";

/** What a prune would remove, and out of how many. */
export interface PrunePlan {
  /** The ids of local rows Clerk did not list, written before the listing began. */
  candidates: string[];
  /** The local rows of the environment, in all. */
  local: number;
}

/** The resources besides users that a backfill lists and may prune. */
export type PrunableResource = "organizations" | "memberships";

/** Every table a backfill may prune. */
export type Prunable = PrunableResource | "users";

const TABLES: Record<Prunable, { table: string; id: string }> = {
  users: { table: "users", id: "clerk_user_id" },
  organizations: { table: "organizations", id: "clerk_org_id" },
  memberships: { table: "organization_memberships", id: "clerk_membership_id" },
};

/**
 * The local rows of `environment` in a resource's table (users, organizations or memberships), written before the
 * listing began (`listingStartedAt`, read from the database's clock), that a COMPLETE listing did not contain: an
 * object created in Clerk after that may be missing from the listing, yet its webhook may already have written it.
 *
 * @example
 * ```ts
 * const plan = await planResourcePrune(db, "organizations", "production", listedIds, startedAt);
 * ```
 */
export async function planResourcePrune(
  db: Database,
  resource: Prunable,
  environment: Environment,
  listed: ReadonlySet<string>,
  listingStartedAt: string,
): Promise<PrunePlan> {
  const { table, id } = TABLES[resource];
  const rows = await db.query<{ id: string; before: boolean }>(
    `select ${id} as id, created_at < $2::timestamptz as before from ${table} where environment = $1`,
    [environment, listingStartedAt],
  );
  return {
    candidates: rows.filter((r) => r.before && !listed.has(r.id)).map((r) => r.id),
    local: rows.length,
  };
}

/**
 * Deletes and tombstones these users or organizations (with their memberships, as `user.deleted` and
 * `organization.deleted` would) or memberships, in one transaction under the same advisory locks as webhooks;
 * returns how many rows went. A row written since the listing began is kept even if named. With `dryRun` it only
 * counts.
 *
 * @example
 * ```ts
 * await pruneResource(db, "organizations", "production", plan.candidates, startedAt);
 * ```
 */
export async function pruneResource(
  db: Database,
  resource: Prunable,
  environment: Environment,
  ids: readonly string[],
  listingStartedAt: string,
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<number> {
  if (!ENVIRONMENTS.includes(environment))
    throw new ConfigError([`pruneResource: unknown environment ${environment}`]);
  if (ids.length === 0) return 0;
  let keys: string[];
  if (resource === "users") {
    keys = ids.map((id) => userLockKey(environment, id));
  } else if (resource === "organizations") {
    keys = ids.map((id) => organizationLockKey(environment, id));
  } else {
    // A membership's organization and user are locked too, as a webhook locks them.
    const rows = await db.query<{ m: string; g: string; u: string }>(
      `select clerk_membership_id as m, clerk_org_id as g, clerk_user_id as u from organization_memberships
       where environment = $1 and clerk_membership_id = any($2::text[])`,
      [environment, ids],
    );
    keys = rows.flatMap((r) => [
      membershipLockKey(environment, r.m),
      organizationLockKey(environment, r.g),
      userLockKey(environment, r.u),
    ]);
  }
  const input = { e: environment, before: listingStartedAt, ids };
  const rows = await lockedTransaction(
    db,
    [...new Set(keys)],
    PRUNE[resource].replace("$INPUT", () => literal(input)),
    {
      rollback: dryRun,
    },
  );
  const pruned = (rows as { pruned: number }[])[0]?.pruned;
  if (typeof pruned !== "number") throw new Error("pruneResource: unexpected result shape");
  return pruned;
}

const PRUNE_USERS = `with input as (select $INPUT::jsonb as p),
removed as (
  delete from users s using input
  where s.environment = p->>'e'
    and s.created_at < (p->>'before')::timestamptz
    and s.clerk_user_id in (select jsonb_array_elements_text(p->'ids'))
  returning s.clerk_user_id, s.environment
),
cascaded as (
  delete from organization_memberships m using removed r
  where m.environment = r.environment and m.clerk_user_id = r.clerk_user_id
),
tombstoned as (
  insert into user_tombstones (clerk_user_id, environment, deleted_at)
  select clerk_user_id, environment, now() from removed
  on conflict do nothing
)
select count(*)::int as pruned from removed`;

const PRUNE_ORGANIZATIONS = `with input as (select $INPUT::jsonb as p),
removed as (
  delete from organizations s using input
  where s.environment = p->>'e'
    and s.created_at < (p->>'before')::timestamptz
    and s.clerk_org_id in (select jsonb_array_elements_text(p->'ids'))
  returning s.clerk_org_id, s.environment
),
tombstoned as (
  insert into organization_tombstones (clerk_org_id, environment, deleted_at)
  select clerk_org_id, environment, now() from removed
  on conflict do nothing
),
cascaded as (
  delete from organization_memberships m using removed r
  where m.environment = r.environment and m.clerk_org_id = r.clerk_org_id
)
select count(*)::int as pruned from removed`;

const PRUNE_MEMBERSHIPS = `with input as (select $INPUT::jsonb as p),
removed as (
  delete from organization_memberships s using input
  where s.environment = p->>'e'
    and s.created_at < (p->>'before')::timestamptz
    and s.clerk_membership_id in (select jsonb_array_elements_text(p->'ids'))
  returning s.clerk_membership_id, s.environment
),
tombstoned as (
  insert into organization_membership_tombstones (clerk_membership_id, environment, deleted_at)
  select clerk_membership_id, environment, now() from removed
  on conflict do nothing
)
select count(*)::int as pruned from removed`;

const PRUNE: Record<Prunable, string> = {
  users: PRUNE_USERS,
  organizations: PRUNE_ORGANIZATIONS,
  memberships: PRUNE_MEMBERSHIPS,
};
