import type { BackfillProgress, ResourceProgress } from "./backfill.js";
import type { BillingProgress } from "./billing.js";

/** Where progress goes: a terminal gets a bar redrawn in place, anything else one line per page. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Shows a backfill's progress; `end()` before printing anything else. */
export interface ProgressReporter {
  update(progress: BackfillProgress): void;
  end(): void;
}

/**
 * A progress display for {@link BackfillProgress} snapshots: on a TTY, one bar (done / total, rate, ETA) redrawn
 * at most every `intervalMs`; elsewhere (logs, CI) one plain line per page. It only ever shows counts.
 *
 * @example
 * ```ts
 * const progress = progressReporter(process.stderr);
 * await backfill({ ...options, onProgress: progress.update });
 * progress.end();
 * ```
 */
export function progressReporter(
  stream: ProgressStream,
  { intervalMs = 100, now = Date.now }: { intervalMs?: number; now?: () => number } = {},
): ProgressReporter {
  let drawn = false;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let lastPage = "";
  return {
    update(p) {
      if (stream.isTTY) {
        const t = now();
        if (p.phase === "listing" && t - lastDraw < intervalMs) return;
        lastDraw = t;
        drawn = true;
        stream.write(`\r\x1b[2K${bar(p)}`);
      } else if (p.phase === "listing") {
        const other = p.resource === "users" ? null : p[p.resource];
        const page = `${p.resource}:${other ? `${other.state}:${other.pages}` : p.pages}`;
        if (page === lastPage) return;
        lastPage = page;
        if (!other) stream.write(`${line(p)}\n`);
        else if (other.state === "disabled") stream.write(`${disabled(p, p.resource)}\n`);
        else if (p.resource === "billing") {
          if (other.pages > 0 || p.billing?.resumed)
            stream.write(`${billingLine(p, p.billing as BillingProgress)}\n`);
        } else if (other.pages > 0)
          stream.write(`${resourceLine(p, p.resource, other as ResourceProgress)}\n`);
      }
    },
    end() {
      if (drawn) stream.write("\n");
      drawn = false;
    },
  };
}

/**
 * The closing report, for stdout: what was done (or, in a dry run, what would have been), counts only.
 *
 * @example
 * ```ts
 * console.log(formatSummary(await backfill(options)));
 * ```
 */
export function formatSummary(
  p: BackfillProgress,
  outcome: "complete" | "failed" | "prune refused" = "complete",
): string {
  const mode = p.dryRun ? " (dry run: nothing was written)" : "";
  const verb = p.dryRun ? "would have " : "";
  const resources = (["organizations", "memberships"] as const)
    .map((name) => {
      const r = p[name];
      if (!r) return "";
      if (r.state === "disabled")
        return `  ${name}: skipped, organizations are not enabled in this instance\n`;
      const pruned =
        outcome === "prune refused" && r.pruned === null
          ? "0 (refused)"
          : r.pruned === null
            ? "not asked"
            : String(r.pruned);
      return (
        `  ${name}: ${r.done} listed (Clerk counted ${r.total}${r.complete === false ? ", listing incomplete" : ""}), ` +
        `${verb}created ${r.created}, updated ${r.updated}, unchanged ${r.unchanged}, ` +
        `skipped as stale ${r.stale}, skipped as tombstoned ${r.tombstoned}, pruned ${pruned}\n`
      );
    })
    .join("");
  const billing = p.billing ? billingSummary(p.billing, verb) : "";
  if (!p.only.includes("users")) {
    const status =
      outcome === "failed" ? "FAILED; the pages written stay written, nothing was pruned" : outcome;
    return `backfill ${p.environment}${mode}: ${status} in ${seconds(p.elapsedMs)}\n${resources}${billing}`;
  }
  const status =
    outcome === "failed"
      ? `FAILED after ${p.done} of ${p.total} users; the pages written stay written, nothing was pruned`
      : `${outcome === "complete" ? "complete" : "listing complete"}, ${p.done} users listed ` +
        `(Clerk counted ${p.total}) in ${seconds(p.elapsedMs)} (${rate(p)} users/s)`;
  const pruned =
    outcome === "prune refused" ? "0 (refused)" : p.pruned === null ? "not asked" : String(p.pruned);
  return (
    `backfill ${p.environment}${mode}: ${status}\n` +
    `  ${verb}created ${p.created}, updated ${p.updated}, unchanged ${p.unchanged}, ` +
    `skipped as stale ${p.stale}, skipped as tombstoned ${p.tombstoned}, pruned ${pruned}\n` +
    resources +
    billing
  );
}

