import { LOCK } from "../db/sql.js";
import { type Statement, statement } from "../db/statements.js";
import type { Resource } from "../decode.js";
import type { Environment } from "../verify.js";
import { BILLING_APPLY, BILLING_LISTED, BILLING_PLANS_LISTED } from "./billing.js";
import { membershipLockKey, organizationLockKey, userLockKey } from "./locks.js";

/**
 * One description per resource (users, organizations, memberships), and every statement that judges and writes
 * them built from it: the webhook's apply, the backfill's listed page, the prune. Each takes its input as JSON
 * parameters, pastes no value into its text, and is stored in the database as a function (`migrate` creates it).
 */

/** Each Clerk id an object can carry, by its key in a statement's rows: its column, tombstones and lock. */
const IDS = {
  u: { column: "clerk_user_id", tombstones: "user_tombstones", lock: userLockKey },
  g: { column: "clerk_org_id", tombstones: "organization_tombstones", lock: organizationLockKey },
  m: {
    column: "clerk_membership_id",
    tombstones: "organization_membership_tombstones",
    lock: membershipLockKey,
  },
} as const;

export type IdKey = keyof typeof IDS;

/** How one resource's table and statements differ from the others'. */
export interface Shape {
  /** The table of its objects. */
  readonly table: string;
  /**
   * The ids an object names, its own first: each is locked, and a tombstone of any makes it stale (a membership of
   * a deleted user or organization is never stored).
   */
  readonly ids: readonly IdKey[];
  /** Its columns from the object's fields (besides the ids and the payload), each with its key in a row. */
  readonly fields: readonly (readonly [column: string, key: string])[];
  /** Whether deleting it deletes its memberships (a user's, an organization's). */
  readonly cascades: boolean;
}

/** The three resources. */
export const SHAPES: Readonly<Record<Resource, Shape>> = {
  user: {
    table: "users",
    ids: ["u"],
    fields: [
      ["email", "em"],
      ["first_name", "fn"],
      ["last_name", "ln"],
      ["username", "un"],
      ["image_url", "im"],
    ],
    cascades: true,
  },
  organization: {
    table: "organizations",
    ids: ["g"],
    fields: [
      ["name", "nm"],
      ["slug", "sl"],
      ["image_url", "im"],
    ],
    cascades: true,
  },
  membership: {
    table: "organization_memberships",
    ids: ["m", "g", "u"],
    fields: [["role", "r"]],
    cascades: false,
  },
};

/**
 * The advisory locks an object of `shape` needs: one per id it names, as every writer takes them.
 *
 * @example
 * ```ts
 * lockKeys(SHAPES.membership, "production", { m: "orgmem_1", g: "org_1", u: "user_1" });
 * ```
 */
export function lockKeys(
  shape: Shape,
  environment: Environment,
  ids: Readonly<Partial<Record<IdKey, string | null>>>,
): string[] {
  const keys: string[] = [];
  for (const key of shape.ids) {
    const id = ids[key];
    if (typeof id === "string") keys.push(IDS[key].lock(environment, id));
  }
  return keys;
}

/** The column of a shape's own id. */
export function idColumn({ ids }: Shape): string {
  return IDS[ids[0] as IdKey].column;
}

/** The parts of a shape's SQL that every statement spells the same way. */
function parts({ table, ids, fields }: Shape) {
  const [own] = ids as [IdKey];
  const id = IDS[own].column;
  // What an upsert writes besides the object's own id, the environment and the payload: the other ids, the fields.
  const written = [...ids.slice(1).map((key) => [IDS[key].column, key] as const), ...fields];
  return {
    own,
    id,
    /** The row keys' declarations in a `*_to_recordset` column list. */
    recordTypes: [...ids.map((key) => `${key} text`), ...fields.map(([, key]) => `${key} text`)].join(", "),
    /** Whether a tombstone stands for any id of row `alias` (its environment in `alias.e`). */
    tombstoned: (alias: string) =>
      ids
        .map((key) => {
          const { column, tombstones } = IDS[key];
          return `exists (select 1 from ${tombstones} t where t.environment = ${alias}.e and t.${column} = ${alias}.${key})`;
        })
        .join("\n        or "),
    /** Insert-or-newer of the selected rows (`own`, `e`, the written keys, then payload, created, version). */
    upsert: (
      select: string,
    ) => `insert into ${table} as s (${id}, environment, ${written.map(([c]) => `${c}, `).join("")}raw_payload, clerk_created_at, clerk_updated_at)
  ${select.replace("$WRITTEN", written.map(([, key]) => `${key}, `).join(""))}
  on conflict (${id}, environment) do update set
    ${[...written.map(([column]) => column), "raw_payload", "clerk_created_at", "clerk_updated_at"].map((c) => `${c} = excluded.${c}`).join(", ")}, updated_at = now()
  where s.clerk_updated_at is null or s.clerk_updated_at < excluded.clerk_updated_at`,
  };
}

