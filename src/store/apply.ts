import type { Database } from "../db/database.js";
import { lockedTransaction, prepared, quoted } from "../db/sql.js";
import { type Delivery, storableAsIs } from "../decode.js";
import { userLockKey } from "./locks.js";

/**
 * What a delivery did, part of the HTTP contract:
 * - `applied`: the table changed to this event's state;
 * - `duplicate`: this `svix-id` was taken before; nothing written;
 * - `stale`: the table already holds a newer state, or the user is deleted; nothing changed but the log;
 * - `ignored`: not a user event; only logged.
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
 * 1. Advisory locks, one per user and one per `svix-id`, taken in sorted order (no deadlocks) in their own
 *    statement, so that the next statement's snapshot already sees whatever a competing transaction committed.
 * 2. One statement decides every outcome from that snapshot and the batch itself (a delivery already logged is a
 *    duplicate; a tombstone or an earlier delete in the batch makes an event stale; an upsert applies only when
 *    its `updated_at` is newer than the stored one and every earlier one in the batch), then writes the final
 *    state of each user, the tombstones and the delivery log.
 *
 * The whole transaction is one round trip: the batch travels as one JSON document in a dollar-quoted literal
 * (no parameter escaping, whatever `standard_conforming_strings` says). Both statements are prepared once per
 * connection: planning the second one took PostgreSQL longer than executing it for a batch of 30.
 */
export async function applyBatch(
  db: Database,
  deliveries: readonly Applicable[],
  { timeoutMs }: { timeoutMs?: number } = {},
): Promise<Outcome[]> {
  const keys = [
    ...new Set(
      deliveries.flatMap((d) => {
        const message = `${d.environment}:message:${d.svixId}`;
        return d.clerkUserId === null ? [message] : [message, userLockKey(d.environment, d.clerkUserId)];
      }),
    ),
  ];
  const outcomes = (await lockedTransaction(
    db,
    keys,
    `execute ${APPLY.name}(${quoted(deliveries.map(toRow).join(","), "[", "]")})`,
    { prepared: [APPLY], timeoutMs },
  )) as { o: number; outcome: Outcome }[];
  if (outcomes.length !== deliveries.length) throw new Error("apply: unexpected result shape");
  return outcomes.sort((a, b) => a.o - b.o).map((r) => r.outcome);
}

/**
 * One delivery as the SQL below reads it, as JSON text (short keys: the batch is one JSON document). An upsert's
 * User object goes either as `d`, or inside `b`, the whole event exactly as received: `decode` parsed that text, so
 * it is JSON, and PostgreSQL reads `data` from it.
 */
function toRow(d: Applicable, o: number): string {
  const user = d.kind === "upsert" ? d.user : null;
  const row = JSON.stringify({
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
  });
  if (d.kind !== "upsert") return row;
  // A body PostgreSQL would refuse goes as `decode` cleaned it.
  const verbatim = d.body !== undefined && storableAsIs(d.body);
  const data = verbatim ? `"b":${d.body}` : `"d":${JSON.stringify(d.data)}`;
  return `${row.slice(0, -1)},${data}}`;
}

const APPLY = prepared(
  "apply",
  `with input as (
  select x.*,
    timestamptz 'epoch' + x.ts * interval '1 millisecond' as event_at,
    timestamptz 'epoch' + x.v * interval '1 millisecond' as version,
    timestamptz 'epoch' + x.c * interval '1 millisecond' as created
  from jsonb_to_recordset($1) as x(
    o int, e text, s text, t text, k text, u text, ts bigint, v bigint, c bigint,
    em text, fn text, ln text, un text, im text, d jsonb, b jsonb)
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
  select u, e, em, fn, ln, un, im, coalesce(d, b -> 'data'), created, version from final
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
select i.o, coalesce(j.outcome, 'duplicate') as outcome from input i left join judged j on j.o = i.o`,
);
