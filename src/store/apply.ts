import type { Database } from "../db/database.js";
import { lockedPipeline } from "../db/sql.js";
import { type PreparedStatement, prepared } from "../db/statements.js";
import { type Delivery, type Resource, resourceOf, storableAsIs } from "../decode.js";
import { membershipLockKey, organizationLockKey, userLockKey } from "./locks.js";

/**
 * What a delivery did, part of the HTTP contract:
 * - `applied`: the table changed to this event's state;
 * - `duplicate`: this `svix-id` was taken before; nothing written;
 * - `stale`: the table already holds a newer state, or the object (or, for a membership, its organization or user)
 *   is deleted; nothing changed but the log;
 * - `ignored`: not an event this package writes; only logged.
 */
export type Outcome = "applied" | "duplicate" | "stale" | "ignored";

/**
 * A delivery to apply, with, when the caller has it, the exact JSON text it was decoded from: then its `data` goes
 * to PostgreSQL verbatim rather than serialised again (the largest part of a batch, and of its CPU).
 */
export type Applicable = Delivery & { readonly body?: string };

/**
 * Applies deliveries in one transaction and returns each one's outcome, in order. The result is the same as
 * applying them one by one in this order, whatever else commits concurrently:
 *
 * 1. Advisory locks, one per `svix-id` and per object an event can change or depends on, taken in sorted order
 *    (no deadlocks) in their own statement, so that the next statement's snapshot already sees whatever a
 *    competing transaction committed: a user event locks its user, an organization event its organization, a
 *    membership event the membership, its organization and its user (so it serialises with their deletes, which
 *    cascade to memberships).
 * 2. The batch is cut into maximal runs of one resource (users, organizations, memberships; an ignored delivery
 *    joins the run it is in) and each run is one statement, in order, in the same transaction and round trip: a
 *    statement sees what the ones before it wrote. A statement decides every outcome of its run from its snapshot
 *    and the run itself (a delivery already logged is a duplicate; a tombstone or an earlier delete in the run
 *    makes an event stale; an upsert applies only when its `updated_at` is newer than the stored one and every
 *    earlier one in the run), then writes the final state of each object, the tombstones, the cascades and the
 *    delivery log. A batch of user events alone is one statement, as it always was.
 *
 * The whole transaction is one round trip: each run travels as one JSON document, the parameter of its statement
 * ({@link lockedPipeline}). The statements are prepared once per connection: planning one took PostgreSQL longer
 * than executing it for a batch of 30.
 */
export async function applyBatch(
  db: Database,
  batch: readonly Prepared[],
  { timeoutMs }: { timeoutMs?: number } = {},
): Promise<Outcome[]> {
  const keys = [...new Set(batch.flatMap((p) => p.keys))];
  const steps = runs(batch).map(({ resource, rows }) => ({
    statement: STATEMENTS[resource],
    value: `[${rows.join(",")}]`,
  }));
  const outcomes = (await lockedPipeline(db, keys, steps, { timeoutMs })) as {
    o: number;
    outcome: Outcome;
  }[];
  if (outcomes.length !== batch.length) throw new Error("apply: unexpected result shape");
  return outcomes.sort((a, b) => a.o - b.o).map((r) => r.outcome);
}

/**
 * A delivery as {@link applyBatch} sends it, made when the delivery is queued: its row and its lock keys are then
 * built while the transaction before it runs, not between two transactions, when PostgreSQL would wait for them
 * (from one transaction's answer to the next batch on the wire, 0.096 → 0.078 ms median; docs/performance.md).
 */
export interface Prepared {
  readonly delivery: Applicable;
  /** The statement its row is for: its resource's, or the users' for an ignored delivery (see {@link runs}). */
  readonly resource: Resource;
  /** Its row of the batch, JSON text without its place in the batch (`o`), which is known only when it goes. */
  readonly row: string;
  /** The advisory locks it needs. */
  readonly keys: readonly string[];
}

/** Prepares a delivery for {@link applyBatch}. */
export function prepare(delivery: Applicable): Prepared {
  const resource = resourceOf(delivery) ?? "user";
  return { delivery, resource, row: ROWS[resource](delivery), keys: lockKeys(delivery) };
}

