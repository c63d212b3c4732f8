import type { Database } from "../db/database.js";
import { type Step, statement } from "../db/statements.js";
import type { BillingObjects } from "../decode.js";
import { listedItem, listedSubscription } from "../decode-billing.js";
import type { Environment } from "../verify.js";
import {
  applyBillingListed,
  applyPlansListed,
  type BillingListedResults,
  type ListedResult,
} from "./apply.js";
import { driftedPayers, type Payer } from "./billing-drift.js";
import type { ClerkApi, PayerKind } from "./clerk-api.js";
import { BillingDisabled } from "./errors.js";

/**
 * Clerk Billing's part of a backfill: the plans, every subscription item (the default plan's included), then the
 * subscription of each user and organization already stored, one request each, resumable; or, for the scheduled
 * reconcile, of only the payers the item walk shows behind here. Nothing is pruned: Clerk never deletes a Billing
 * object (docs/billing.md).
 */

/**
 * Whose subscription a Billing walk asks for: `"all"`, every stored user and organization, resumable by a checkpoint
 * (the backfill); `{ driftedAtMost }`, only the payers whose rows the item walk shows missing or behind, at most that
 * many, without a checkpoint (the scheduled reconcile: its cost follows the drift, not the number of payers).
 */
export type BillingPayers = "all" | { driftedAtMost: number };

/** What the Billing walk needs of the backfill running it. */
export interface Run {
  options: {
    db: Database;
    environment: Environment;
    api: ClerkApi;
    dryRun?: boolean;
    billingPayers?: BillingPayers;
  };
  /** Objects per listing request, and payers per transaction. */
  pageSize: number;
  /** Reports where the backfill stands. */
  report(): void;
}

/** Where the Billing backfill stands. Its counts are over every object written: plans, items, subscriptions. */
export interface BillingProgress extends Record<ListedResult, number> {
  /** `disabled`: the instance has no Billing (its endpoints answered so); skipped, not a failure. */
  state: "pending" | "listing" | "listed" | "disabled";
  /** What is being listed: the plans, the items, then each payer's subscription. */
  step: "plans" | "items" | "subscriptions";
  plans: number;
  items: number;
  subscriptions: number;
  /** Payers (stored users, then organizations) whose subscription was asked for, this run or the one it resumed. */
  done: number;
  /** Payers stored when the walk began; for a walk of the drifted payers, those it asks for. */
  total: number;
  /** Drifted payers beyond the bound of a walk of the drifted payers, left for its next run (0 otherwise). */
  deferred: number;
  /** Payers already done by an interrupted run this one went on from (0 for a fresh walk). */
  resumed: number;
  /** Requests answered and written. */
  pages: number;
}

/** A fresh {@link BillingProgress}. */
export function billingProgress(): BillingProgress {
  return {
    ...{ created: 0, updated: 0, unchanged: 0, stale: 0, tombstoned: 0 },
    state: "pending",
    step: "plans",
    plans: 0,
    items: 0,
    subscriptions: 0,
    done: 0,
    total: 0,
    deferred: 0,
    resumed: 0,
    pages: 0,
  };
}

/** Payers' subscriptions asked for at once: the client's rate limiter paces them. */
const PARALLEL_REQUESTS = 8;

/** The walk's name in `backfill_checkpoints`. */
const JOB = "billing_subscriptions";

/** Lists and writes Billing's plans, items and subscriptions; an instance without Billing ends `disabled`. */
export async function listBilling(run: Run, state: BillingProgress): Promise<void> {
  state.state = "listing";
  run.report();
  try {
    await listPlans(run, state);
    const changed = await listItems(run, state);
    const payers = run.options.billingPayers ?? "all";
    if (payers === "all") await listSubscriptions(run, state);
    else await listDriftedSubscriptions(run, state, changed, payers.driftedAtMost);
  } catch (error) {
    if (!(error instanceof BillingDisabled)) throw error;
    state.state = "disabled";
    run.report();
    return;
  }
  state.state = "listed";
  run.report();
}

