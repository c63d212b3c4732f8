import { type Statement, statement } from "../db/statements.js";
import type { BillingObjects } from "../decode.js";

/**
 * Clerk Billing's objects, described once like the other resources' shapes (src/store/shapes.ts), and the webhook's
 * statement for a run of Billing deliveries built from the descriptions, stored as a function like theirs.
 */

/** A column's type as a statement reads it from JSON: times travel as Unix milliseconds. */
type ColumnType = "text" | "boolean" | "integer" | "bigint" | "time";

/** One Billing table: where an event's objects of this kind go. */
export interface BillingShape {
  readonly table: string;
  /** Its objects' key in {@link BillingObjects} and in a statement's row. */
  readonly key: keyof BillingObjects;
  /** The column of the object's own Clerk id. */
  readonly id: string;
  /** Its columns from the object (the keys of a `BillingObject`), each with its type. */
  readonly fields: readonly (readonly [column: string, type: ColumnType])[];
  /** Links that an event may not know (an item's subscription): a null never overwrites a stored value. */
  readonly kept: readonly string[];
}

const PAYER = [
  ["payer_id", "text"],
  ["clerk_user_id", "text"],
  ["clerk_org_id", "text"],
] as const;

/** The tables a Billing event writes, in the order a statement writes them. */
export const BILLING_SHAPES: readonly BillingShape[] = [
  {
    table: "billing_subscriptions",
    key: "subscriptions",
    id: "clerk_subscription_id",
    fields: [
      ...PAYER,
      ["status", "text"],
      ["active_at", "time"],
      ["canceled_at", "time"],
      ["ended_at", "time"],
      ["past_due_at", "time"],
    ],
    kept: ["payer_id", "clerk_user_id", "clerk_org_id"],
  },
  {
    table: "billing_subscription_items",
    key: "items",
    id: "clerk_item_id",
    fields: [
      ["clerk_subscription_id", "text"],
      ...PAYER,
      ["plan_id", "text"],
      ["plan_slug", "text"],
      ["status", "text"],
      ["is_free_trial", "boolean"],
      ["interval", "text"],
      ["period_start", "time"],
      ["period_end", "time"],
      ["seats", "integer"],
    ],
    kept: ["clerk_subscription_id", "payer_id", "clerk_user_id", "clerk_org_id"],
  },
  {
    table: "billing_payment_attempts",
    key: "paymentAttempts",
    id: "clerk_payment_attempt_id",
    fields: [
      ["payment_id", "text"],
      ["statement_id", "text"],
      ...PAYER,
      ["status", "text"],
      ["charge_type", "text"],
      ["amount", "bigint"],
      ["currency", "text"],
      ["paid_at", "time"],
      ["failed_at", "time"],
    ],
    kept: ["payer_id", "clerk_user_id", "clerk_org_id"],
  },
];

/** `name`'s value in an object row, as its column's type. */
function columnValue(name: string, type: ColumnType): string {
  return type === "time" ? `timestamptz 'epoch' + ${name} * interval '1 millisecond'` : name;
}

/**
 * One shape's part of the statement: its objects of the run's new deliveries, each judged (`applied` when its
 * version, then its event's time, is above the stored one's and every earlier one's of the run), and the newest
 * applied state of each object written.
 */
