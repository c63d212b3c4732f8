import type { Database } from "../db/database.js";
import { ConfigError } from "../errors.js";
import type { Environment } from "../verify.js";
import { applyMemberships, applyOrganizations, applyUsers, type ListedResult } from "./apply.js";
import { type BillingPayers, type BillingProgress, billingProgress, listBilling } from "./billing.js";
import { type ClerkApi, MAX_PAGE_SIZE, type OffsetPage } from "./clerk-api.js";
import { OrganizationsDisabled, PruneRefusedError } from "./errors.js";
import { type Prunable, type PrunableResource, planResourcePrune, pruneResource } from "./prune.js";

/** What a backfill can load. */
export const BACKFILL_RESOURCES = ["users", "organizations", "memberships", "billing"] as const;
export type BackfillResource = (typeof BACKFILL_RESOURCES)[number];

/** Options of {@link backfill}. */
export interface BackfillOptions {
  db: Database;
  /** The instance `api` lists; the rows' `environment`. */
  environment: Environment;
  api: ClerkApi;
  /** Rows per request, 1–500 (500). */
  pageSize?: number;
  /** What to load (everything by default; `billing` asks Clerk once per stored user and organization). */
  only?: readonly BackfillResource[];
  /** Whose Billing subscription to ask for (`"all"` by default; the scheduled reconcile: only the drifted payers). */
  billingPayers?: BillingPayers;
  /** Run the same statements, roll them back, and report what they would have done. */
  dryRun?: boolean;
  /**
   * After a complete listing, delete (and tombstone) the local users, organizations and memberships Clerk no
   * longer has. Organizations and memberships are listed by offset, which skips rows deleted during the walk: they
   * are pruned only when the listing is provably complete (the same `total_count` at start and end, every row
   * seen), otherwise the prune is refused (`prune_refused`, {@link PruneRefusedError}).
   */
  prune?: boolean;
  /** Prune even more than `maxPruneShare` of the environment's local users. */
  force?: boolean;
  /** The largest share of local users a prune may remove without `force` (0.1). */
  maxPruneShare?: number;
  /** Pages written at once while the next one is fetched (2, at most what the database runs at once: 1 on PGlite). */
  writeConcurrency?: number;
  /** Called after every page is written, and once more at the end. */
  onProgress?: (progress: BackfillProgress) => void;
  /** Milliseconds, for the elapsed time. */
  now?: () => number;
}

/** How many listed users ended up each way. */
export type BackfillCounts = Record<ListedResult, number>;

/** Where the listing of organizations or of memberships stands. */
export interface ResourceProgress extends BackfillCounts {
  /** `disabled`: the instance answered 403 `organization_not_enabled_in_instance`; skipped, not a failure. */
  state: "pending" | "listing" | "listed" | "disabled";
  done: number;
  /** `total_count` as the first page reported it. */
  total: number;
  pages: number;
  /** Whether the listing is provably complete (same total at start and end, every row seen); null until listed. */
  complete: boolean | null;
  /** Rows deleted as missing from Clerk (or that would be, in a dry run); null without `--prune`. */
  pruned: number | null;
}

/**
 * Where a backfill stands. Counts only: never a user's data. The top-level counts are the users'; organizations
 * and memberships have their own (null when not asked).
 */
export interface BackfillProgress extends BackfillCounts {
  environment: Environment;
  dryRun: boolean;
  phase: "listing" | "pruning" | "done";
  /** What is being listed (or was last). */
  resource: BackfillResource;
  /** What was asked for. */
  only: BackfillResource[];
  organizations: ResourceProgress | null;
  memberships: ResourceProgress | null;
  /** Clerk Billing's plans, items and subscriptions (null when not asked). */
  billing: BillingProgress | null;
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
  const run = await begin(options);
  const users = await listUsers(run);
  const listings = await listByOffset(run);
  if (run.progress.billing) {
    // Last: its subscriptions are asked for per user and organization stored, so after those are.
    run.progress.resource = "billing";
    await listBilling(run, run.progress.billing);
  }
  // Billing is never pruned: Clerk deletes no Billing object, and a deleted payer's tombstone hides its plan.
  if (options.prune) {
    run.progress.phase = "pruning";
    if (run.progress.only.includes("users")) await pruneUsers(run, users);
    for (const name of PRUNABLE) await pruneListed(run, name, listings[name]);
  }
  run.progress.phase = "done";
  run.report();
  return { ...run.progress, elapsedMs: run.elapsed() };
}

