import { createHash, randomBytes } from "node:crypto";
import type { Database, PreparedStatement } from "./database.js";

/**
 * The SQL toolkit every writer shares (webhook deliveries, backfill, prune): one locked transaction in one round
 * trip, JSON as dollar-quoted literals, statements prepared once per connection.
 */

/**
 * One transaction in one round trip: the advisory locks of `keys` (sorted, in their own statement, so that the
 * next statement's snapshot sees whatever a competing holder committed), then `statement` (or several, in order:
 * each sees what the ones before it wrote), then commit (or, for a dry run, rollback). Resolves with the rows of
 * the statements, one after the other. With `timeoutMs`, a statement that runs longer (waiting
 * for a lock held elsewhere, a stalled disk) is cancelled and the transaction fails (SQLSTATE 57014).
 *
 * @example
 * ```ts
 * const rows = await lockedTransaction(db, [userLockKey("production", id)], "delete from users where …");
 * ```
 */
export async function lockedTransaction(
  db: Database,
  keys: readonly string[],
  statement: string | readonly string[],
  {
    rollback = false,
    prepared = [],
    timeoutMs,
  }: { rollback?: boolean; prepared?: readonly PreparedStatement[]; timeoutMs?: number | undefined } = {},
): Promise<Record<string, unknown>[]> {
  const timeout = timeoutMs === undefined ? [] : [`set local statement_timeout = ${Math.ceil(timeoutMs)}`];
  const work = typeof statement === "string" ? [statement] : statement;
  const statements = [
    "begin",
    ...timeout,
    `execute ${LOCK.name}(${literal(keys)})`,
    ...work,
    rollback ? "rollback" : "commit",
  ];
  const results = await db.script(`${statements.join(";\n")};`, [LOCK, ...prepared]);
  const rows = results.slice(statements.length - 1 - work.length, statements.length - 1);
  if (rows.length !== work.length) throw new Error("lockedTransaction: unexpected result shape");
  return work.length === 1 ? (rows[0] as Record<string, unknown>[]) : rows.flat();
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
  return quoted(JSON.stringify(value));
}

/**
 * JSON text as a dollar-quoted literal, `open` and `close` around it. The search for a free tag runs on the text as
 * given: wrapped first, a batch would be copied once more, only to be searched.
 */
export function quoted(json: string, open = "", close = ""): string {
  let tag: string;
  do tag = `$j${TAG_PREFIX}${(tags++).toString(36)}$`;
  while (json.includes(tag));
  return `${tag}${open}${json}${close}${tag}`;
}

/** Random once per process: no text can be made to hold the tags in advance (and loop the search above). */
const TAG_PREFIX = randomBytes(6).toString("hex");
let tags = 0;

/**
 * A statement prepared once per connection, under a name that changes with its text, so a connection never runs
 * another version's plan.
 *
 * @example
 * ```ts
 * const COUNT = prepared("count", "select jsonb_array_length($1)");
 * ```
 */
export function prepared(name: string, text: string): PreparedStatement {
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 12);
  return { name: `clerk_user_sync_${name}_${hash}`, parameters: ["jsonb"], text };
}

const LOCK = prepared(
  "lock",
  `select pg_advisory_xact_lock(k) from (
  select distinct hashtextextended(key, 0) as k from jsonb_array_elements_text($1) as key
  order by 1) as locks`,
);
