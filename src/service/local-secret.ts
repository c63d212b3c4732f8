import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dataDirOf, type Env, usesDatabaseUrl, WEBHOOK_SECRET_VARIABLES, webhookSecrets } from "./config.js";

/** Where the embedded mode keeps the webhook secret it generated for local use. */
export function localSecretPath(dataDir: string): string {
  return join(dataDir, "local-webhook-secret");
}

/**
 * Zero-configuration local runs. When no webhook secret is set and no DATABASE_URL either (the embedded PGlite,
 * i.e. someone trying the service on their machine), a random Development secret is generated once, kept under
 * DATA_DIR, and used, so that `npm start` runs and `clerk-user-sync trigger` can sign events for it. With a
 * DATABASE_URL (a deployment), a missing secret stays a start-up error. Returns the environment to load, and
 * whether a local secret is in use; never prints the secret.
 */
export function withLocalSecret(env: Env): { env: Env; localSecretFile: string | undefined } {
  const { development, production } = webhookSecrets(env);
  const configured = [development, production].some((s) => s?.trim());
  if (configured || usesDatabaseUrl(env)) return { env, localSecretFile: undefined };
  const dataDir = dataDirOf(env);
  const file = localSecretPath(dataDir);
  let secret: string;
  try {
    secret = readFileSync(file, "utf8").trim();
  } catch {
    secret = `whsec_${randomBytes(24).toString("base64")}`;
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  }
  return { env: { ...env, [WEBHOOK_SECRET_VARIABLES.development]: secret }, localSecretFile: file };
}
