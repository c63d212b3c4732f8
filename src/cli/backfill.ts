import { parseArgs } from "node:util";
import {
  BACKFILL_RESOURCES,
  type BackfillProgress,
  type BackfillResource,
  backfill,
} from "../backfill/backfill.js";
import { ClerkApi, MAX_PAGE_SIZE, RATE_LIMITS } from "../backfill/clerk-api.js";
import { BackfillError } from "../backfill/errors.js";
import { formatSummary, progressReporter } from "../backfill/progress.js";
import { exitCode } from "../errors.js";
import { loadBackfillConfig } from "../service/config.js";
import { ENVIRONMENTS } from "../verify.js";
import { type Command, UsageError, withDatabase } from "./command.js";

/** `clerk-user-sync backfill`: the Backend API's users into the table, then optionally a prune. */
export const backfillCommand: Command = {
  summary:
    "load every user, organization, membership and Billing subscription of an instance from Clerk's Backend API; --prune removes those Clerk no longer has",
  usage:
    "backfill --env development|production [--only users,organizations,memberships,billing] [--dry-run] [--prune [--force]] [--page-size 1-500]",
  async run(args, env) {
    const { values } = parseArgs({
      args,
      options: {
        env: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        prune: { type: "boolean", default: false },
        force: { type: "boolean", default: false },
        "page-size": { type: "string", default: String(MAX_PAGE_SIZE) },
        only: { type: "string", default: BACKFILL_RESOURCES.join(",") },
      },
    });
    const only = values.only.split(",").map((r) => r.trim());
    if (
      only.length === 0 ||
      !only.every((r): r is BackfillResource => (BACKFILL_RESOURCES as readonly string[]).includes(r))
    ) {
      throw new UsageError(`--only takes a comma-separated list of ${BACKFILL_RESOURCES.join(", ")}`);
    }
    const environment = ENVIRONMENTS.find((e) => e === values.env);
    if (!environment) throw new UsageError("--env must be development or production");
    if (values.force && !values.prune) throw new UsageError("--force only applies to --prune");
    const pageSize = Number(values["page-size"]);
    if (!/^\d+$/.test(values["page-size"]) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw new UsageError(`--page-size must be an integer from 1 to ${MAX_PAGE_SIZE}`);
    }
    const config = loadBackfillConfig(env, environment);

    const api = new ClerkApi({
      secretKey: config.secretKey,
      keyName: config.keyName,
      baseUrl: config.apiUrl,
      rateLimit: RATE_LIMITS[environment],
      onRetry: ({ attempt, waitMs, reason }) =>
        process.stderr.write(
          `backfill ${environment}: ${reason}, retrying in ${waitMs} ms (attempt ${attempt})\n`,
        ),
    });
    const progress = progressReporter(process.stderr);
    let last: BackfillProgress | undefined;
    try {
      const summary = await withDatabase(env, "backfill", (db) =>
        backfill({
          db,
          environment,
          api,
          pageSize,
          only: only as BackfillResource[],
          dryRun: values["dry-run"],
          prune: values.prune,
          force: values.force,
          onProgress: (p) => {
            last = p;
            progress.update(p);
          },
        }),
      );
      progress.end();
      process.stdout.write(formatSummary(summary));
      return 0;
    } catch (error) {
      progress.end();
      if (last) {
        const refused = error instanceof BackfillError && error.code === "prune_refused";
        process.stdout.write(formatSummary(last, refused ? "prune refused" : "failed"));
      }
      if (!(error instanceof BackfillError)) throw error;
      process.stderr.write(`clerk-user-sync backfill: ${error.code}: ${error.message}\n`);
      return exitCode(error.code);
    }
  },
};