async function listPlans({ options, pageSize, report }: Run, state: BillingProgress): Promise<void> {
  const { db, environment, api, dryRun = false } = options;
  state.step = "plans";
  for await (const page of api.billingPlanPages({ pageSize })) {
    count(state, await applyPlansListed(db, environment, page.rows, { dryRun }));
    state.plans += page.rows.length;
    state.pages++;
    report();
  }
}

/** Lists and writes every item; resolves with the ids of those it created or updated. */
async function listItems({ options, pageSize, report }: Run, state: BillingProgress): Promise<string[]> {
  const { db, environment, api, dryRun = false } = options;
  state.step = "items";
  const changed: string[] = [];
  for await (const page of api.billingItemPages({ pageSize })) {
    const objects = { subscriptions: [], items: page.rows.map(listedItem), paymentAttempts: [] };
    const results = await applyBillingListed(db, environment, objects, { dryRun });
    countAll(state, results);
    results.items.forEach((result, i) => {
      if (result === "created" || result === "updated") changed.push(page.rows[i]?.id as string);
    });
    state.items += page.rows.length;
    state.pages++;
    report();
  }
  return changed;
}

/**
 * Asks for the subscription of each stored user, then organization, `pageSize` payers at a time, each run written in
 * one transaction with the walk's checkpoint: an interrupted walk (a failure, a stopped process) goes on after the
 * last run written the next time, rather than from the start. A dry run neither reads nor writes the checkpoint.
 */
async function listSubscriptions(run: Run, state: BillingProgress): Promise<void> {
  const { db, environment, dryRun = false } = run.options;
  state.step = "subscriptions";
  const from = dryRun ? null : await checkpoint(db, environment);
  state.total = await countPayers(db, environment, null);
  state.resumed = from === null ? 0 : state.total - (await countPayers(db, environment, from));
  state.done = state.resumed;
  run.report();
  let position = from;
  for (;;) {
    const payers = await nextPayers(db, environment, position, run.pageSize);
    if (payers.length === 0) break;
    const last = payers.at(-1) as Payer;
    position = `${last.kind}:${last.id}`;
    await writeSubscriptions(run, state, payers, dryRun ? [] : [saveCheckpoint(environment, position)]);
  }
  if (!dryRun)
    await db.query("delete from backfill_checkpoints where environment = $1 and job = $2", [
      environment,
      JOB,
    ]);
}

/**
 * Asks for the subscription of each payer the item walk shows behind here (`changed`: the items it created or
 * updated), at most `limit`, `pageSize` payers per transaction. No checkpoint: the next run finds what is still
 * behind by itself, and a backfill's checkpoint stays the backfill's.
 */
async function listDriftedSubscriptions(
  run: Run,
  state: BillingProgress,
  changed: readonly string[],
  limit: number,
): Promise<void> {
  const { db, environment } = run.options;
  state.step = "subscriptions";
  const drifted = await driftedPayers(db, environment, changed, limit);
  state.total = drifted.payers.length;
  state.deferred = drifted.total - drifted.payers.length;
  run.report();
  for (let at = 0; at < drifted.payers.length; at += run.pageSize) {
    await writeSubscriptions(run, state, drifted.payers.slice(at, at + run.pageSize), []);
  }
}

