import type { Database } from "../db/database.js";
import type { Environment } from "../verify.js";
import { applyUsers, type UserResult } from "./apply-users.js";
import { type ClerkApi, MAX_PAGE_SIZE } from "./clerk-api.js";
import { PruneRefusedError } from "./errors.js";
import { planPrune, pruneUsers } from "./prune.js";

/** Options of {@link backfill}. */
export interface BackfillOptions {
  db: Database;
  /** The instance `api` lists; the rows' `environment`. */
  environment: Environment;
  api: ClerkApi;
  /** Users per request, 1–500 (500). */
  pageSize?: number;
  /** Run the same statements, roll them back, and report what they would have done. */
  dryRun?: boolean;
  /** After a complete listing, delete (and tombstone) the local users Clerk no longer has. */
  prune?: boolean;
  /** Prune even more than `maxPruneShare` of the environment's local users. */
  force?: boolean;
  /** The largest share of local users a prune may remove without `force` (0.1). */
  maxPruneShare?: number;
  /** Pages written at once while the next one is fetched (2 on PostgreSQL, 1 on PGlite's single connection). */
  writeConcurrency?: number;
  /** Called after every page is written, and once more at the end. */
  onProgress?: (progress: BackfillProgress) => void;
  /** Milliseconds, for the elapsed time. */
  now?: () => number;
}

/** How many listed users ended up each way. */
export type BackfillCounts = Record<UserResult, number>;

/** Where a backfill stands. Counts only: never a user's data. */
export interface BackfillProgress extends BackfillCounts {
  environment: Environment;
  dryRun: boolean;
  phase: "listing" | "pruning" | "done";
  /** Users listed and written so far. */
  done: number;
  /** What `GET /v1/users/count` said at the start (users created since may push `done` past it). */
  total: number;
  pages: number;
  /** Users deleted as missing from Clerk (or that would be, in a dry run); null without `--prune`. */
  pruned: number | null;
  elapsedMs: number;
}

/**
 * Loads every user of one Clerk instance from the Backend API into the `users` table, through the same guards as
 * webhooks: a newer stored state is kept, a deleted user stays deleted. With `prune`, and only after the listing
 * completed, removes the local users Clerk no longer has. Resolves with the final counts; rejects with a
 * `BackfillError` (`clerk_*`, `prune_refused`) or the database's error, after the pages already written.
 *
 * @example
 * ```ts
 * const api = new ClerkApi({ secretKey, rateLimit: RATE_LIMITS.production });
 * const summary = await backfill({ db, environment: "production", api, prune: true });
 * console.log(summary.created, summary.pruned);
 * ```
 */
export async function backfill(options: BackfillOptions): Promise<BackfillProgress> {
  const { db, environment, api, dryRun = false } = options;
  const now = options.now ?? Date.now;
  const pageSize = options.pageSize ?? MAX_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new RangeError(`backfill: pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  const concurrency = Math.max(1, options.writeConcurrency ?? (db.dialect === "postgres" ? 2 : 1));
  const started = now();
  // The database's clock, not ours: row `created_at`s come from it, and prune compares against them.
  const [clock] = await db.query<{ now: string }>("select now()::text as now");
  const listingStartedAt = clock?.now as string;

  const progress: BackfillProgress = {
    environment,
    dryRun,
    phase: "listing",
    done: 0,
    total: await api.countUsers(),
    pages: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    stale: 0,
    tombstoned: 0,
    pruned: null,
    elapsedMs: 0,
  };
  const report = () => options.onProgress?.({ ...progress, elapsedMs: now() - started });

  const listed = new Set<string>();
  const writes = new Set<Promise<void>>();
  let failed: { error: unknown } | undefined;
  try {
    for await (const page of api.pages({ pageSize })) {
      if (failed) throw failed.error;
      for (const user of page.users) listed.add(user.id);
      const write = applyUsers(db, environment, page.users, { dryRun, json: page.json }).then((results) => {
        for (const result of results) progress[result]++;
        progress.done += results.length;
        progress.pages++;
        report();
      });
      writes.add(write);
      write.then(
        () => writes.delete(write),
        (error: unknown) => {
          failed ??= { error }; // stays in the set too: the race below or the final await rethrows it
        },
      );
      // The next page is fetched while this one is written, up to `concurrency` writes at once.
      if (writes.size >= concurrency) await Promise.race(writes);
    }
    await Promise.all(writes);
  } finally {
    // Never leave a write running behind a failure: the caller may close the database next.
    await Promise.allSettled(writes);
  }

  if (options.prune) {
    progress.phase = "pruning";
    const plan = await planPrune(db, environment, listed, listingStartedAt);
    // A dry run rolled its inserts back; count them as the real run would.
    const local = plan.local + (dryRun ? progress.created : 0);
    const maxShare = options.maxPruneShare ?? 0.1;
    if (!options.force && plan.candidates.length > local * maxShare) {
      report();
      throw new PruneRefusedError(environment, plan.candidates.length, local, maxShare);
    }
    progress.pruned = await pruneUsers(db, environment, plan.candidates, listingStartedAt, { dryRun });
  }
  progress.phase = "done";
  report();
  return { ...progress, elapsedMs: now() - started };
}
