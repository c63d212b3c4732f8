import { ConfigError } from "../errors.js";
import { duration, type Env, loadBackfillConfig, SECRET_KEYS } from "../service/config.js";
import { ENVIRONMENTS, type Environment } from "../verify.js";

/** What `serve` reads for its scheduled reconcile. */
export interface ReconcileConfig {
  intervalMs: number;
  prune: boolean;
  /** Each instance with a secret key: the one reconciled with it. */
  instances: { environment: Environment; secretKey: string; keyName: string; apiUrl: string }[];
}

/**
 * `RECONCILE_INTERVAL` (off unless set: a duration such as `6h`, at least `1s`), `RECONCILE_PRUNE` (`true` or
 * `false`, default false) and the secret keys of the instances to reconcile (`DEV_CLERK_SECRET_KEY`,
 * `PROD_CLERK_SECRET_KEY`, checked as `backfill` checks them). Undefined when the reconcile is off; a ConfigError
 * listing every problem otherwise.
 *
 * @example
 * ```ts
 * const reconcile = loadReconcileConfig(process.env); // { intervalMs: 21600000, prune: false, instances: [...] }
 * ```
 */
export function loadReconcileConfig(env: Env): ReconcileConfig | undefined {
  const raw = env.RECONCILE_INTERVAL?.trim();
  const pruneRaw = env.RECONCILE_PRUNE?.trim().toLowerCase() ?? "";
  const problems: string[] = [];
  const prune = ["1", "true", "yes"].includes(pruneRaw);
  if (pruneRaw !== "" && !prune && !["0", "false", "no"].includes(pruneRaw))
    problems.push(`RECONCILE_PRUNE=${JSON.stringify(pruneRaw)} is invalid: expected true or false`);
  if (!raw || raw === "off") {
    if (prune) problems.push("RECONCILE_PRUNE is set but RECONCILE_INTERVAL is not: nothing would prune");
    if (problems.length > 0) throw new ConfigError(problems);
    return undefined;
  }
  const intervalMs = duration(raw);
  if (intervalMs === undefined || intervalMs < 1000)
    problems.push(
      `RECONCILE_INTERVAL=${JSON.stringify(raw)} is invalid: expected a duration of 1s or more, like "6h"`,
    );
  const instances: ReconcileConfig["instances"] = [];
  for (const environment of ENVIRONMENTS) {
    if (!env[SECRET_KEYS[environment].variable]?.trim()) continue;
    try {
      instances.push({ environment, ...loadBackfillConfig(env, environment) });
    } catch (error) {
      problems.push(...(error instanceof ConfigError ? error.problems : [String(error)]));
    }
  }
  if (instances.length === 0 && problems.length === 0) {
    problems.push(
      "RECONCILE_INTERVAL is set but no secret key is: set DEV_CLERK_SECRET_KEY and/or PROD_CLERK_SECRET_KEY",
    );
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return { intervalMs: intervalMs as number, prune, instances };
}
