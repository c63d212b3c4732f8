import type { Database } from "../db/database.js";
import { lockedTransaction } from "../db/sql.js";
import type { Resource } from "../decode.js";
import { type IdKey, idColumn, lockKeys, SHAPES, STATEMENTS } from "../store/shapes.js";
import type { Environment } from "../verify.js";

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

const RESOURCES: Record<Prunable, Resource> = {
  users: "user",
  organizations: "organization",
  memberships: "membership",
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
  const shape = SHAPES[RESOURCES[resource]];
  const rows = await db.query<{ id: string; before: boolean }>(
    `select ${idColumn(shape)} as id, created_at < $2::timestamptz as before from ${shape.table}
     where environment = $1`,
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
  if (ids.length === 0) return 0;
  const shape = SHAPES[RESOURCES[resource]];
  // A membership's organization and user are locked too, as a webhook locks them.
  const objects =
    resource === "memberships"
      ? await db.query<{ m: string; g: string; u: string }>(
          `select clerk_membership_id as m, clerk_org_id as g, clerk_user_id as u from organization_memberships
           where environment = $1 and clerk_membership_id = any($2::text[])`,
          [environment, ids],
        )
      : ids.map((id) => ({ [shape.ids[0] as IdKey]: id }));
  const keys = objects.flatMap((ids) => lockKeys(shape, environment, ids));
  const value = JSON.stringify({ e: environment, before: listingStartedAt, ids });
  const rows = await lockedTransaction(
    db,
    [...new Set(keys)],
    [{ statement: STATEMENTS[RESOURCES[resource]].prune, values: [value] }],
    { rollback: dryRun },
  );
  const pruned = (rows as { pruned: number }[])[0]?.pruned;
  if (typeof pruned !== "number") throw new Error("pruneResource: unexpected result shape");
  return pruned;
}