/** The advisory locks one delivery needs: its message, and every object it can change or depends on. */
function lockKeys(d: Applicable): string[] {
  const message = `${d.environment}:message:${d.svixId}`;
  switch (d.resource) {
    case "organization":
      return [message, organizationLockKey(d.environment, d.clerkOrgId)];
    case "membership":
      return [
        message,
        membershipLockKey(d.environment, d.clerkMembershipId),
        organizationLockKey(d.environment, d.clerkOrgId),
        userLockKey(d.environment, d.clerkUserId),
      ];
    default:
      return d.clerkUserId === null ? [message] : [message, userLockKey(d.environment, d.clerkUserId)];
  }
}

/**
 * The batch as maximal runs of one resource, each delivery as its row with `o`, its index in the batch, put first.
 * An ignored delivery joins the run it falls in (the first run, when it leads), so that ignored events never cut a
 * run in two, and its row is rebuilt for that run's statement when it is not the users'; a batch of ignored
 * deliveries alone is one run of users.
 */
function runs(batch: readonly Prepared[]): { resource: Resource; rows: string[] }[] {
  const first = batch.map((p) => resourceOf(p.delivery)).find((r) => r !== null) ?? "user";
  const list: { resource: Resource; rows: string[] }[] = [];
  batch.forEach(({ delivery, resource: own, row }, o) => {
    const resource = resourceOf(delivery) ?? list.at(-1)?.resource ?? first;
    const text = `{"o":${o},${(resource === own ? row : ROWS[resource](delivery)).slice(1)}`;
    const last = list.at(-1);
    if (last?.resource === resource) last.rows.push(text);
    else list.push({ resource, rows: [text] });
  });
  return list;
}

/** The fields every statement reads: the message, and the event's time. */
function envelope(d: Applicable) {
  return { e: d.environment, s: d.svixId, t: d.type, k: d.kind, ts: d.eventTime };
}

/**
 * An upsert's object goes either as `d`, or inside `b`, the whole event exactly as received: `decode` parsed that
 * text, so it is JSON, and PostgreSQL reads `data` from it. A body PostgreSQL would refuse goes as `decode`
 * cleaned it.
 */
function withData(row: string, d: Applicable): string {
  if (d.kind !== "upsert") return row;
  const verbatim = d.body !== undefined && storableAsIs(d.body);
  const data = verbatim ? `"b":${d.body}` : `"d":${JSON.stringify(d.data)}`;
  return `${row.slice(0, -1)},${data}}`;
}

/**
 * One delivery as each statement below reads it, as JSON text (short keys: a run is one JSON document), without
 * its place in the batch: {@link runs} puts `o` first.
 */
const ROWS: Record<Resource, (d: Applicable) => string> = {
  user(d) {
    // The hot path (every user event): one object literal, keys in the statement's order.
    const user =
      d.kind === "upsert" && d.resource !== "organization" && d.resource !== "membership" ? d.user : null;
    const row = JSON.stringify({
      e: d.environment,
      s: d.svixId,
      t: d.type,
      k: d.kind,
      u: d.resource === "organization" ? null : d.clerkUserId,
      ts: d.eventTime,
      v: user?.clerkUpdatedAt ?? null,
      c: user?.clerkCreatedAt ?? null,
      em: user?.email ?? null,
      fn: user?.firstName ?? null,
      ln: user?.lastName ?? null,
      un: user?.username ?? null,
      im: user?.imageUrl ?? null,
    });
    return withData(row, d);
  },
  organization(d) {
    const org = d.resource === "organization" && d.kind === "upsert" ? d.organization : null;
    const row = JSON.stringify({
      ...envelope(d),
      g: d.resource === "organization" ? d.clerkOrgId : null,
      v: org?.clerkUpdatedAt ?? null,
      c: org?.clerkCreatedAt ?? null,
      nm: org?.name ?? null,
      sl: org?.slug ?? null,
      im: org?.imageUrl ?? null,
    });
    return withData(row, d);
  },
  membership(d) {
    const ids = d.resource === "membership" ? d : null;
    const fields = d.resource === "membership" && d.kind === "upsert" ? d.membership : null;
    const row = JSON.stringify({
      ...envelope(d),
      m: ids?.clerkMembershipId ?? null,
      g: ids?.clerkOrgId ?? null,
      u: ids?.clerkUserId ?? null,
      v: fields?.clerkUpdatedAt ?? null,
      c: fields?.clerkCreatedAt ?? null,
      r: fields?.role ?? null,
    });
    return withData(row, d);
  },
};

