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
import { ConfigError } from "../errors.js";
import { ENVIRONMENTS, type Environment } from "../verify.js";
import { type Command, type Env, UsageError, withDatabase } from "./command.js";

/** Where each instance's secret key is read from, and the prefix it must have. */
export const SECRET_KEYS: Record<Environment, { variable: string; prefix: string }> = {
  development: { variable: "DEV_CLERK_SECRET_KEY", prefix: "sk_test_" },
  production: { variable: "PROD_CLERK_SECRET_KEY", prefix: "sk_live_" },
};

/** What `backfill` reads from the environment, besides the database. */
export interface BackfillConfig {
  secretKey: string;
  keyName: string;
  apiUrl: string;
}

/**
 * Reads the instance's secret key and `CLERK_API_URL`, reporting every problem at once. The key is checked for
 * presence and shape only, and never echoed.
 *
 * @example
 * ```ts
 * const { secretKey, apiUrl } = loadBackfillConfig(process.env, "production"); // throws ConfigError
 * ```
 */
export function loadBackfillConfig(env: Env, environment: Environment): BackfillConfig {
  const problems: string[] = [];
  const { variable, prefix } = SECRET_KEYS[environment];
  const secretKey = env[variable]?.trim() ?? "";
  if (secretKey === "") {
    problems.push(`${variable} is not set: the ${environment} instance's secret key (${prefix}…) is needed`);
  } else if (!secretKey.startsWith(prefix)) {
    const other = ENVIRONMENTS.find((e) => secretKey.startsWith(SECRET_KEYS[e].prefix));
    problems.push(
      other
        ? `${variable} holds a ${SECRET_KEYS[other].prefix}… key, which belongs to a ${other} instance; expected ${prefix}…`
        : `${variable} is not a Clerk secret key: expected ${prefix}…`,
    );
  } else if (!/^sk_(test|live)_[A-Za-z0-9_-]{8,}$/.test(secretKey)) {
    problems.push(`${variable} is malformed: expected ${prefix} followed by the key's letters and digits`);
  }
  const apiUrl = env.CLERK_API_URL?.trim() || "https://api.clerk.com";
  if (!isHttpUrl(apiUrl)) {
    problems.push(`CLERK_API_URL=${JSON.stringify(apiUrl)} is invalid: expected an http(s) URL`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { secretKey, keyName: variable, apiUrl };
}

/** `clerk-user-sync backfill`: the Backend API's users into the table, then optionally a prune. */
export const backfillCommand: Command = {
  summary:
    "load every user, organization and membership of an instance from Clerk's Backend API; --prune removes those Clerk no longer has",
  usage:
    "backfill --env development|production [--only users,organizations,memberships] [--dry-run] [--prune [--force]] [--page-size 1-500]",
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
      return 1;
    }
  },
};

function isHttpUrl(value: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