/** Asks for each payer's subscription, and writes what the answers name in one transaction with `also`. */
async function writeSubscriptions(
  run: Run,
  state: BillingProgress,
  payers: readonly Payer[],
  also: readonly Step[],
): Promise<void> {
  const { db, environment, api, dryRun = false } = run.options;
  const answers = await inParallel(payers, (p) => api.payerSubscription(p.kind, p.id));
  const objects: BillingObjects = { subscriptions: [], items: [], paymentAttempts: [] };
  answers.forEach((answer, i) => {
    if (answer === null) return;
    const { kind, id } = payers[i] as Payer;
    const owner = { clerkUserId: kind === "user" ? id : null, clerkOrgId: kind === "user" ? null : id };
    const listed = listedSubscription(answer, owner);
    objects.subscriptions.push(...listed.subscriptions);
    objects.items.push(...listed.items);
  });
  countAll(state, await applyBillingListed(db, environment, objects, { dryRun, also }));
  state.subscriptions += objects.subscriptions.length;
  state.done += payers.length;
  state.pages += payers.length;
  run.report();
}

/** Where an interrupted walk of this environment stopped, if one did. */
async function checkpoint(db: Database, environment: Environment): Promise<string | null> {
  const [row] = await db.query<{ position: string }>(
    "select position from backfill_checkpoints where environment = $1 and job = $2",
    [environment, JOB],
  );
  return row?.position ?? null;
}

/** The step that records the walk's position, in the transaction that writes what it got. */
function saveCheckpoint(environment: Environment, position: string): Step {
  return { statement: SAVE, values: [JSON.stringify({ e: environment, job: JOB, position })] };
}

const SAVE = statement(
  "save_checkpoint",
  `insert into backfill_checkpoints (environment, job, position) values ($1 ->> 'e', $1 ->> 'job', $1 ->> 'position')
  on conflict (environment, job) do update set position = excluded.position, updated_at = now()`,
);

/**
 * The payers after `position` (`user:<id>` or `organization:<id>`; null: from the start), at most `limit`, in the
 * walk's order. Users come first, so a position among the organizations means every user is done.
 */
async function nextPayers(
  db: Database,
  environment: Environment,
  position: string | null,
  limit: number,
): Promise<Payer[]> {
  const [kind, id] = split(position);
  const users =
    kind === "organization"
      ? []
      : await db.query<{ id: string }>(
          "select clerk_user_id as id from users where environment = $1 and clerk_user_id > $2 order by clerk_user_id limit $3",
          [environment, id, limit],
        );
  const payers: Payer[] = users.map((u) => ({ kind: "user", id: u.id }));
  if (payers.length === limit) return payers;
  const organizations = await db.query<{ id: string }>(
    "select clerk_org_id as id from organizations where environment = $1 and clerk_org_id > $2 order by clerk_org_id limit $3",
    [environment, kind === "organization" ? id : "", limit - payers.length],
  );
  return [...payers, ...organizations.map((o) => ({ kind: "organization" as const, id: o.id }))];
}

/** How many payers the walk has after `position` (all of them from null). */
async function countPayers(db: Database, environment: Environment, position: string | null): Promise<number> {
  const [kind, id] = split(position);
  const [row] = await db.query<{ n: number }>(
    `select ((select count(*) from users where environment = $1 and $2 <> 'organization' and clerk_user_id > $3)
      + (select count(*) from organizations where environment = $1
          and clerk_org_id > case when $2 = 'organization' then $3 else '' end))::int as n`,
    [environment, kind ?? "user", id],
  );
  return row?.n ?? 0;
}

function split(position: string | null): [PayerKind | null, string] {
  if (position === null) return [null, ""];
  const at = position.indexOf(":");
  return [position.slice(0, at) as PayerKind, position.slice(at + 1)];
}

/**
 * `work` over `items`, at most {@link PARALLEL_REQUESTS} at once; the answers in input order. After a failure no
 * new work starts, and it rejects once the work under way has settled.
 */
async function inParallel<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const answers: R[] = [];
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        answers[i] = await work(items[i] as T);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_REQUESTS, items.length) }, worker));
  if (failed) throw failed.error;
  return answers;
}

function count(state: BillingProgress, results: readonly ListedResult[]): void {
  for (const result of results) state[result]++;
}

function countAll(state: BillingProgress, results: BillingListedResults): void {
  for (const list of Object.values(results)) count(state, list);
}