function shapeParts({ table, key, id, fields, kept }: BillingShape): { ctes: string; applied: string } {
  const columns = fields.map(([column]) => column);
  const recordTypes = fields
    .map(([column, type]) => `${column} ${type === "time" ? "bigint" : type}`)
    .join(", ");
  const ctes = `${key}_in as (
  select f.o, f.e, f.event_at, y.id, y.raw,
    timestamptz 'epoch' + y.v * interval '1 millisecond' as version,
    timestamptz 'epoch' + y.c * interval '1 millisecond' as created,
    ${fields.map(([column, type]) => `${columnValue(`y.${column}`, type)} as ${column}`).join(",\n    ")}
  from firsts f
  cross join lateral jsonb_to_recordset(coalesce(f.x -> '${key}', '[]')) as y(id text, v bigint, c bigint, raw jsonb,
    ${recordTypes})
  where f.k = 'upsert'
),
${key}_judged as (
  select i.* from ${key}_in i
  where not exists (select 1 from ${table} s where s.environment = i.e and s.${id} = i.id
      and (s.clerk_updated_at, coalesce(s.clerk_event_at, '-infinity')) >= (i.version, i.event_at))
    and not exists (select 1 from ${key}_in p where p.e = i.e and p.id = i.id and p.o < i.o
      and (p.version, p.event_at) >= (i.version, i.event_at))
),
${key}_written as (
  insert into ${table} as s (${id}, environment, ${columns.join(", ")}, raw_payload, clerk_created_at,
    clerk_updated_at, clerk_event_at)
  select distinct on (j.e, j.id) j.id, j.e, ${columns.map((c) => `j.${c}`).join(", ")}, j.raw, j.created, j.version,
    nullif(j.event_at, '-infinity')
  from ${key}_judged j
  order by j.e, j.id, j.o desc
  on conflict (environment, ${id}) do update set
    ${columns.map((c) => (kept.includes(c) ? `${c} = coalesce(excluded.${c}, s.${c})` : `${c} = excluded.${c}`)).join(", ")},
    raw_payload = excluded.raw_payload, clerk_created_at = excluded.clerk_created_at,
    clerk_updated_at = excluded.clerk_updated_at, clerk_event_at = excluded.clerk_event_at, updated_at = now()
  where (s.clerk_updated_at, coalesce(s.clerk_event_at, '-infinity'))
    < (excluded.clerk_updated_at, coalesce(excluded.clerk_event_at, '-infinity'))
)`;
  return { ctes, applied: `exists (select 1 from ${key}_judged j where j.o = f.o)` };
}

/**
 * The webhook's statement for a run of Billing deliveries (the rules are `applyBatch`'s). `$1`: the run as a JSON
 * array of rows `{ o, e, s, t, k, ts, u, g, x }`, `x` the delivery's {@link BillingObjects}. A delivery is `applied`
 * when any object it carries is; `stale` when every one of them is already stored as new or newer. Status never
 * orders: a default plan's item goes active, ended, active again under one id, each state newer than the last.
 */
function billingApplyStatement(): Statement {
  const parts = BILLING_SHAPES.map(shapeParts);
  return statement(
    "apply_billing",
    `with input as (
  select r.*, timestamptz 'epoch' + r.ts * interval '1 millisecond' as event_time
  from jsonb_to_recordset($1) as r(o int, e text, s text, t text, k text, ts bigint, u text, g text, x jsonb)
),
firsts as (
  select numbered.*, coalesce(numbered.event_time, '-infinity') as event_at from (
    select i.*, row_number() over (partition by i.e, i.s order by i.o) as n from input i
  ) as numbered
  where n = 1
    and (select true from webhook_deliveries w where w.environment = numbered.e and w.svix_id = numbered.s) is null
),
${parts.map((p) => p.ctes).join(",\n")},
judged as (
  select f.*,
    case
      when f.k = 'ignore' then 'ignored'
      when ${parts.map((p) => p.applied).join(" or ")} then 'applied'
      else 'stale'
    end as outcome
  from firsts f
),
logged as (
  insert into webhook_deliveries (environment, svix_id, event_type, clerk_user_id, clerk_org_id, event_timestamp, outcome)
  select e, s, t, u, g, event_time, outcome from judged
)
select i.o, coalesce(j.outcome, 'duplicate') as outcome from input i left join judged j on j.o = i.o`,
    ["jsonb"],
    "o int, outcome text",
  );
}

/** The webhook's statement for Billing deliveries, stored as a function (`migrate` creates it). */
export const BILLING_APPLY = billingApplyStatement();

/**
 * One shape's part of the backfill's statement: its listed objects judged against the stored rows (`created`;
 * `updated`: the stored version is older; `unchanged`: the same version, whatever event wrote it; `stale`: newer),
 * the created and updated ones written (the `on conflict … where` repeating the guard), and, on an unchanged row,
 * the links it lacks filled in (an item's subscription, a payer), nothing else.
 */