/** A backfill under way: its options, where it stands, and how to report it. */
export interface Run {
  options: BackfillOptions;
  pageSize: number;
  /** Pages written at once while the next one is fetched. */
  concurrency: number;
  /** The database's clock at the start: rows written since are never pruned. */
  listingStartedAt: string;
  progress: BackfillProgress;
  report(): void;
  elapsed(): number;
}

/** What the organizations' and memberships' offset walks saw: the ids, and `total_count` at the end. */
type Listing = { ids: Set<string>; totalAtEnd: number };

const PRUNABLE = ["organizations", "memberships"] as const;

/** Validates the options, reads the database's clock and Clerk's count of users: the run's starting point. */
async function begin(options: BackfillOptions): Promise<Run> {
  const { db, environment, api, dryRun = false } = options;
  const now = options.now ?? Date.now;
  const pageSize = options.pageSize ?? MAX_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new ConfigError([`backfill: pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`]);
  }
  const started = now();
  // The database's clock, not ours: row `created_at`s come from it, and prune compares against them.
  const [clock] = await db.query<{ now: string }>("select now()::text as now");
  const only = BACKFILL_RESOURCES.filter((r) => (options.only ?? BACKFILL_RESOURCES).includes(r));
  const resource = (name: BackfillResource): ResourceProgress | null =>
    only.includes(name)
      ? { ...zero(), state: "pending", done: 0, total: 0, pages: 0, complete: null, pruned: null }
      : null;
  const progress: BackfillProgress = {
    ...zero(),
    environment,
    dryRun,
    phase: "listing",
    resource: only[0] ?? "users",
    only,
    organizations: resource("organizations"),
    memberships: resource("memberships"),
    billing: only.includes("billing") ? billingProgress() : null,
    done: 0,
    total: only.includes("users") ? await api.countUsers() : 0,
    pages: 0,
    pruned: null,
    elapsedMs: 0,
  };
  const elapsed = () => now() - started;
  return {
    options,
    pageSize,
    concurrency: Math.max(1, Math.min(options.writeConcurrency ?? 2, db.concurrency)),
    listingStartedAt: clock?.now as string,
    progress,
    report: () => options.onProgress?.({ ...progress, elapsedMs: elapsed() }),
    elapsed,
  };
}

/**
 * Lists every user and writes each page through the guarded statement, fetching the next page while up to
 * `concurrency` are written; resolves with the ids listed.
 */
async function listUsers({ options, pageSize, concurrency, progress, report }: Run): Promise<Set<string>> {
  const { db, environment, api, dryRun = false } = options;
  const listed = new Set<string>();
  const writes = new Set<Promise<void>>();
  let failed: { error: unknown } | undefined;
  try {
    for await (const page of progress.only.includes("users") ? api.pages({ pageSize }) : []) {
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
      if (writes.size >= concurrency) await Promise.race(writes);
    }
    await Promise.all(writes);
  } finally {
    // Never leave a write running behind a failure: the caller may close the database next.
    await Promise.allSettled(writes);
  }
  return listed;
}

