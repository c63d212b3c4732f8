import { createHash, randomBytes } from "node:crypto";
import type { Database, PreparedStatement, Step } from "./database.js";

/**
 * The SQL toolkit every writer shares (webhook deliveries, backfill, prune): one locked transaction in one round
 * trip, JSON as dollar-quoted literals, statements prepared once per connection.
 */

/**
 * One transaction in one round trip: the advisory locks of `keys` (sorted, in their own statement, so that the
 * next statement's snapshot sees whatever a competing holder committed), then `statement` (or several, in order:
 * each sees what the ones before it wrote), then commit (or, for a dry run, rollback). Resolves with the rows of
 * the statements, one after the other.
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
  { rollback = false }: { rollback?: boolean } = {},
): Promise<Record<string, unknown>[]> {
  const work = typeof statement === "string" ? [statement] : statement;
  const statements = [
    "begin",
    `execute ${LOCK.name}(${literal(keys)})`,
    ...work,
    rollback ? "rollback" : "commit",
  ];
  const results = await db.script(`${statements.join(";\n")};`, [LOCK]);
  const rows = results.slice(2, 2 + work.length);
  if (rows.length !== work.length) throw new Error("lockedTransaction: unexpected result shape");
  return rows.flat();
}

/**
 * {@link lockedTransaction} for prepared statements, each given its parameter (the webhook's path): the same locks
 * first, then the steps, committed, through {@link Database.pipeline}. With `timeoutMs`, a statement that runs
 * longer (waiting for a lock held elsewhere, a stalled disk) is cancelled and the transaction fails (SQLSTATE 57014).
 * Resolves with the rows of the steps, one after the other.
 *
 * @example
 * ```ts
 * const rows = await lockedPipeline(db, keys, [{ statement: APPLY, value: batchJson }], { timeoutMs: 5000 });
 * ```
 */
export async function lockedPipeline(
  db: Database,
  keys: readonly string[],
  steps: readonly Step[],
  { timeoutMs }: { timeoutMs?: number | undefined } = {},
): Promise<Record<string, unknown>[]> {
  // Local to the transaction; each statement after it starts its own timer.
  const timeout =
    timeoutMs === undefined ? [] : [{ statement: TIMEOUT, value: String(Math.ceil(timeoutMs)) }];
  const lock = { statement: LOCK, value: JSON.stringify(keys) };
  const results = await db.pipeline([...timeout, lock, ...steps]);
  const rows = results.slice(timeout.length + 1);
  if (rows.length !== steps.length) throw new Error("lockedPipeline: unexpected result shape");
  return rows.flat();
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
 * A statement prepared once per connection, under a name that changes with its text and its parameters' types
 * (one `jsonb` unless given), so a connection never runs another version's plan.
 *
 * @example
 * ```ts
 * const COUNT = prepared("count", "select jsonb_array_length($1)");
 * ```
 */
export function prepared(
  name: string,
  text: string,
  parameters: readonly string[] = ["jsonb"],
): PreparedStatement {
  const hash = createHash("sha256")
    .update(`${parameters.join(",")}:${text}`)
    .digest("hex")
    .slice(0, 12);
  return { name: `clerk_user_sync_${name}_${hash}`, parameters, text };
}

const TIMEOUT = prepared("timeout", "select set_config('statement_timeout', $1, true)", ["text"]);

const LOCK = prepared(
  "lock",
  `select pg_advisory_xact_lock(k) from (
  select distinct hashtextextended(key, 0) as k from jsonb_array_elements_text($1) as key
  order by 1) as locks`,
);
