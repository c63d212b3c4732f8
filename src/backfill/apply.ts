import type { Database } from "../db/database.js";
import { lockedTransaction } from "../db/sql.js";
import type { Step } from "../db/statements.js";
import {
  type BillingObjects,
  millis,
  organizationFields,
  type Resource,
  storable,
  storableAsIs,
  userFields,
} from "../decode.js";
import { planFields } from "../decode-billing.js";
import { BILLING_LISTED, BILLING_PLANS_LISTED } from "../store/billing.js";
import { billingLockKey } from "../store/locks.js";
import { lockKeys, SHAPES, STATEMENTS } from "../store/shapes.js";
import type { Environment } from "../verify.js";
import type { ClerkMembership, ClerkOrganization, ClerkUser } from "./clerk-api.js";

/**
 * What a listed object did to its table:
 * - `created`: no row existed; one was inserted;
 * - `updated`: the row held an older state (`clerk_updated_at` before the listed `updated_at`); it was replaced;
 * - `unchanged`: the row already held this very state;
 * - `stale`: the row holds a newer state (a webhook got there first); left alone;
 * - `tombstoned`: the object (or, for a membership, its organization or user) was deleted; never brought back.
 */
export type ListedResult = "created" | "updated" | "unchanged" | "stale" | "tombstoned";

/** Options of {@link applyUsers}, {@link applyOrganizations} and {@link applyMemberships}. */
export interface ApplyListedOptions {
  /** Run the same statements and roll them back: the results say what would happen. */
  dryRun?: boolean;
  /** The page's JSON text, the same array the objects were parsed from: sent as received, not serialised again. */
  json?: string;
}

/**
 * Writes one page of User objects from the Backend API under the same guards as webhook deliveries, in one
 * transaction and one round trip, and returns each user's {@link ListedResult} in input order: the same advisory
 * locks as a webhook for the same users (so one commits wholly before or after the other, and the statement's
 * snapshot sees it), then one statement built from the users' shape that judges every user against that snapshot
 * and upserts the created and updated ones, its `on conflict … where` repeating the version guard. `raw_payload` is
 * each User object as given.
 *
 * @example
 * ```ts
 * const { users, json } = await api.listUsers();
 * const results = await applyUsers(db, "production", users, { json });
 * ```
 */
export function applyUsers(
  db: Database,
  environment: Environment,
  listed: readonly ClerkUser[],
  options: ApplyListedOptions = {},
): Promise<ListedResult[]> {
  return applyListed(db, "user", environment, listed, options);
}

/**
 * Writes one page of Organization objects like {@link applyUsers}: the same per-organization locks as a webhook,
 * the same version guard, tombstones respected.
 *
 * @example
 * ```ts
 * const results = await applyOrganizations(db, "production", page.rows);
 * ```
 */
export function applyOrganizations(
  db: Database,
  environment: Environment,
  listed: readonly ClerkOrganization[],
  options: ApplyListedOptions = {},
): Promise<ListedResult[]> {
  return applyListed(db, "organization", environment, listed, options);
}

/**
 * Writes one page of OrganizationMembership objects like {@link applyUsers}: locks on the membership, its
 * organization and its user, as a webhook takes them; a membership of a deleted organization or user is
 * `tombstoned`, never stored.
 *
 * @example
 * ```ts
 * const results = await applyMemberships(db, "production", page.rows);
 * ```
 */
export function applyMemberships(
  db: Database,
  environment: Environment,
  listed: readonly ClerkMembership[],
  options: ApplyListedOptions = {},
): Promise<ListedResult[]> {
  return applyListed(db, "membership", environment, listed, options);
}

async function applyListed(
  db: Database,
  resource: Resource,
  environment: Environment,
  listed: readonly { id: string; updated_at: number }[],
  { dryRun = false, json }: ApplyListedOptions,
): Promise<ListedResult[]> {
  if (listed.length === 0) return [];
  // The page goes to PostgreSQL as received unless it holds text PostgreSQL cannot store (see `storable`).
  const verbatim = json !== undefined && storableAsIs(json);
  const objects = verbatim ? listed : (storable(listed) as typeof listed);
  const rows = [...newestOf(objects).values()].map((o) =>
    ROWS[resource](objects[o] as Record<string, unknown> & { id: string }, o, environment),
  );
  const keys = rows.flatMap((row) => lockKeys(SHAPES[resource], environment, row));
  const values = [JSON.stringify(rows), verbatim ? json : JSON.stringify(objects)];
  const judged = (await lockedTransaction(
    db,
    [...new Set(keys)],
    [{ statement: STATEMENTS[resource].listed, values }],
    {
      rollback: dryRun,
    },
  )) as { o: number; result: ListedResult }[];
  if (judged.length !== rows.length) throw new Error("backfill: unexpected result shape");
  // A repeated object's older copies changed nothing: the newest one decided.
  const byIndex = new Map(judged.map((r) => [r.o, r.result]));
  return objects.map((_, o) => byIndex.get(o) ?? "stale");
}