function resourceLine(p: BackfillProgress, name: string, r: ResourceProgress): string {
  return `backfill ${p.environment}: ${name} page ${r.pages}, ${r.done}/${r.total} ${name}`;
}

function disabled(p: BackfillProgress, name: string): string {
  if (name === "billing")
    return `backfill ${p.environment}: billing skipped: Billing is not enabled in this instance`;
  return `backfill ${p.environment}: ${name} skipped: organizations are not enabled in this instance (403 organization_not_enabled_in_instance)`;
}

function billingLine(p: BackfillProgress, b: BillingProgress): string {
  const resumed = b.resumed > 0 ? ` (resumed after ${b.resumed})` : "";
  return (
    `backfill ${p.environment}: billing ${b.plans} plans, ${b.items} items, ` +
    `subscriptions of ${b.done}/${b.total} payers${resumed}`
  );
}

/** Billing's line of the summary: never pruned, so it says so. */
function billingSummary(b: BillingProgress, verb: string): string {
  if (b.state === "disabled") return "  billing: skipped, Billing is not enabled in this instance\n";
  const resumed = b.resumed > 0 ? `, ${b.resumed} of them by the interrupted run this one resumed` : "";
  return (
    `  billing: ${b.plans} plans, ${b.items} items, ${b.subscriptions} subscriptions of ${b.done} payers ` +
    `(${b.total} stored${resumed}), ${verb}created ${b.created}, updated ${b.updated}, unchanged ${b.unchanged}, ` +
    `skipped as stale ${b.stale}, never pruned\n`
  );
}

const WIDTH = 24;

function bar(p: BackfillProgress): string {
  if (p.phase === "pruning") return `backfill ${p.environment}: pruning ${p.resource}…`;
  const other = p.resource === "users" ? null : p[p.resource];
  if (other?.state === "disabled") return disabled(p, p.resource);
  if (p.resource === "billing" && p.billing) return billingLine(p, p.billing);
  if (other) return resourceLine(p, p.resource, other as ResourceProgress);
  const share = p.total > 0 ? Math.min(1, p.done / p.total) : p.phase === "done" ? 1 : 0;
  const filled = Math.round(share * WIDTH);
  return (
    `backfill ${p.environment} ${"█".repeat(filled)}${"░".repeat(WIDTH - filled)} ` +
    `${p.done}/${p.total} ${Math.floor(share * 100)}% · ${rate(p)} users/s · ETA ${eta(p)}`
  );
}

function line(p: BackfillProgress): string {
  const share = p.total > 0 ? ` (${Math.min(100, Math.floor((p.done / p.total) * 100))}%)` : "";
  return (
    `backfill ${p.environment}: page ${p.pages}, ${p.done}/${p.total} users${share}, ` +
    `${rate(p)} users/s, ETA ${eta(p)}`
  );
}

function rate(p: BackfillProgress): number {
  return p.elapsedMs > 0 ? Math.round((p.done / p.elapsedMs) * 1000) : 0;
}

function eta(p: BackfillProgress): string {
  const perMs = p.elapsedMs > 0 ? p.done / p.elapsedMs : 0;
  if (perMs === 0) return "?";
  return seconds(Math.max(0, p.total - p.done) / perMs);
}

function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
