import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { ClerkApi, RATE_LIMITS } from "../backfill/clerk-api.js";
import type { Database } from "../db/database.js";
import { describe, type Logger } from "../log.js";
import type { ReconcileConfig } from "../service/config.js";
import type { Environment } from "../verify.js";
import { extendLease, takeLease } from "./lease.js";
import { type ReconcileResult, reconcileOnce } from "./run.js";

/** Options of {@link startReconcile}. */
export interface ReconcileSchedule {
  db: Database;
  /** Each instance to reconcile, with a Backend API client holding its secret key. */
  instances: readonly { environment: Environment; api: ClerkApi }[];
  /** How often each instance is reconciled, among all the processes sharing the database. */
  intervalMs: number;
  /** Delete what Clerk no longer has (RECONCILE_PRUNE), with the backfill's safety rules. */
  prune: boolean;
  logger: Logger;
  /** How often this process checks whether a run is due (the interval, at most a minute). */
  checkEveryMs?: number;
  /** Told after each run this process made. */
  onRun?: (result: ReconcileResult) => void;
}

/** A running schedule. */
export interface ReconcileScheduler {
  /** Stops checking; a run in progress goes on until the database closes under it (it is recorded as failed). */
  stop(): void;
}

/**
 * Reconciles each instance every `intervalMs`, in one process at a time among all those sharing the database: a run
 * takes the instance's lease (`reconcile:<environment>`) for the whole interval, and keeps extending it while it
 * runs, so whichever process finds it expired first runs next. The first check is at start: a fresh deploy runs
 * at once unless another process ran within the interval.
 *
 * @example
 * ```ts
 * const scheduler = startReconcile({ db, instances: [{ environment: "production", api }], intervalMs: 6 * 3600_000, prune: false, logger });
 * ```
 */
export function startReconcile(schedule: ReconcileSchedule): ReconcileScheduler {
  const { db, intervalMs, logger } = schedule;
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  const heartbeatMs = Math.max(10, Math.min(30_000, intervalMs / 2));
  let running = false;
  let stopped = false;

  async function check(): Promise<void> {
    if (running || stopped) return;
    running = true;
    try {
      for (const { environment, api } of schedule.instances) {
        if (stopped) break;
        const lease = `reconcile:${environment}`;
        if (!(await takeLease(db, lease, holder, intervalMs))) continue;
        const heartbeat = setInterval(() => {
          extendLease(db, lease, holder, heartbeatMs * 3).catch(() => {});
        }, heartbeatMs).unref();
        try {
          const result = await reconcileOnce({ db, environment, api, prune: schedule.prune, logger });
          schedule.onRun?.(result);
        } finally {
          clearInterval(heartbeat);
        }
      }
    } catch (error) {
      logger.warn({ error: describe(error) }, "reconcile: could not check the schedule; will try again");
    } finally {
      running = false;
    }
  }

  const timer = setInterval(check, schedule.checkEveryMs ?? Math.min(intervalMs, 60_000)).unref();
  void check();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/**
 * {@link startReconcile} as `serve` configures it (`loadReconcileConfig`): one Backend API client per instance, under
 * Clerk's rate limit for it, its retries logged without the key.
 *
 * @example
 * ```ts
 * const config = loadReconcileConfig(process.env);
 * const scheduler = config && startConfiguredReconcile(sync.database, config, logger);
 * ```
 */
export function startConfiguredReconcile(
  db: Database,
  config: ReconcileConfig,
  logger: Logger,
): ReconcileScheduler {
  const instances = config.instances.map(({ environment, secretKey, keyName, apiUrl }) => ({
    environment,
    api: new ClerkApi({
      secretKey,
      keyName,
      baseUrl: apiUrl,
      rateLimit: RATE_LIMITS[environment],
      onRetry: ({ attempt, waitMs, reason }) =>
        logger.warn({ environment, attempt, waitMs, reason }, "reconcile: Clerk failed, retrying"),
    }),
  }));
  return startReconcile({ db, instances, intervalMs: config.intervalMs, prune: config.prune, logger });
}