/**
 * The webhook's statement for a run of one resource's deliveries (the rules are in `applyBatch`'s comment). `$1`:
 * the run as a JSON array of rows `{ o, e, s, t, k, <ids>, ts, v, c, <fields>, d | b }`.
 */
function applyStatement(name: string, shape: Shape): Statement {
  const { table, ids, cascades } = shape;
  const { own, id, recordTypes, tombstoned, upsert } = parts(shape);
  return statement(
    name,
    `with input as (
  select x.*,
    timestamptz 'epoch' + x.ts * interval '1 millisecond' as event_at,
    timestamptz 'epoch' + x.v * interval '1 millisecond' as version,
    timestamptz 'epoch' + x.c * interval '1 millisecond' as created
  from jsonb_to_recordset($1) as x(o int, e text, s text, t text, k text, ts bigint, v bigint, c bigint,
    ${recordTypes}, d jsonb, b jsonb)
),
firsts as (
  select * from (
    select i.*, row_number() over (partition by i.e, i.s order by i.o) as n from input i
  ) as numbered
  where n = 1
    and (select true from webhook_deliveries w where w.environment = numbered.e and w.svix_id = numbered.s) is null
),
ordered as (
  select f.*,
    max(f.version) filter (where f.k = 'upsert') over earlier as earlier_version,
    coalesce(bool_or(f.k = 'delete') over earlier, false) as earlier_delete
  from firsts f
  window earlier as (partition by f.e, f.${own} order by f.o rows between unbounded preceding and 1 preceding)
),
judged as (
  select o.*,
    case
      when o.k = 'ignore' then 'ignored'
      when o.earlier_delete
        or ${tombstoned("o")}
        then 'stale'
      when o.k = 'delete' then 'applied'
      when o.version > coalesce(greatest(o.earlier_version,
          (select s.clerk_updated_at from ${table} s where s.environment = o.e and s.${id} = o.${own})),
          '-infinity') then 'applied'
      else 'stale'
    end as outcome
  from ordered o
),
deleted as (
  select * from judged where k = 'delete' and outcome = 'applied'
),
final as (
  select distinct on (j.e, j.${own}) j.* from judged j
  where j.k = 'upsert' and j.outcome = 'applied'
    and not exists (select 1 from deleted d where d.e = j.e and d.${own} = j.${own})
  order by j.e, j.${own}, j.o desc
),
upserted as (
  ${upsert(`select ${own}, e, $WRITTENcoalesce(d, b -> 'data'), created, version from final`)}
),
tombstoned as (
  insert into ${IDS[own].tombstones} (${id}, environment, deleted_at)
  select ${own}, e, coalesce(event_at, now()) from deleted
  on conflict do nothing
),
removed as (
  delete from ${table} s using deleted d where s.environment = d.e and s.${id} = d.${own}
),${
      cascades
        ? `
cascaded as (
  delete from organization_memberships m using deleted d where m.environment = d.e and m.${id} = d.${own}
),`
        : ""
    }
logged as (
  insert into webhook_deliveries (environment, svix_id, event_type, ${ids.map((key) => `${IDS[key].column}, `).join("")}event_timestamp, outcome)
  select e, s, t, ${ids.map((key) => `${key}, `).join("")}event_at, outcome from judged
)
select i.o, coalesce(j.outcome, 'duplicate') as outcome from input i left join judged j on j.o = i.o`,
    ["jsonb"],
    "o int, outcome text",
  );
}

