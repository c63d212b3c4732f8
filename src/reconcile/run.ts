import { type BackfillProgress, backfill } from "../backfill/backfill.js";
import type { ClerkApi } from "../backfill/clerk-api.js";
import type { Database } from "../db/database.js";
import { SyncError } from "../errors.js";
import { describe, type Logger } from "../log.js";
import type { Environment } from "../verify.js";

/** How one reconcile ended: what the `reconcile_runs` row and the log line say. */
export interface ReconcileResult {
  environment: Environment;
  outcome: "succeeded" | "failed";
  /** Objects Clerk listed (users, organizations, memberships, Billing's plans, items and subscriptions). */
  listed: number;
  /** Drift repaired: rows missing here and written, rows brought up to date, rows Clerk no longer has deleted. */
  created: number;
  updated: number;
  /** Null when the run did not prune. */
  deleted: number | null;
  /** The catalogued code of a failure (`clerk_unavailable`, `prune_refused`, …; `internal_error` for others). */
  code: string | null;
  durationMs: number;
}

/**
 * The most payers' Billing subscriptions one reconcile asks for: the rest of a larger drift waits for the next run
 * (each request is paced by the client's rate limiter, shared with the app's own Backend API calls).
 */
export const DRIFTED_PAYERS_PER_RUN = 1000;

/**
 * One reconcile of one instance: the backfill's walk (users, organizations, memberships, then Billing when the
 * instance has it, through the guarded statements; of the payers' subscriptions, only those the item walk shows
 * missing or behind here), pruning only when `prune` (with the backfill's safety rules: a complete listing, at most a
 * tenth of the rows), recorded in `reconcile_runs` and logged in one line of counts. Never throws: a failure is
 * recorded.
 *
 * @example
 * ```ts
 * const result = await reconcileOnce({ db, environment: "production", api, prune: false, logger });
 * ```
 */
export async function reconcileOnce(options: {
  db: Database;
  environment: Environment;
  api: ClerkApi;
  prune: boolean;
  logger: Logger;
  /** Users per Backend API request (500) and pages written at once (1): a run in `serve` shares the process. */
  pageSize?: number;
  writeConcurrency?: number;
  /** The most payers' Billing subscriptions asked for ({@link DRIFTED_PAYERS_PER_RUN}). */
  driftedPayersAtMost?: number;
  now?: () => number;
}): Promise<ReconcileResult> {
  const { db, environment, logger } = options;
  const now = options.now ?? Date.now;
  const started = now();
  let last: BackfillProgress | undefined;
  let code: string | null = null;
  let id: string | undefined;
  try {
    const [row] = await db.query<{ id: string }>(
      "insert into reconcile_runs (environment) values ($1) returning id",
      [environment],
    );
    id = row?.id;
    last = await backfill({
      db,
      environment,
      api: options.api,
      prune: options.prune,
      pageSize: options.pageSize,
      writeConcurrency: options.writeConcurrency ?? 1,
      billingPayers: { driftedAtMost: options.driftedPayersAtMost ?? DRIFTED_PAYERS_PER_RUN },
      onProgress: (p) => {
        last = p;
      },
    });
  } catch (error) {
    code = error instanceof SyncError ? error.code : "internal_error";
    if (!(error instanceof SyncError))
      logger.error({ environment, error: describe(error) }, "reconcile failed");
  }
  const deferred = last?.billing?.deferred ?? 0;
  if (deferred > 0)
    logger.warn(
      { environment, deferred },
      "reconcile: more Billing payers drifted than one run asks for; the rest wait for the next",
    );
  const result = summarise(environment, last, options.prune, code, now() - started);
  await record(db, id, result).catch((error: unknown) =>
    logger.warn({ environment, error: describe(error) }, "reconcile: could not record the run"),
  );
  const { outcome, listed, created, updated, deleted, durationMs } = result;
  const line = { environment, outcome, listed, created, updated, deleted, durationMs, code };
  if (outcome === "succeeded") logger.info(line, "reconcile");
  else logger.warn(line, "reconcile");
  return result;
}

function summarise(
  environment: Environment,
  p: BackfillProgress | undefined,
  prune: boolean,
  code: string | null,
  durationMs: number,
): ReconcileResult {
  const parts = [p, p?.organizations, p?.memberships];
  const sum = (pick: (x: NonNullable<(typeof parts)[number]>) => number | null) =>
    parts.reduce((n, x) => n + (x ? (pick(x) ?? 0) : 0), 0);
  const billing = p?.billing;
  return {
    environment,
    outcome: code === null ? "succeeded" : "failed",
    listed: sum((x) => x.done) + (billing ? billing.plans + billing.items + billing.subscriptions : 0),
    created: sum((x) => x.created) + (billing?.created ?? 0),
    updated: sum((x) => x.updated) + (billing?.updated ?? 0),
    deleted: prune ? sum((x) => x.pruned) : null,
    code,
    durationMs,
  };
}

async function record(db: Database, id: string | undefined, r: ReconcileResult): Promise<void> {
  if (id === undefined) return;
  await db.query(
    `update reconcile_runs set finished_at = now(), outcome = $2, listed = $3, created = $4, updated = $5,
       deleted = $6, error_code = $7 where id = $1`,
    [id, r.outcome, r.listed, r.created, r.updated, r.deleted, r.code],
  );
}