function listedParts({ table, key, id, fields, kept }: BillingShape): { ctes: string; results: string } {
  const columns = fields.map(([column]) => column);
  const recordTypes = fields
    .map(([column, type]) => `${column} ${type === "time" ? "bigint" : type}`)
    .join(", ");
  const ctes = `${key}_in as (
  select y.o, y.e, y.id, y.raw,
    timestamptz 'epoch' + y.v * interval '1 millisecond' as version,
    timestamptz 'epoch' + y.c * interval '1 millisecond' as created,
    ${fields.map(([column, type]) => `${columnValue(`y.${column}`, type)} as ${column}`).join(",\n    ")}
  from jsonb_to_recordset(coalesce($1 -> '${key}', '[]')) as y(o int, e text, id text, v bigint, c bigint,
    raw jsonb, ${recordTypes})
),
${key}_judged as (
  select distinct on (i.e, i.id) i.*,
    case
      when s.${id} is null then 'created'
      when s.clerk_updated_at is null or s.clerk_updated_at < i.version then 'updated'
      when s.clerk_updated_at = i.version then 'unchanged'
      else 'stale'
    end as result
  from ${key}_in i
  left join ${table} s on s.environment = i.e and s.${id} = i.id
  order by i.e, i.id, i.version desc, i.o desc
),
${key}_written as (
  insert into ${table} as s (${id}, environment, ${columns.join(", ")}, raw_payload, clerk_created_at,
    clerk_updated_at, clerk_event_at)
  select j.id, j.e, ${columns.map((c) => `j.${c}`).join(", ")}, j.raw, j.created, j.version, null
  from ${key}_judged j where j.result in ('created', 'updated')
  on conflict (environment, ${id}) do update set
    ${columns.map((c) => (kept.includes(c) ? `${c} = coalesce(excluded.${c}, s.${c})` : `${c} = excluded.${c}`)).join(", ")},
    raw_payload = excluded.raw_payload, clerk_created_at = excluded.clerk_created_at,
    clerk_updated_at = excluded.clerk_updated_at, clerk_event_at = null, updated_at = now()
  where s.clerk_updated_at is null or s.clerk_updated_at < excluded.clerk_updated_at
),
${key}_linked as (
  update ${table} s set ${kept.map((c) => `${c} = coalesce(s.${c}, j.${c})`).join(", ")}, updated_at = now()
  from ${key}_judged j
  where j.result = 'unchanged' and s.environment = j.e and s.${id} = j.id
    and (${kept.map((c) => `(s.${c} is null and j.${c} is not null)`).join(" or ")})
)`;
  const results = `select '${key}'::text as k, i.o, coalesce(j.result, 'stale') as result
  from ${key}_in i left join ${key}_judged j on j.e = i.e and j.id = i.id and j.o = i.o`;
  return { ctes, results };
}

/**
 * The backfill's statement for Billing objects as the Backend API listed them. `$1`: `{ subscriptions, items,
 * paymentAttempts }`, each an array of rows `{ o, e, id, v, c, raw, <columns> }` (a {@link BillingObject} with its
 * place `o` and environment `e`). Returns each row's result by its key `k` and place `o`; of an object repeated in one
 * call, the newest copy decides and the others are `stale`.
 */
function billingListedStatement(): Statement {
  const parts = BILLING_SHAPES.map(listedParts);
  return statement(
    "listed_billing",
    `with ${parts.map((p) => p.ctes).join(",\n")}
${parts.map((p) => p.results).join("\nunion all\n")}`,
    ["jsonb"],
    "k text, o int, result text",
  );
}

/**
 * The backfill's statement for Billing plans. Plans have no version and Clerk sends no plan events: the list is the
 * truth, each plan `created`, `updated` (its payload changed) or `unchanged`. `$1`: rows `{ o, e, id, raw, slug,
 * name, is_default, for_payer_type }`.
 */
function plansListedStatement(): Statement {
  return statement(
    "listed_billing_plans",
    `with input as (
  select y.* from jsonb_to_recordset($1) as y(o int, e text, id text, raw jsonb, slug text, name text,
    is_default boolean, for_payer_type text)
),
judged as (
  select distinct on (i.e, i.id) i.*,
    case when p.clerk_plan_id is null then 'created' when p.raw_payload = i.raw then 'unchanged' else 'updated' end
      as result
  from input i left join billing_plans p on p.environment = i.e and p.clerk_plan_id = i.id
  order by i.e, i.id, i.o desc
),
written as (
  insert into billing_plans as p (clerk_plan_id, environment, slug, name, is_default, for_payer_type, raw_payload)
  select id, e, slug, name, is_default, for_payer_type, raw from judged where result <> 'unchanged'
  on conflict (environment, clerk_plan_id) do update set slug = excluded.slug, name = excluded.name,
    is_default = excluded.is_default, for_payer_type = excluded.for_payer_type,
    raw_payload = excluded.raw_payload, updated_at = now()
)
select i.o, coalesce(j.result, 'unchanged') as result
from input i left join judged j on j.e = i.e and j.id = i.id and j.o = i.o`,
    ["jsonb"],
    "o int, result text",
  );
}

/** The backfill's statements for Billing, stored as functions (`migrate` creates them). */
export const BILLING_LISTED = billingListedStatement();
export const BILLING_PLANS_LISTED = plansListedStatement();