/** Lists the organizations, then the memberships (each asked for), over offset pages, writing each page. */
async function listByOffset(run: Run): Promise<Record<PrunableResource, Listing>> {
  const listings: Record<PrunableResource, Listing> = {
    organizations: { ids: new Set(), totalAtEnd: 0 },
    memberships: { ids: new Set(), totalAtEnd: 0 },
  };
  for (const name of PRUNABLE) {
    const state = run.progress[name];
    if (!state) continue;
    run.progress.resource = name;
    if (name === "memberships" && run.progress.organizations?.state === "disabled") {
      state.state = "disabled";
      continue;
    }
    await listOneByOffset(run, name, state, listings[name]);
  }
  return listings;
}

/**
 * One resource's offset walk. It is provably complete when `total_count` is the same at the start and the end and
 * every row was seen: offset pages skip rows deleted during the walk. An instance without organizations is
 * `disabled`, not a failure.
 */
async function listOneByOffset(
  { options, pageSize, report }: Run,
  name: PrunableResource,
  state: ResourceProgress,
  listing: Listing,
): Promise<void> {
  const { db, environment, api, dryRun = false } = options;
  state.state = "listing";
  const pages: AsyncIterable<OffsetPage<{ id: string }>> =
    name === "organizations" ? api.organizationPages({ pageSize }) : api.membershipPages({ pageSize });
  const write = (rows: never[]) =>
    name === "organizations"
      ? applyOrganizations(db, environment, rows, { dryRun })
      : applyMemberships(db, environment, rows, { dryRun });
  let first: number | undefined;
  try {
    for await (const page of pages) {
      first ??= page.totalCount;
      listing.totalAtEnd = page.totalCount;
      state.total = first;
      for (const row of page.rows) listing.ids.add(row.id);
      for (const result of await write(page.rows as never[])) state[result]++;
      state.done += page.rows.length;
      state.pages++;
      report();
    }
  } catch (error) {
    if (!(error instanceof OrganizationsDisabled)) throw error;
    state.state = "disabled";
    report();
    return;
  }
  state.state = "listed";
  state.complete = (first ?? 0) === listing.totalAtEnd && listing.ids.size === listing.totalAtEnd;
  report();
}

/** Prunes the local users Clerk did not list, unless they are too large a share of them (without `force`). */
async function pruneUsers(run: Run, listed: ReadonlySet<string>): Promise<void> {
  run.progress.pruned = await pruneChecked(run, "users", listed, run.progress.created);
}

/** Prunes an offset-listed resource, only after a provably complete listing. */
async function pruneListed(run: Run, name: PrunableResource, listing: Listing): Promise<void> {
  const state = run.progress[name];
  if (state?.state !== "listed") return;
  run.progress.resource = name;
  if (!state.complete) {
    run.report();
    throw new PruneRefusedError({
      reason: "incomplete_listing",
      resource: name,
      seen: listing.ids.size,
      totalAtStart: state.total,
      totalAtEnd: listing.totalAtEnd,
    });
  }
  state.pruned = await pruneChecked(run, name, listing.ids, state.created);
}

/** Plans the prune of `resource`, refuses too large a share (unless forced), prunes; resolves with the count. */
async function pruneChecked(
  { options, listingStartedAt, report }: Run,
  resource: Prunable,
  listed: ReadonlySet<string>,
  created: number,
): Promise<number> {
  const { db, environment, dryRun = false } = options;
  const maxShare = options.maxPruneShare ?? 0.1;
  const plan = await planResourcePrune(db, resource, environment, listed, listingStartedAt);
  // A dry run rolled its inserts back; count them as the real run would.
  const local = plan.local + (dryRun ? created : 0);
  if (!options.force && plan.candidates.length > local * maxShare) {
    report();
    throw new PruneRefusedError({
      reason: "too_many",
      environment,
      resource,
      candidates: plan.candidates.length,
      local,
      maxShare,
    });
  }
  return await pruneResource(db, resource, environment, plan.candidates, listingStartedAt, { dryRun });
}

function zero(): BackfillCounts {
  return { created: 0, updated: 0, unchanged: 0, stale: 0, tombstoned: 0 };
}
