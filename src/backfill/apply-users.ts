import type { Database } from "../db/database.js";
import { lockedTransaction } from "../db/sql.js";
import { literal, quoted } from "../db/statements.js";
import { millis, storable, storableAsIs, userFields } from "../decode.js";
import { ConfigError } from "../errors.js";
import { userLockKey } from "../store/locks.js";
import { ENVIRONMENTS, type Environment } from "../verify.js";
import type { ClerkUser } from "./clerk-api.js";

/**
 * What a listed user did to the table:
 * - `created`: no row existed; one was inserted;
 * - `updated`: the row held an older state (`clerk_updated_at` before the listed `updated_at`); it was replaced;
 * - `unchanged`: the row already held this very state;
 * - `stale`: the row holds a newer state (a webhook got there first); left alone;
 * - `tombstoned`: the user was deleted; never brought back.
 */
export type UserResult = "created" | "updated" | "unchanged" | "stale" | "tombstoned";

/**
 * Writes one page of User objects from the Backend API under the same guards as webhook deliveries, in one
 * transaction and one round trip, and returns each user's {@link UserResult} in input order:
 *
 * 1. The same per-user advisory locks as `applyBatch` (`${environment}:user:${id}`, sorted, in their own statement),
 *    so a webhook for one of these users commits wholly before or wholly after, and the next statement's snapshot
 *    sees it.
 * 2. One statement judges every user against that snapshot and upserts the created and updated ones; its
 *    `on conflict … where` repeats the version guard.
 *
 * `raw_payload` is each User object as given. Pass the page's JSON text as `json` (the same array `users` was
 * parsed from) to send it as received instead of serialising `users` again. With `dryRun` the same statements run
 * and the transaction is rolled back: the results say what would happen.
 *
 * @example
 * ```ts
 * const { users, json } = await api.listUsers();
 * const results = await applyUsers(db, "production", users, { json });
 * ```
 */
export async function applyUsers(
  db: Database,
  environment: Environment,
  listed: readonly ClerkUser[],
  { dryRun = false, json }: { dryRun?: boolean; json?: string } = {},
): Promise<UserResult[]> {
  // The page goes to PostgreSQL as received unless it holds text PostgreSQL cannot store (see `storable`).
  const verbatim = json !== undefined && storableAsIs(json);
  const users = verbatim ? listed : (storable(listed) as ClerkUser[]);
  // Interpolated below: only ever one of two known words.
  if (!ENVIRONMENTS.includes(environment))
    throw new ConfigError([`applyUsers: unknown environment ${environment}`]);
  if (users.length === 0) return [];
  // One statement cannot upsert a row twice; the API never repeats a user in a page, but keep the newest if it did.
  const newest = new Map<string, number>();
  users.forEach((user, i) => {
    const kept = newest.get(user.id);
    if (kept === undefined || (users[kept] as ClerkUser).updated_at <= user.updated_at)
      newest.set(user.id, i);
  });
  const rows = [...newest.values()].map((i) => toRow(users[i] as ClerkUser, i));
  const keys = [...newest.keys()].map((id) => userLockKey(environment, id));
  const statement = JUDGE_AND_WRITE.replace(/\$(ENV|USERS|ROWS)/g, (_, name: string) =>
    name === "ENV"
      ? `'${environment}'`
      : name === "ROWS"
        ? literal(rows)
        : verbatim
          ? quoted(json)
          : literal(users),
  );
  const judged = (await lockedTransaction(db, keys, statement, { rollback: dryRun })) as {
    o: number;
    result: UserResult;
  }[];
  if (judged.length !== rows.length) throw new Error("applyUsers: unexpected result shape");
  // A repeated user's older copies changed nothing: the newest one decided.
  const byIndex = new Map(judged.map((r) => [r.o, r.result]));
  return users.map((_, i) => byIndex.get(i) ?? "stale");
}

/** One user as the SQL reads it: the derived columns; `o` is its index in the page, whose element is the payload. */
function toRow(user: ClerkUser, o: number) {
  const fields = userFields(user, millis(user.updated_at) ?? 0);
  return {
    o,
    u: user.id,
    v: fields.clerkUpdatedAt,
    c: fields.clerkCreatedAt,
    em: fields.email,
    fn: fields.firstName,
    ln: fields.lastName,
    un: fields.username,
    im: fields.imageUrl,
  };
}

// The payloads come in as json, not jsonb: only the users written are converted, and json's parser is the faster.
const JUDGE_AND_WRITE = `with input as (
  select x.*, p.d,
    timestamptz 'epoch' + x.v * interval '1 millisecond' as version,
    timestamptz 'epoch' + x.c * interval '1 millisecond' as created
  from json_to_recordset($ROWS::json) as x(o int, u text, v bigint, c bigint, em text, fn text, ln text, un text, im text)
  join json_array_elements($USERS::json) with ordinality as p(d, n) on p.n = x.o + 1
),
judged as (
  select i.*,
    case
      when exists (select 1 from user_tombstones t where t.environment = $ENV and t.clerk_user_id = i.u)
        then 'tombstoned'
      when s.clerk_user_id is null then 'created'
      when s.clerk_updated_at is null or s.clerk_updated_at < i.version then 'updated'
      when s.clerk_updated_at = i.version then 'unchanged'
      else 'stale'
    end as result
  from input i
  left join users s on s.environment = $ENV and s.clerk_user_id = i.u
),
written as (
  insert into users as s (clerk_user_id, environment, email, first_name, last_name, username, image_url,
    raw_payload, clerk_created_at, clerk_updated_at)
  select u, $ENV, em, fn, ln, un, im, d::jsonb, created, version from judged where result in ('created', 'updated')
  on conflict (clerk_user_id, environment) do update set
    email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name,
    username = excluded.username, image_url = excluded.image_url, raw_payload = excluded.raw_payload,
    clerk_created_at = excluded.clerk_created_at, clerk_updated_at = excluded.clerk_updated_at, updated_at = now()
  where s.clerk_updated_at is null or s.clerk_updated_at < excluded.clerk_updated_at
)
select o, result from judged`;
