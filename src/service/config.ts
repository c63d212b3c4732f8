/**
 * The one place environment variables are read: their names, their defaults, and the readers every command uses
 * (`serve`, the database commands, `backfill`, `trigger`). Each reader reports every problem at once.
 */
import { existsSync } from "node:fs";
import { DEFAULT_DATA_DIR } from "../db/database.js";
import { ConfigError } from "../errors.js";
import type { ReadThroughOptions } from "../read-through/read-through.js";
import { DEFAULT_BODY_LIMIT } from "../sync.js";
import { ENVIRONMENTS, type Environment, type Secrets, secretProblems, splitSecrets } from "../verify.js";

/** The process environment, as the commands read it. */
export type Env = Record<string, string | undefined>;

/** Where each Clerk instance's webhook signing secret (or a list of them, during a rotation) is read from. */
export const WEBHOOK_SECRET_VARIABLES: Record<Environment, string> = {
  development: "DEV_CLERK_WEBHOOK_SECRET",
  production: "PROD_CLERK_WEBHOOK_SECRET",
};

/** The port `serve` listens on, and `trigger` sends to, when PORT is unset. */
export const DEFAULT_PORT = 3000;

/** The webhook secrets as set in the environment (unchecked: {@link loadConfig} checks them). */
export function webhookSecrets(env: Env): Record<Environment, string | undefined> {
  return {
    development: env[WEBHOOK_SECRET_VARIABLES.development],
    production: env[WEBHOOK_SECRET_VARIABLES.production],
  };
}

/** DATA_DIR, or the embedded database's default directory. */
export function dataDirOf(env: Env): string {
  return env.DATA_DIR?.trim() || DEFAULT_DATA_DIR;
}

/** Whether DATABASE_URL is set, i.e. the service runs on PostgreSQL rather than the embedded PGlite. */
export function usesDatabaseUrl(env: Env): boolean {
  return Boolean(env.DATABASE_URL?.trim());
}

/**
 * What a library entry that configures itself (`clerk-user-sync/next`) reads, at its first request: the webhook
 * secrets, DATABASE_URL and DATA_DIR as set (unchecked), whether NODE_ENV is `production`, and the database's
 * settings with their problems.
 */
export function routeEnvironment(env: Env = process.env): {
  secrets: Record<Environment, string | undefined>;
  databaseUrl: string | undefined;
  dataDir: string | undefined;
  production: boolean;
  database: DatabaseSettings;
  problems: string[];
} {
  const secrets = webhookSecrets(env);
  const { settings, problems } = databaseSettings(env, ROUTE_POOL_MAX);
  return {
    secrets: {
      development: secrets.development?.trim() || undefined,
      production: secrets.production?.trim() || undefined,
    },
    databaseUrl: env.DATABASE_URL?.trim() || undefined,
    dataDir: env.DATA_DIR?.trim() || undefined,
    production: env.NODE_ENV === "production",
    database: settings,
    problems,
  };
}

/** How the database is used, besides where it is (DATABASE_URL, DATA_DIR). */
export interface DatabaseSettings {
  /** DATABASE_URL_UNPOOLED: a direct URL to migrate through, for a pooler that refuses DDL. */
  migrationsUrl: string | undefined;
  /** DATABASE_POOL_MAX: connections this process opens at most. */
  poolMax: number;
  /** MIGRATE_ON_START: whether to apply pending migrations at start (else the deploy step runs `migrate`). */
  migrateOnStart: boolean;
}

/** The Next.js route's pool: small, since a serverless platform runs many processes (docs/deploy.md). */
const ROUTE_POOL_MAX = 3;

