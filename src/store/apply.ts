import { randomBytes } from "node:crypto";
import type { Database } from "../db/database.js";
import type { Delivery } from "../decode.js";

/**
 * What a delivery did, part of the HTTP contract:
 * - `applied`: the table changed to this event's state;
 * - `duplicate`: this `svix-id` was taken before; nothing written;
 * - `stale`: the table already holds a newer state, or the user is deleted; nothing changed but the log;
 * - `ignored`: not a user event; only logged.
 */
export type Outcome = "applied" | "duplicate" | "stale" | "ignored";

/**
 * Applies deliveries in one transaction and returns each one's outcome, in order. The result is the same as
 * applying them one by one in this order, whatever else commits concurrently:
 *
 * 1. Advisory locks, one per user and one per `svix-id`, taken in sorted order (no deadlocks) in their own
 *    statement, so that the next statement's snapshot already sees whatever a competing transaction committed.
 * 2. One statement decides every outcome from that snapshot and the batch itself (a delivery already logged is a
 *    duplicate; a tombstone or an earlier delete in the batch makes an event stale; an upsert applies only when
 *    its `updated_at` is newer than the stored one and every earlier one in the batch), then writes the final
 *    state of each user, the tombstones and the delivery log.
 *
 * The whole transaction is one round trip: the batch travels as one JSON document in a dollar-quoted literal
 * (no parameter escaping, whatever `standard_conforming_strings` says).
 */
export async function applyBatch(db: Database, deliveries: readonly Delivery[]): Promise<Outcome[]> {
  const rows = deliveries.map(toRow);
  const keys = [
    ...new Set(
      deliveries.flatMap((d) => {
        const message = `${d.environment}:message:${d.svixId}`;
        return d.clerkUserId === null ? [message] : [message, `${d.environment}:user:${d.clerkUserId}`];
      }),
    ),
  ];
  const results = await db.script(
    `begin;
select pg_advisory_xact_lock(k) from (
  select distinct hashtextextended(key, 0) as k from jsonb_array_elements_text(${literal(keys)}::jsonb) as key
  order by 1) as locks;
${APPLY.replace("$INPUT", () => literal(rows))};
commit;`,
  );
  const outcomes = results[2] as { o: number; outcome: Outcome }[] | undefined;
  if (outcomes?.length !== deliveries.length) throw new Error("apply: unexpected result shape");
  return outcomes.sort((a, b) => a.o - b.o).map((r) => r.outcome);
}

/** One delivery as the SQL below reads it (short keys: the batch is one JSON document). */
function toRow(d: Delivery, o: number) {
  const user = d.kind === "upsert" ? d.user : null;
  return {
    o,
    e: d.environment,
    s: d.svixId,
    t: d.type,
    k: d.kind,
    u: d.clerkUserId,
    ts: d.eventTime,
    v: user?.clerkUpdatedAt ?? null,
    c: user?.clerkCreatedAt ?? null,
    em: user?.email ?? null,
    fn: user?.firstName ?? null,
    ln: user?.lastName ?? null,
    un: user?.username ?? null,
    im: user?.imageUrl ?? null,
    d: d.kind === "upsert" ? d.data : null,
  };
}

/**
 * A dollar-quoted SQL literal of a JSON value, with a tag that cannot occur inside it (also used by the backfill).
 *
 * @example
 * ```ts
 * await db.script(`select * from jsonb_array_elements(${literal([1, 2])}::jsonb)`);
 * ```
 */
export function literal(value: unknown): string {
  const json = JSON.stringify(value);
  let tag: string;
  do tag = `$j${randomBytes(6).toString("hex")}$`;
  while (json.includes(tag));
  return `${tag}${json}${tag}`;
}

const APPLY = `with input as (
  select x.*,
    timestamptz 'epoch' + x.ts * interval '1 millisecond' as event_at,
    timestamptz 'epoch' + x.v * interval '1 millisecond' as version,
    timestamptz 'epoch' + x.c * interval '1 millisecond' as created
  from jsonb_to_recordset($INPUT::jsonb) as x(
    o int, e text, s text, t text, k text, u text, ts bigint, v bigint, c bigint,
    em text, fn text, ln text, un text, im text, d jsonb)
),
firsts as (
  select * from (
    select i.*, row_number() over (partition by i.e, i.s order by i.o) as n from input i
    where not exists (select 1 from webhook_deliveries w where w.environment = i.e and w.svix_id = i.s)
  ) as fresh
  where n = 1
),
ordered as (
  select f.*,
    max(f.version) filter (where f.k = 'upsert') over earlier as earlier_version,
    coalesce(bool_or(f.k = 'delete') over earlier, false) as earlier_delete
  from firsts f
  window earlier as (partition by f.e, f.u order by f.o rows between unbounded preceding and 1 preceding)
),
judged as (
  select o.*,
    case
      when o.k = 'ignore' then 'ignored'
      when o.earlier_delete
        or exists (select 1 from user_tombstones t where t.environment = o.e and t.clerk_user_id = o.u)
        then 'stale'
      when o.k = 'delete' then 'applied'
      when o.version > coalesce(greatest(o.earlier_version,
          (select s.clerk_updated_at from users s where s.environment = o.e and s.clerk_user_id = o.u)),
          '-infinity') then 'applied'
      else 'stale'
    end as outcome
  from ordered o
),
deleted as (
  select * from judged where k = 'delete' and outcome = 'applied'
),
final as (
  select distinct on (j.e, j.u) j.* from judged j
  where j.k = 'upsert' and j.outcome = 'applied'
    and not exists (select 1 from deleted d where d.e = j.e and d.u = j.u)
  order by j.e, j.u, j.o desc
),
upserted as (
  insert into users as s (clerk_user_id, environment, email, first_name, last_name, username, image_url,
    raw_payload, clerk_created_at, clerk_updated_at)
  select u, e, em, fn, ln, un, im, d, created, version from final
  on conflict (clerk_user_id, environment) do update set
    email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name,
    username = excluded.username, image_url = excluded.image_url, raw_payload = excluded.raw_payload,
    clerk_created_at = excluded.clerk_created_at, clerk_updated_at = excluded.clerk_updated_at, updated_at = now()
  where s.clerk_updated_at is null or s.clerk_updated_at < excluded.clerk_updated_at
),
tombstoned as (
  insert into user_tombstones (clerk_user_id, environment, deleted_at)
  select u, e, coalesce(event_at, now()) from deleted
  on conflict do nothing
),
removed as (
  delete from users s using deleted d where s.environment = d.e and s.clerk_user_id = d.u
),
logged as (
  insert into webhook_deliveries (environment, svix_id, event_type, clerk_user_id, event_timestamp, outcome)
  select e, s, t, u, event_at, outcome from judged
)
select i.o, coalesce(j.outcome, 'duplicate') as outcome from input i left join judged j on j.o = i.o`;
