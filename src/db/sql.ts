import type { Database } from "./database.js";
import { type Step, statement } from "./statements.js";

/**
 * The transaction every writer shares (webhook deliveries, the backfill, prune, the read-through): advisory locks,
 * then the work, in one round trip.
 */

/**
 * One transaction in one round trip through {@link Database.transaction}: the advisory locks of `keys` (sorted, in
 * their own statement, so that the next statement's snapshot sees whatever a competing holder committed), then the
 * steps, then commit (or, with `rollback`, a dry run's rollback). The locks are transaction-level: they end with it,
 * whichever server connection a pooler gave it. With `timeoutMs`, a statement that runs longer (waiting for a lock
 * held elsewhere, a stalled disk) is cancelled and the transaction fails (SQLSTATE 57014). Resolves with the rows of
 * the steps, one after the other.
 *
 * @example
 * ```ts
 * const rows = await lockedTransaction(db, keys, [{ statement: APPLY, values: [batchJson] }], { timeoutMs: 5000 });
 * ```
 */
export async function lockedTransaction(
  db: Database,
  keys: readonly string[],
  steps: readonly Step[],
  { timeoutMs, rollback }: { timeoutMs?: number | undefined; rollback?: boolean } = {},
): Promise<Record<string, unknown>[]> {
  // Local to the transaction (set_config's `true`); each statement after it starts its own timer.
  const timeout =
    timeoutMs === undefined ? [] : [{ statement: TIMEOUT, values: [String(Math.ceil(timeoutMs))] }];
  const lock = { statement: LOCK, values: [JSON.stringify(keys)] };
  const results = await db.transaction([...timeout, lock, ...steps], { rollback });
  const rows = results.slice(timeout.length + 1);
  if (rows.length !== steps.length) throw new Error("lockedTransaction: unexpected result shape");
  return rows.flat();
}

const TIMEOUT = statement("timeout", "select set_config('statement_timeout', $1, true)", ["text"]);

/** Stored (see `Statement`): it runs in every transaction. */
export const LOCK = statement(
  "lock",
  `select count(pg_advisory_xact_lock(k))::int as locks from (
  select distinct hashtextextended(key, 0) as k from jsonb_array_elements_text($1) as key
  order by 1) as ordered`,
  ["jsonb"],
  "locks int",
);
