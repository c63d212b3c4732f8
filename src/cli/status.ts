import { parseArgs } from "node:util";
import { dataDirOf, usesDatabaseUrl } from "../service/config.js";
import { askServe, CONTROL_STATUS_PATH, runningServe } from "../service/local-control.js";
import { LOGGED, type SyncStatus, syncStatus } from "../store/status.js";
import { ENVIRONMENTS } from "../verify.js";
import { type Command, type Env, withDatabase } from "./command.js";

/**
 * `clerk-user-sync status`: what the table holds and what arrived lately, per instance.
 *
 * @example
 * ```sh
 * clerk-user-sync status --json | jq .environments.production.last24h
 * ```
 */
export const status: Command = {
  summary:
    "rows per table (users to Billing plans) and recent deliveries per environment (--json for scripts)",
  usage: "status [--json]",
  async run(args, env) {
    const { values } = parseArgs({ args, options: { json: { type: "boolean", default: false } } });
    const report = await statusReport(env);
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : table(report));
    return 0;
  },
};

/**
 * The report, from the database; or, when a running `serve` holds the embedded database (which takes one process
 * at a time), from that server: the same report either way.
 */
async function statusReport(env: Env): Promise<SyncStatus> {
  const running = usesDatabaseUrl(env) ? undefined : await runningServe(dataDirOf(env));
  if (running) return (await askServe(running, CONTROL_STATUS_PATH)) as SyncStatus;
  return await withDatabase(env, "status", (db) => syncStatus(db, new Date()));
}

/** The report as an aligned table, one row per environment. */
function table(report: SyncStatus): string {
  const header = [
    "environment",
    "users",
    "tombstones",
    "orgs",
    "org tombstones",
    "memberships",
    "membership tombstones",
    "subscriptions",
    "plans",
    ...LOGGED,
    "last delivery",
  ];
  const rows = ENVIRONMENTS.map((environment) => {
    const e = report.environments[environment];
    const last = e.lastDelivery
      ? `${e.lastDelivery.receivedAt} ${e.lastDelivery.type} (${e.lastDelivery.outcome})`
      : "none";
    return [
      environment,
      e.users,
      e.tombstones,
      e.organizations,
      e.organizationTombstones,
      e.memberships,
      e.membershipTombstones,
      e.billingSubscriptions,
      e.billingPlans,
      ...LOGGED.map((o) => e.last24h[o]),
      last,
    ].map(String);
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  // Text columns to the left, counts to the right.
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === 0 || i === cells.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0),
      )
      .join("  ")
      .trimEnd();
  const note =
    `${LOGGED.join(", ")}: deliveries logged in the last 24 hours; re-sends of a logged svix-id are not ` +
    `logged again (/metrics counts them as duplicate). Database: ${report.database}.`;
  return `${[header, ...rows].map(line).join("\n")}\n\n${note}\n`;
}