/** One statement cannot upsert a row twice: of an object repeated in a page, the newest copy decides. */
function newestOf(objects: readonly { id: string; updated_at: number }[]): Map<string, number> {
  const newest = new Map<string, number>();
  objects.forEach((object, i) => {
    const kept = newest.get(object.id);
    if (kept === undefined || (objects[kept]?.updated_at ?? 0) <= object.updated_at) newest.set(object.id, i);
  });
  return newest;
}

type Listed = Record<string, unknown> & { id: string };

/** One listed object as its resource's statement reads it: `o` its place in the page, then its shape's keys. */
const ROWS: Record<Resource, (object: Listed, o: number, e: Environment) => Record<string, unknown>> = {
  user(user, o, e) {
    const fields = userFields(user, millis(user.updated_at) ?? 0);
    return {
      o,
      e,
      u: user.id,
      v: fields.clerkUpdatedAt,
      c: fields.clerkCreatedAt,
      em: fields.email,
      fn: fields.firstName,
      ln: fields.lastName,
      un: fields.username,
      im: fields.imageUrl,
    };
  },
  organization(org, o, e) {
    const fields = organizationFields(org, millis(org.updated_at) ?? 0);
    return {
      o,
      e,
      g: org.id,
      v: fields.clerkUpdatedAt,
      c: fields.clerkCreatedAt,
      nm: fields.name,
      sl: fields.slug,
      im: fields.imageUrl,
    };
  },
  membership(object, o, e) {
    const m = object as ClerkMembership;
    return {
      o,
      e,
      m: m.id,
      g: m.organization.id,
      u: m.public_user_data.user_id,
      v: millis(m.updated_at) ?? 0,
      c: millis(m.created_at),
      r: typeof m.role === "string" ? m.role : null,
    };
  },
};

/** What each listed Billing object did to its table, by kind, in input order (never `tombstoned`: see docs/billing.md). */
export type BillingListedResults = Record<keyof BillingObjects, ListedResult[]>;

/**
 * Writes Billing objects listed by the Backend API (a page of items, or the subscriptions of a run of payers with
 * their items) in one transaction, under the same per-object advisory locks as a webhook writing them, through one
 * stored statement built from the Billing shapes: an object replaces a stored row only when its version is newer;
 * at the same version the stored row stays (a listed object has no envelope time), only filling in the links it
 * lacks. `also`: more steps of the same transaction (the walk's checkpoint).
 *
 * @example
 * ```ts
 * const results = await applyBillingListed(db, "production", { subscriptions: [], items, paymentAttempts: [] });
 * ```
 */
export async function applyBillingListed(
  db: Database,
  environment: Environment,
  objects: BillingObjects,
  { dryRun = false, also = [] }: { dryRun?: boolean; also?: readonly Step[] } = {},
): Promise<BillingListedResults> {
  const kinds = ["subscriptions", "items", "paymentAttempts"] as const;
  const rows = Object.fromEntries(
    kinds.map((k) => [
      k,
      (storable(objects[k]) as BillingObjects[typeof k]).map((object, o) => ({
        ...object,
        o,
        e: environment,
      })),
    ]),
  );
  const ids = kinds.flatMap((k) => objects[k].map(({ id }) => billingLockKey(environment, id)));
  const results: BillingListedResults = { subscriptions: [], items: [], paymentAttempts: [] };
  const steps = ids.length > 0 ? [{ statement: BILLING_LISTED, values: [JSON.stringify(rows)] }] : [];
  if (steps.length + also.length === 0) return results;
  const judged = (await lockedTransaction(db, [...new Set(ids)], [...steps, ...also], {
    rollback: dryRun,
  })) as { k?: keyof BillingObjects; o?: number; result?: ListedResult }[];
  for (const { k, o, result } of judged) {
    if (k !== undefined && o !== undefined && result !== undefined) results[k][o] = result;
  }
  return results;
}

/**
 * Writes a page of Billing plans (`GET /v1/billing/plans`): plans have no version, so the listed payload replaces
 * the stored one when it differs (`updated`), else `unchanged`.
 *
 * @example
 * ```ts
 * const results = await applyPlansListed(db, "production", page.rows);
 * ```
 */
export async function applyPlansListed(
  db: Database,
  environment: Environment,
  plans: readonly (Record<string, unknown> & { id: string })[],
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<ListedResult[]> {
  if (plans.length === 0) return [];
  const rows = (storable(plans) as typeof plans).map((plan, o) => ({
    ...planFields(plan),
    o,
    e: environment,
  }));
  const keys = [...new Set(plans.map(({ id }) => billingLockKey(environment, id)))];
  const judged = (await lockedTransaction(
    db,
    keys,
    [{ statement: BILLING_PLANS_LISTED, values: [JSON.stringify(rows)] }],
    { rollback: dryRun },
  )) as { o: number; result: ListedResult }[];
  const results: ListedResult[] = [];
  for (const { o, result } of judged) results[o] = result;
  return results;
}