/** The database's settings and their problems (values never echoed: a URL may hold a password). */
export function databaseSettings(
  env: Env,
  poolMax: number,
): { settings: DatabaseSettings; problems: string[] } {
  const problems: string[] = [];
  const unpooled = env.DATABASE_URL_UNPOOLED?.trim() || undefined;
  if (unpooled !== undefined && postgresUrl(unpooled) === undefined)
    problems.push("DATABASE_URL_UNPOOLED is invalid: expected a postgres:// or postgresql:// URL");
  const max = env.DATABASE_POOL_MAX?.trim() || undefined;
  const parsedMax = max === undefined ? poolMax : integer(max, 1, 1000);
  if (parsedMax === undefined)
    problems.push(
      `DATABASE_POOL_MAX=${JSON.stringify(max)} is invalid: expected a number of connections (1-1000)`,
    );
  const migrate = env.MIGRATE_ON_START?.trim().toLowerCase() || undefined;
  const migrateOnStart = migrate === undefined ? true : BOOLEANS[migrate];
  if (migrateOnStart === undefined)
    problems.push(`MIGRATE_ON_START=${JSON.stringify(migrate)} is invalid: expected true or false`);
  return {
    settings: {
      migrationsUrl: unpooled,
      poolMax: parsedMax ?? poolMax,
      migrateOnStart: migrateOnStart ?? true,
    },
    problems,
  };
}

const BOOLEANS: Record<string, boolean> = {
  true: true,
  false: false,
  "1": true,
  "0": false,
  on: true,
  off: false,
};

/** PORT as given, or the default; `trigger` builds its default URL with it (`serve` validates it in loadConfig). */
export function portOf(env: Env): string | number {
  return env.PORT?.trim() || DEFAULT_PORT;
}

/** `serve`'s pool: a long-running service (docs/deploy.md). */
const SERVICE_POOL_MAX = 10;

