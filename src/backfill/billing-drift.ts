import type { Database } from "../db/database.js";
import type { Environment } from "../verify.js";
import type { PayerKind } from "./clerk-api.js";

/**
 * Which payers' subscriptions the scheduled reconcile asks for: those whose local Billing rows the instance-wide
 * item walk shows missing or behind, rather than every stored user and organization (docs/billing.md).
 */

/** A payer to ask for its subscription. */
export interface Payer {
  kind: PayerKind;
  id: string;
}

/** The payers to ask for, in the walk's order (users, then organizations, by id), and how many drifted in all. */
export interface DriftedPayers {
  payers: Payer[];
  /** Every drifted payer, `payers` and those beyond the bound. */
  total: number;
}

/**
 * The stored users and organizations whose subscription is missing or behind here, at most `limit` of them:
 * - the payer of an item the walk just created or updated (`changed`): its subscription changed with it, and a new
 *   item is linked to its subscription only by the subscription's own answer;
 * - the payer of an item linked to a subscription that is not stored (its `subscription.*` event was missed);
 * - the payer of an unlinked item when no subscription of that payer is stored (beside a stored one, an unlinked item
 *   is no drift: the subscription's answer may leave an old item out, and asking again would not link it).
 *
 * Each condition holds only until the payer's subscription is written, so an unchanged instance asks for nobody. An
 * item that names only its `payer_id` (the list may leave `payer` out) takes the user or organization another row
 * of the same payer names; one no row names cannot be asked for. Deleted payers have no row and are never asked.
 */
export async function driftedPayers(
  db: Database,
  environment: Environment,
  changed: readonly string[],
  limit: number,
): Promise<DriftedPayers> {
  const rows = await db.query<{ kind: PayerKind; id: string; n: number }>(DRIFTED, [
    environment,
    changed,
    limit,
  ]);
  return { payers: rows.map(({ kind, id }) => ({ kind, id })), total: rows[0]?.n ?? 0 };
}

// The candidates first (the changed items, the linked ones whose subscription is missing, the unlinked ones), each
// found by equality joins PostgreSQL hashes; the payers' names are looked up only for candidates that lack them.
const DRIFTED = `with candidates as (
  select i.payer_id, i.clerk_user_id as u, i.clerk_org_id as g, i.clerk_item_id = any($2::text[]) as changed,
    i.clerk_subscription_id is null as unlinked
  from billing_subscription_items i
  left join billing_subscriptions linked
    on linked.environment = $1 and linked.clerk_subscription_id = i.clerk_subscription_id
  where i.environment = $1
    and (i.clerk_item_id = any($2::text[]) or i.clerk_subscription_id is null or linked.clerk_subscription_id is null)
),
nameless as (
  select distinct payer_id from candidates where u is null and g is null and payer_id is not null
),
names as (
  select named.payer_id, max(named.clerk_user_id) as u, max(named.clerk_org_id) as g from (
    select payer_id, clerk_user_id, clerk_org_id from billing_subscriptions where environment = $1
    union all
    select payer_id, clerk_user_id, clerk_org_id from billing_subscription_items where environment = $1
  ) as named
  join nameless using (payer_id)
  group by named.payer_id
),
resolved as (
  select c.payer_id, c.changed, c.unlinked, coalesce(c.u, n.u) as u, coalesce(c.g, n.g) as g
  from candidates c left join names n on n.payer_id = c.payer_id
),
subscribed as (
  select distinct key from billing_subscriptions s
  cross join lateral (values (s.payer_id), ('user:' || s.clerk_user_id), ('organization:' || s.clerk_org_id)) as k(key)
  where s.environment = $1 and key is not null
    and exists (select 1 from resolved r where r.unlinked and not r.changed)
),
drifted as (
  select r.u, r.g from resolved r
  left join subscribed byPayer on byPayer.key = r.payer_id
  left join subscribed byUser on byUser.key = 'user:' || r.u
  left join subscribed byOrg on byOrg.key = 'organization:' || r.g
  where r.changed or not r.unlinked or (byPayer.key is null and byUser.key is null and byOrg.key is null)
),
payers as (
  select distinct 'user' as kind, d.u as id from drifted d
  join users s on s.environment = $1 and s.clerk_user_id = d.u
  union
  select distinct 'organization', d.g from drifted d
  join organizations o on o.environment = $1 and o.clerk_org_id = d.g
)
select kind, id, (count(*) over ())::int as n from payers
order by kind = 'organization', id
limit $3`;
