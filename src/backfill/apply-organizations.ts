import type { Database } from "../db/database.js";
import { lockedTransaction } from "../db/sql.js";
import { literal } from "../db/statements.js";
import { millis, organizationFields, storable } from "../decode.js";
import { ConfigError } from "../errors.js";
import { membershipLockKey, organizationLockKey, userLockKey } from "../store/locks.js";
import { ENVIRONMENTS, type Environment } from "../verify.js";
import type { UserResult } from "./apply-users.js";
import type { ClerkMembership, ClerkOrganization } from "./clerk-api.js";

/**
 * Writes one page of Organization objects from the Backend API under the same guards as webhook deliveries (the
 * same per-organization advisory locks, the same version guard, tombstones respected), in one transaction, and
 * returns each one's result in input order (see `UserResult`). With `dryRun` the transaction is rolled back.
 *
 * @example
 * ```ts
 * const results = await applyOrganizations(db, "production", page.rows);
 * ```
 */
export async function applyOrganizations(
  db: Database,
  environment: Environment,
  listed: readonly ClerkOrganization[],
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<UserResult[]> {
  const orgs = storable(listed) as ClerkOrganization[];
  const newest = newestOf(orgs);
  const rows = [...newest.values()].map((i) => {
    const org = orgs[i] as ClerkOrganization;
    const fields = organizationFields(org, millis(org.updated_at) ?? 0);
    return {
      o: i,
      g: org.id,
      v: fields.clerkUpdatedAt,
      c: fields.clerkCreatedAt,
      nm: fields.name,
      sl: fields.slug,
      im: fields.imageUrl,
      d: org,
    };
  });
  const keys = [...newest.keys()].map((id) => organizationLockKey(environment, id));
  return judged(db, environment, keys, ORGANIZATIONS, rows, orgs.length, dryRun);
}

/**
 * Writes one page of OrganizationMembership objects like {@link applyOrganizations}: locks on the membership, its
 * organization and its user, as a webhook takes them; a membership of a deleted organization or user is
 * `tombstoned`, never stored.
 *
 * @example
 * ```ts
 * const results = await applyMemberships(db, "production", page.rows);
 * ```
 */
export async function applyMemberships(
  db: Database,
  environment: Environment,
  listed: readonly ClerkMembership[],
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<UserResult[]> {
  const memberships = storable(listed) as ClerkMembership[];
  const newest = newestOf(memberships);
  const rows = [...newest.values()].map((i) => {
    const m = memberships[i] as ClerkMembership;
    return {
      o: i,
      m: m.id,
      g: m.organization.id,
      u: m.public_user_data.user_id,
      v: millis(m.updated_at) ?? 0,
      c: millis(m.created_at),
      r: typeof m.role === "string" ? m.role : null,
      d: m,
    };
  });
  const keys = rows.flatMap((r) => [
    membershipLockKey(environment, r.m),
    organizationLockKey(environment, r.g),
    userLockKey(environment, r.u),
  ]);
  return judged(db, environment, [...new Set(keys)], MEMBERSHIPS, rows, memberships.length, dryRun);
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

async function judged(
  db: Database,
  environment: Environment,
  keys: string[],
  sql: string,
  rows: readonly { o: number }[],
  count: number,
  dryRun: boolean,
): Promise<UserResult[]> {
  // Interpolated below: only ever one of two known words.
  if (!ENVIRONMENTS.includes(environment))
    throw new ConfigError([`backfill: unknown environment ${environment}`]);
  if (rows.length === 0) return [];
  const statement = sql.replace(/\$(ENV|ROWS)/g, (_, name: string) =>
    name === "ENV" ? `'${environment}'` : literal(rows),
  );
  const results = (await lockedTransaction(db, keys, statement, { rollback: dryRun })) as {
    o: number;
    result: UserResult;
  }[];
  if (results.length !== rows.length) throw new Error("backfill: unexpected result shape");
  const byIndex = new Map(results.map((r) => [r.o, r.result]));
  return Array.from({ length: count }, (_, i) => byIndex.get(i) ?? "stale");
}

const ORGANIZATIONS = `with input as (
  select x.*,
    timestamptz 'epoch' + x.v * interval '1 millisecond' as version,
    timestamptz 'epoch' + x.c * interval '1 millisecond' as created
  from jsonb_to_recordset($ROWS::jsonb) as x(o int, g text, v bigint, c bigint, nm text, sl text, im text, d jsonb)
),
judged as (
  select i.*,
    case
      when exists (select 1 from organization_tombstones t where t.environment = $ENV and t.clerk_org_id = i.g)
        then 'tombstoned'
      when s.clerk_org_id is null then 'created'
      when s.clerk_updated_at is null or s.clerk_updated_at < i.version then 'updated'
      when s.clerk_updated_at = i.version then 'unchanged'
      else 'stale'
    end as result
  from input i
  left join organizations s on s.environment = $ENV and s.clerk_org_id = i.g
),
written as (
  insert into organizations as s (clerk_org_id, environment, name, slug, image_url, raw_payload,
    clerk_created_at, clerk_updated_at)
  select g, $ENV, nm, sl, im, d, created, version from judged where result in ('created', 'updated')
  on conflict (clerk_org_id, environment) do update set
    name = excluded.name, slug = excluded.slug, image_url = excluded.image_url, raw_payload = excluded.raw_payload,
    clerk_created_at = excluded.clerk_created_at, clerk_updated_at = excluded.clerk_updated_at, updated_at = now()
  where s.clerk_updated_at is null or s.clerk_updated_at < excluded.clerk_updated_at
)
select o, result from judged`;

const MEMBERSHIPS = `with input as (
  select x.*,
    timestamptz 'epoch' + x.v * interval '1 millisecond' as version,
    timestamptz 'epoch' + x.c * interval '1 millisecond' as created
  from jsonb_to_recordset($ROWS::jsonb) as x(o int, m text, g text, u text, v bigint, c bigint, r text, d jsonb)
),
judged as (
  select i.*,
    case
      when exists (select 1 from organization_membership_tombstones t
          where t.environment = $ENV and t.clerk_membership_id = i.m)
        or exists (select 1 from organization_tombstones t where t.environment = $ENV and t.clerk_org_id = i.g)
        or exists (select 1 from user_tombstones t where t.environment = $ENV and t.clerk_user_id = i.u)
        then 'tombstoned'
      when s.clerk_membership_id is null then 'created'
      when s.clerk_updated_at is null or s.clerk_updated_at < i.version then 'updated'
      when s.clerk_updated_at = i.version then 'unchanged'
      else 'stale'
    end as result
  from input i
  left join organization_memberships s on s.environment = $ENV and s.clerk_membership_id = i.m
),
written as (
  insert into organization_memberships as s (clerk_membership_id, environment, clerk_org_id, clerk_user_id, role,
    raw_payload, clerk_created_at, clerk_updated_at)
  select m, $ENV, g, u, r, d, created, version from judged where result in ('created', 'updated')
  on conflict (clerk_membership_id, environment) do update set
    clerk_org_id = excluded.clerk_org_id, clerk_user_id = excluded.clerk_user_id, role = excluded.role,
    raw_payload = excluded.raw_payload, clerk_created_at = excluded.clerk_created_at,
    clerk_updated_at = excluded.clerk_updated_at, updated_at = now()
  where s.clerk_updated_at is null or s.clerk_updated_at < excluded.clerk_updated_at
)
select o, result from judged`;
