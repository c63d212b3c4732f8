import type { Database } from "../db/database.js";
import { literal, lockedTransaction } from "../db/sql.js";
import { userLockKey } from "../store/locks.js";
import { ENVIRONMENTS, type Environment } from "../verify.js";

/** What a prune would remove, and out of how many. */
export interface PrunePlan {
  /** Local users Clerk did not list, whose rows existed before the listing began. */
  candidates: string[];
  /** Local users of the environment, in all. */
  local: number;
}

/**
 * The local users of `environment` that a COMPLETE listing did not contain. Only rows written before the listing
 * began (`listingStartedAt`, read from the database's clock) qualify: a user created in Clerk after that may be
 * missing from the listing, yet its webhook may already have written it.
 *
 * @example
 * ```ts
 * const plan = await planPrune(db, "production", listedIds, startedAt);
 * ```
 */
export async function planPrune(
  db: Database,
  environment: Environment,
  listed: ReadonlySet<string>,
  listingStartedAt: string,
): Promise<PrunePlan> {
  const rows = await db.query<{ id: string; before: boolean }>(
    "select clerk_user_id as id, created_at < $2::timestamptz as before from users where environment = $1",
    [environment, listingStartedAt],
  );
  return {
    candidates: rows.filter((r) => r.before && !listed.has(r.id)).map((r) => r.id),
    local: rows.length,
  };
}

/**
 * Deletes these users of `environment` and tombstones them (`deleted_at` now), as a `user.deleted` webhook would,
 * in one transaction under the same per-user advisory locks; returns how many rows went. A row written since the
 * listing began is kept even if named. With `dryRun` it only counts.
 *
 * @example
 * ```ts
 * const pruned = await pruneUsers(db, "production", plan.candidates, startedAt);
 * ```
 */
export async function pruneUsers(
  db: Database,
  environment: Environment,
  ids: readonly string[],
  listingStartedAt: string,
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<number> {
  if (!ENVIRONMENTS.includes(environment))
    throw new TypeError(`pruneUsers: unknown environment ${environment}`);
  if (ids.length === 0) return 0;
  const keys = ids.map((id) => userLockKey(environment, id));
  const input = { e: environment, before: listingStartedAt, ids };
  const rows = await lockedTransaction(
    db,
    keys,
    PRUNE.replace("$INPUT", () => literal(input)),
    {
      rollback: dryRun,
    },
  );
  const pruned = (rows as { pruned: number }[])[0]?.pruned;
  if (typeof pruned !== "number") throw new Error("pruneUsers: unexpected result shape");
  return pruned;
}

const PRUNE = `with input as (select $INPUT::jsonb as p),
removed as (
  delete from users s using input
  where s.environment = p->>'e'
    and s.created_at < (p->>'before')::timestamptz
    and s.clerk_user_id in (select jsonb_array_elements_text(p->'ids'))
  returning s.clerk_user_id, s.environment
),
tombstoned as (
  insert into user_tombstones (clerk_user_id, environment, deleted_at)
  select clerk_user_id, environment, now() from removed
  on conflict do nothing
)
select count(*)::int as pruned from removed`;
