import type { Environment } from "../verify.js";
import type { ReadThroughOptions } from "./read-through.js";

/**
 * The read-through settings of an app that configures itself from its environment (`clerk-user-sync/next`):
 *
 * - `DEV_CLERK_SECRET_KEY` and `PROD_CLERK_SECRET_KEY`, each instance's key, as `backfill` reads them;
 * - `CLERK_SECRET_KEY`, the key Clerk's own SDK uses in this app: `auth()`'s user ids belong to its instance, so
 *   that instance is the one asked (`sk_test_…` Development, `sk_live_…` Production), with this key when the
 *   instance's own variable is unset;
 * - `CLERK_API_URL`, where the Backend API is (`https://api.clerk.com`).
 *
 * Without `CLERK_SECRET_KEY`, the one instance with a key is asked; with both keys, each call must name one.
 * Undefined when no key is set: `ensureUser` then only reads the table.
 *
 * @example
 * ```ts
 * const clerk = readThroughFromEnv(process.env); // { secretKeys: { production: "sk_live_…" }, environment: "production" }
 * ```
 */
export function readThroughFromEnv(env: Record<string, string | undefined>): ReadThroughOptions | undefined {
  const value = (name: string) => env[name]?.trim() || undefined;
  const secretKeys: Partial<Record<Environment, string>> = {};
  const keyNames: Partial<Record<Environment, string>> = {};
  for (const [environment, name] of [
    ["development", "DEV_CLERK_SECRET_KEY"],
    ["production", "PROD_CLERK_SECRET_KEY"],
  ] as const) {
    const key = value(name);
    if (key)
      Object.assign(secretKeys, { [environment]: key }) && Object.assign(keyNames, { [environment]: name });
  }
  const appKey = value("CLERK_SECRET_KEY");
  const appEnvironment: Environment | undefined = appKey?.startsWith("sk_live_")
    ? "production"
    : appKey?.startsWith("sk_test_")
      ? "development"
      : undefined;
  if (appKey && appEnvironment && !secretKeys[appEnvironment]) {
    secretKeys[appEnvironment] = appKey;
    keyNames[appEnvironment] = "CLERK_SECRET_KEY";
  }
  if (!secretKeys.development && !secretKeys.production) return undefined;
  const apiUrl = value("CLERK_API_URL");
  return {
    secretKeys,
    keyNames,
    ...(appEnvironment ? { environment: appEnvironment } : {}),
    ...(apiUrl ? { apiUrl } : {}),
  };
}