/** The service's configuration, read from the environment. */
export interface ServiceConfig {
  secrets: Secrets;
  /** DATABASE_URL_UNPOOLED, DATABASE_POOL_MAX, MIGRATE_ON_START. */
  database: DatabaseSettings;
  /** Unset: embedded PGlite under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  /** HOST, or the default {@link defaultHost} chose. */
  host: string;
  logLevel: LogLevel;
  /** LOG_FORMAT; unset: `pretty` when standard output is a terminal, `json` otherwise. */
  logFormat: LogFormat | undefined;
  bodyLimit: number;
  shutdownTimeoutMs: number;
  /** The longest a client may take to send a request's headers (HEADERS_TIMEOUT), and all of it (REQUEST_TIMEOUT). */
  timeouts: { headersMs: number; requestMs: number };
  /** When set, `GET /metrics` requires `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** When set, the console at `GET /` is on, behind a sign-in with this token. */
  consoleToken: string | undefined;
  /**
   * A zero-configuration local run (no webhook secret, no DATABASE_URL: see `withLocalSecret`): `host` defaults to
   * loopback even in a container, and the console is open without a token whatever HOST says.
   */
  localRun: boolean;
  /** How often `serve` prunes the delivery log; 0: never. */
  pruneIntervalMs: number;
  /** What `serve` prunes: delivery-log rows older than this. */
  pruneOlderThanMs: number;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Where `serve` runs, as far as the default HOST is concerned. */
export interface Surroundings {
  /** A zero-configuration local run (see `withLocalSecret`). */
  localRun?: boolean;
  /** Inside a container, whose loopback nobody outside reaches; detected by {@link runsInContainer} by default. */
  container?: boolean;
}

/** Whether this process runs in a container (Docker, Podman, Kubernetes), as the usual markers say. */
export function runsInContainer(env: Env = process.env): boolean {
  return (
    Boolean(env.KUBERNETES_SERVICE_HOST) || existsSync("/.dockerenv") || existsSync("/run/.containerenv")
  );
}

/**
 * HOST when unset. On a laptop, loopback: the service (and its console, open there without a token) is this
 * machine's only, and a tunnel reaches it on localhost. In a container or with NODE_ENV=production, every
 * interface: a container's loopback is unreachable from outside it, and a deployment is reached from elsewhere.
 * A zero-configuration local run stays on loopback everywhere: its console is open and its secret generated.
 */
export function defaultHost(env: Env, { localRun = false, container }: Surroundings = {}): string {
  if (localRun) return "127.0.0.1";
  const deployed = env.NODE_ENV === "production" || (container ?? runsInContainer(env));
  return deployed ? "0.0.0.0" : "127.0.0.1";
}

/** Whether HOST is a loopback address or name: only this machine reaches the service. */
export function isLoopback(host: string): boolean {
  return /^(localhost|127(?:\.\d{1,3}){3}|::1|\[::1\])$/i.test(host.trim());
}

/**
 * Reads and validates the configuration, reporting every problem at once.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env); // throws ConfigError listing each problem
 * ```
 */
export function loadConfig(env: Env, surroundings: Surroundings = {}): ServiceConfig {
  const { config, problems } = checkConfig(env, surroundings);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * The configuration and every problem found in it, without throwing: `serve` adds what it finds when it tries the
 * database and the port, and reports all of it at once. Where a value is invalid, `config` holds its default.
 */
export function checkConfig(
  env: Env,
  surroundings: Surroundings = {},
): { config: ServiceConfig; problems: string[] } {
  return parse(env, true, surroundings);
}

/** The database settings alone, for commands that need no webhook secret (`migrate`, `prune`, `status`). */
export function loadDatabaseConfig(env: Env): Pick<ServiceConfig, "databaseUrl" | "dataDir" | "database"> {
  const { config, problems } = parse(env, false, {});
  if (problems.length > 0) throw new ConfigError(problems);
  return { databaseUrl: config.databaseUrl, dataDir: config.dataDir, database: config.database };
}

function parse(
  env: Env,
  webhooks: boolean,
  surroundings: Surroundings,
): { config: ServiceConfig; problems: string[] } {
  const localRun = surroundings.localRun ?? false;
  const problems: string[] = [];
  const read = <T>(
    name: string,
    fallback: T,
    parse: (value: string) => T | undefined,
    expected: string,
  ): T => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") return fallback;
    const value = parse(raw);
    // DATABASE_URL may hold a password: never echo it.
    const shown = name === "DATABASE_URL" ? "" : `=${JSON.stringify(raw)}`;
    if (value === undefined) problems.push(`${name}${shown} is invalid: expected ${expected}`);
    return value ?? fallback;
  };

  const secrets = webhookSecrets(env);
  if (webhooks) problems.push(...webhookSecretProblems(secrets));
  const databaseUrl = read("DATABASE_URL", undefined, postgresUrl, "a postgres:// or postgresql:// URL");
  const database = databaseSettings(env, SERVICE_POOL_MAX);
  problems.push(...database.problems);
  const config: ServiceConfig = {
    secrets,
    databaseUrl,
    database: database.settings,
    dataDir: read("DATA_DIR", DEFAULT_DATA_DIR, (v) => v, "a directory"),
    port: read("PORT", DEFAULT_PORT, (v) => integer(v, 0, 65535), "a port number (0-65535)"),
    // A local run's console is open without a token: only this machine may reach it, unless HOST says otherwise.
    host: read("HOST", defaultHost(env, surroundings), (v) => v, "a host"),
    logLevel: read(
      "LOG_LEVEL",
      "info",
      (v) => LOG_LEVELS.find((l) => l === v),
      `one of ${LOG_LEVELS.join(", ")}`,
    ),
    logFormat: read(
      "LOG_FORMAT",
      undefined,
      (v) => LOG_FORMATS.find((f) => f === v),
      `one of ${LOG_FORMATS.join(", ")}`,
    ),
    bodyLimit: read(
      "BODY_LIMIT",
      DEFAULT_BODY_LIMIT,
      bytes,
      'a size in bytes, like 1048576, "512kb" or "1mb"',
    ),
    shutdownTimeoutMs: read("SHUTDOWN_TIMEOUT", 10_000, timer, 'a duration up to 24d, like "10s" or "500ms"'),
    timeouts: {
      headersMs: read("HEADERS_TIMEOUT", 10_000, positiveTimer, 'a duration up to 24d, like "10s"'),
      requestMs: read("REQUEST_TIMEOUT", 30_000, positiveTimer, 'a duration up to 24d, like "30s"'),
    },
    metricsToken: env.METRICS_TOKEN?.trim() || undefined,
    consoleToken: env.CONSOLE_TOKEN?.trim() || undefined,
    localRun,
    pruneIntervalMs: read(
      "PRUNE_INTERVAL",
      DAY,
      (v) => (v === "off" ? 0 : timer(v)),
      'a duration up to 24d, like "24h", or "off"',
    ),
    pruneOlderThanMs: read("PRUNE_OLDER_THAN", 30 * DAY, duration, 'a duration, like "30d"'),
  };
  // The console shows personal data: its token must not be guessable. Never echoed.
  if (config.consoleToken !== undefined && config.consoleToken.length < 16)
    problems.push("CONSOLE_TOKEN is too short: use at least 16 random characters (`openssl rand -hex 24`)");
  if (config.timeouts.headersMs > config.timeouts.requestMs) {
    problems.push("HEADERS_TIMEOUT must not exceed REQUEST_TIMEOUT (the whole request includes its headers)");
  }
  return { config, problems };
}

/**
 * The webhook secrets' problems; a value that is recognisably something else (a Clerk API key, a publishable key, a
 * secret pasted with its quotes) is named for what it is, never echoed.
 */
function webhookSecretProblems(secrets: Secrets): string[] {
  const named = new Map<string, string>();
  for (const environment of ENVIRONMENTS) {
    splitSecrets(secrets[environment]).forEach((secret, index) => {
      const which = `${WEBHOOK_SECRET_VARIABLES[environment]} (secret ${index + 1})`;
      const what = pastedInstead(secret, environment);
      if (what) named.set(`${which} is not a Clerk webhook signing secret`, `${which} ${what}`);
    });
  }
  return secretProblems(secrets, WEBHOOK_SECRET_VARIABLES).map(
    (problem) => [...named].find(([generic]) => problem.startsWith(generic))?.[1] ?? problem,
  );
}

const WHERE_SIGNING_SECRETS_ARE =
  "the signing secret starts with whsec_ and is on the endpoint's page (Dashboard → Webhooks → your endpoint → Signing Secret)";

/** What a value set where a `whsec_` secret belongs is instead, when it can be told; undefined otherwise. */
function pastedInstead(value: string, environment: Environment): string | undefined {
  if (/^["'`]|["'`]$/.test(value))
    return "is wrapped in quotes, which became part of the value: remove them (the value starts with whsec_)";
  const key = /^(sk|pk)_(test|live)_/.exec(value);
  if (!key) return undefined;
  const instance = key[2] === "test" ? "development" : "production";
  const what =
    key[1] === "sk"
      ? `a Clerk secret key (${key[0]}…, the Backend API key \`backfill\` reads as ${SECRET_KEYS[instance].variable})`
      : `a Clerk publishable key (${key[0]}…, the frontend's key)`;
  const mismatch = instance === environment ? "" : ` of a ${instance} instance`;
  return `holds ${what}${mismatch}, not a webhook signing secret: ${WHERE_SIGNING_SECRETS_ARE}`;
}

/** Where `backfill` sends its Backend API requests when CLERK_API_URL is unset. */
export const DEFAULT_CLERK_API_URL = "https://api.clerk.com";

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
  const apiUrl = env.CLERK_API_URL?.trim() || DEFAULT_CLERK_API_URL;
  if (!isHttpUrl(apiUrl)) {
    problems.push(`CLERK_API_URL=${JSON.stringify(apiUrl)} is invalid: expected an http(s) URL`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { secretKey, keyName: variable, apiUrl };
}

const DAY = 24 * 60 * 60 * 1000;
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY };
const SIZES: Record<string, number> = { "": 1, b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2 };

/** Parses `500ms`, `10s`, `5m`, `24h`, `30d`; a bare number is seconds. */
export function duration(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? "s"] ?? 1000));
}

/** Node's timers take at most 2^31 - 1 ms (24.8 days); a longer delay would fire at once, every millisecond. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function timer(value: string): number | undefined {
  const ms = duration(value);
  return ms !== undefined && ms <= MAX_TIMER_MS ? ms : undefined;
}

function positiveTimer(value: string): number | undefined {
  const ms = timer(value);
  return ms !== undefined && ms > 0 ? ms : undefined;
}

function bytes(value: string): number | undefined {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(value);
  const unit = SIZES[match?.[2]?.toLowerCase() ?? "x"];
  const result = match && unit ? Number(match[1]) * unit : undefined;
  return result && Number.isSafeInteger(result) ? result : undefined;
}

function integer(value: string, min: number, max: number): number | undefined {
  const n = Number(value);
  return /^\d+$/.test(value) && n >= min && n <= max ? n : undefined;
}

/** The value when it is a postgres:// or postgresql:// URL (DATABASE_URL's rule, for every entry that reads it). */
export function postgresUrl(value: string): string | undefined {
  try {
    return ["postgres:", "postgresql:"].includes(new URL(value).protocol) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

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
export function readThroughFromEnv(env: Env = process.env): ReadThroughOptions | undefined {
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