/** Each Clerk id a row can carry, by its key in the row: its column, and the table of its object's tombstones. */
const IDS = {
  u: { column: "clerk_user_id", tombstones: "user_tombstones" },
  g: { column: "clerk_org_id", tombstones: "organization_tombstones" },
  m: { column: "clerk_membership_id", tombstones: "organization_membership_tombstones" },
} as const;

/** How one resource's statement differs from the others'. */
interface Shape {
  /** The table of its objects. */
  table: string;
  /** The ids its events name, the object's own first: each is locked, logged, and a tombstone of any makes it stale. */
  ids: readonly (keyof typeof IDS)[];
  /** Its columns from the object's fields (besides the ids and the payload), each with its key in the row. */
  fields: readonly (readonly [column: string, key: string])[];
  /** Whether deleting it deletes its memberships (a user's, an organization's). */
  cascades: boolean;
}

/**
 * The statement that applies a run of one resource (the rules are in {@link applyBatch}'s comment): the same for
 * every resource but for the table, the ids, the fields and the cascade.
 */
function applyStatement(name: string, { table, ids, fields, cascades }: Shape): PreparedStatement {
  const [own] = ids as [keyof typeof IDS];
  const id = IDS[own].column;
  const tombstoneChecks = ids.map((key) => {
    const { column, tombstones } = IDS[key];
    return `or exists (select 1 from ${tombstones} t where t.environment = o.e and t.${column} = o.${key})`;
  });
  // What an upsert writes besides the object's own id, the environment and the payload: the other ids, the fields.
  const written = [...ids.slice(1).map((key) => [IDS[key].column, key] as const), ...fields];
  const writtenColumns = written.map(([column]) => `${column}, `).join("");
  const writtenKeys = written.map(([, key]) => `${key}, `).join("");
  const updated = [
    ...written.map(([column]) => column),
    "raw_payload",
    "clerk_created_at",
    "clerk_updated_at",
  ]
    .map((column) => `${column} = excluded.${column}`)
    .join(", ");
  const idColumns = ids.map((key) => `${IDS[key].column}, `).join("");
  const idKeys = ids.map((key) => `${key}, `).join("");
  const idTypes = ids.map((key) => `${key} text, `).join("");
  return prepared(
    name,
    `with input as (
  select x.*,
    timestamptz 'epoch' + x.ts * interval '1 millisecond' as event_at,
    timestamptz 'epoch' + x.v * interval '1 millisecond' as version,
    timestamptz 'epoch' + x.c * interval '1 millisecond' as created
  from jsonb_to_recordset($1) as x(
    o int, e text, s text, t text, k text, ${idTypes}ts bigint, v bigint, c bigint,
    ${fields.map(([, key]) => `${key} text, `).join("")}d jsonb, b jsonb)
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
        ${tombstoneChecks.join("\n        ")}
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
  insert into ${table} as s (${id}, environment, ${writtenColumns}raw_payload, clerk_created_at, clerk_updated_at)
  select ${own}, e, ${writtenKeys}coalesce(d, b -> 'data'), created, version from final
  on conflict (${id}, environment) do update set
    ${updated}, updated_at = now()
  where s.clerk_updated_at is null or s.clerk_updated_at < excluded.clerk_updated_at
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
  insert into webhook_deliveries (environment, svix_id, event_type, ${idColumns}event_timestamp, outcome)
  select e, s, t, ${idKeys}event_at, outcome from judged
)
select i.o, coalesce(j.outcome, 'duplicate') as outcome from input i left join judged j on j.o = i.o`,
  );
}

/** The statement that applies a run of each resource. */
const STATEMENTS: Record<Resource, PreparedStatement> = {
  user: applyStatement("apply", {
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
  }),
  organization: applyStatement("apply_organizations", {
    table: "organizations",
    ids: ["g"],
    fields: [
      ["name", "nm"],
      ["slug", "sl"],
      ["image_url", "im"],
    ],
    cascades: true,
  }),
  membership: applyStatement("apply_memberships", {
    table: "organization_memberships",
    ids: ["m", "g", "u"],
    fields: [["role", "r"]],
    cascades: false,
  }),
};
