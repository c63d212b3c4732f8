import type { Database } from "./database.js";
import { literal, prepared, type Step } from "./statements.js";

/**
 * The transaction every writer shares (webhook deliveries, backfill, prune): advisory locks, then the work, in one
 * round trip.
 */

/**
 * One transaction in one round trip: the advisory locks of `keys` (sorted, in their own statement, so that the
 * next statement's snapshot sees whatever a competing holder committed), then `statement`, then commit (or, for a
 * dry run, rollback). Resolves with the statement's rows.
 *
 * @example
 * ```ts
 * const rows = await lockedTransaction(db, [userLockKey("production", id)], "delete from users where …");
 * ```
 */
export async function lockedTransaction(
  db: Database,
  keys: readonly string[],
  statement: string,
  { rollback = false }: { rollback?: boolean } = {},
): Promise<Record<string, unknown>[]> {
  const lock = `execute ${LOCK.name}(${literal(keys)})`;
  const results = await db.script(`begin;\n${lock};\n${statement};\n${rollback ? "rollback" : "commit"};`, [
    LOCK,
  ]);
  // begin, the locks, the statement, the end.
  const rows = results[2];
  if (results.length !== 4 || rows === undefined)
    throw new Error("lockedTransaction: unexpected result shape");
  return rows;
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

const TIMEOUT = prepared("timeout", "select set_config('statement_timeout', $1, true)", ["text"]);

const LOCK = prepared(
  "lock",
  `select pg_advisory_xact_lock(k) from (
  select distinct hashtextextended(key, 0) as k from jsonb_array_elements_text($1) as key
  order by 1) as locks`,
);