/**
 * The backfill's statement for a page of one resource's objects as the Backend API listed them. `$1`: the rows, an
 * array of `{ o, e, <ids>, v, c, <fields> }`; `$2`: the page, the listed objects as Clerk sent them, element `o` each
 * row's payload (`json`: only the objects written are converted to `jsonb`, and `json`'s parser is the faster). Each row ends `created`, `updated`, `unchanged` (the same version is stored), `stale` (a newer
 * one is) or `tombstoned` (deleted: never brought back).
 */
function listedStatement(name: string, shape: Shape): Statement {
  const { table } = shape;
  const { own, id, recordTypes, tombstoned, upsert } = parts(shape);
  return statement(
    name,
    `with input as (
  select x.*, p.d,
    timestamptz 'epoch' + x.v * interval '1 millisecond' as version,
    timestamptz 'epoch' + x.c * interval '1 millisecond' as created
  from json_to_recordset($1) as x(o int, e text, v bigint, c bigint, ${recordTypes})
  join json_array_elements($2) with ordinality as p(d, n) on p.n = x.o + 1
),
judged as (
  select i.*,
    case
      when ${tombstoned("i")}
        then 'tombstoned'
      when s.${id} is null then 'created'
      when s.clerk_updated_at is null or s.clerk_updated_at < i.version then 'updated'
      when s.clerk_updated_at = i.version then 'unchanged'
      else 'stale'
    end as result
  from input i
  left join ${table} s on s.environment = i.e and s.${id} = i.${own}
),
written as (
  ${upsert(`select ${own}, e, $WRITTENd::jsonb, created, version from judged where result in ('created', 'updated')`)}
)
select o, result from judged`,
    ["json", "json"],
    "o int, result text",
  );
}

/**
 * The prune's statement: deletes and tombstones the named objects of one environment written before a time (with
 * their memberships, where deleting cascades), as a delete event would. `$1`: `{ e, before, ids }`.
 */
function pruneStatement(name: string, shape: Shape): Statement {
  const { table, cascades } = shape;
  const { own, id } = parts(shape);
  return statement(
    name,
    `with removed as (
  delete from ${table} s
  where s.environment = $1 ->> 'e'
    and s.created_at < ($1 ->> 'before')::timestamptz
    and s.${id} in (select jsonb_array_elements_text($1 -> 'ids'))
  returning s.${id}, s.environment
),
tombstoned as (
  insert into ${IDS[own].tombstones} (${id}, environment, deleted_at)
  select ${id}, environment, now() from removed
  on conflict do nothing
)${
      cascades
        ? `,
cascaded as (
  delete from organization_memberships m using removed r where m.environment = r.environment and m.${id} = r.${id}
)`
        : ""
    }
select count(*)::int as pruned from removed`,
    ["jsonb"],
    "pruned int",
  );
}

/** Every statement of each resource. */
export const STATEMENTS: Readonly<
  Record<Resource, { apply: Statement; listed: Statement; prune: Statement }>
> = {
  user: {
    apply: applyStatement("apply", SHAPES.user),
    listed: listedStatement("listed_users", SHAPES.user),
    prune: pruneStatement("prune_users", SHAPES.user),
  },
  organization: {
    apply: applyStatement("apply_organizations", SHAPES.organization),
    listed: listedStatement("listed_organizations", SHAPES.organization),
    prune: pruneStatement("prune_organizations", SHAPES.organization),
  },
  membership: {
    apply: applyStatement("apply_memberships", SHAPES.membership),
    listed: listedStatement("listed_memberships", SHAPES.membership),
    prune: pruneStatement("prune_memberships", SHAPES.membership),
  },
};

/** Every statement stored in the database as a function: `migrate` creates those missing. */
export const STORED: readonly Statement[] = [
  LOCK,
  ...Object.values(STATEMENTS).flatMap(({ apply, listed, prune }) => [apply, listed, prune]),
  BILLING_APPLY,
  BILLING_LISTED,
  BILLING_PLANS_LISTED,
];
