import { ConfigError } from "../errors.js";
import { DEFAULT_BODY_LIMIT } from "../sync.js";
import { type Secrets, secretProblems } from "../verify.js";

/** The service's configuration, read from the environment. */
export interface ServiceConfig {
  secrets: Secrets;
  /** Unset: embedded PGlite under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  host: string;
  logLevel: LogLevel;
  bodyLimit: number;
  shutdownTimeoutMs: number;
  /** The longest a client may take to send a request's headers (HEADERS_TIMEOUT), and all of it (REQUEST_TIMEOUT). */
  timeouts: { headersMs: number; requestMs: number };
  /** When set, `GET /metrics` requires `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** How often `serve` prunes the delivery log; 0: never. */
  pruneIntervalMs: number;
  /** What `serve` prunes: delivery-log rows older than this. */
  pruneOlderThanMs: number;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Reads and validates the configuration, reporting every problem at once.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env); // throws ConfigError listing each problem
 * ```
 */
export function loadConfig(env: Record<string, string | undefined>): ServiceConfig {
  return parse(env, true);
}

/** The database settings alone, for commands that need no webhook secret (`migrate`, `prune`, `status`). */
export function loadDatabaseConfig(
  env: Record<string, string | undefined>,
): Pick<ServiceConfig, "databaseUrl" | "dataDir"> {
  const { databaseUrl, dataDir } = parse(env, false);
  return { databaseUrl, dataDir };
}

function parse(env: Record<string, string | undefined>, webhooks: boolean): ServiceConfig {
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

  const secrets = { development: env.DEV_CLERK_WEBHOOK_SECRET, production: env.PROD_CLERK_WEBHOOK_SECRET };
  if (webhooks) {
    problems.push(
      ...secretProblems(secrets, {
        development: "DEV_CLERK_WEBHOOK_SECRET",
        production: "PROD_CLERK_WEBHOOK_SECRET",
      }),
    );
  }
  const databaseUrl = read("DATABASE_URL", undefined, postgresUrl, "a postgres:// or postgresql:// URL");
  const config: ServiceConfig = {
    secrets,
    databaseUrl,
    dataDir: read("DATA_DIR", "./.data", (v) => v, "a directory"),
    port: read("PORT", 3000, (v) => integer(v, 0, 65535), "a port number (0-65535)"),
    host: read("HOST", "0.0.0.0", (v) => v, "a host"),
    logLevel: read(
      "LOG_LEVEL",
      "info",
      (v) => LOG_LEVELS.find((l) => l === v),
      `one of ${LOG_LEVELS.join(", ")}`,
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
    pruneIntervalMs: read(
      "PRUNE_INTERVAL",
      DAY,
      (v) => (v === "off" ? 0 : timer(v)),
      'a duration up to 24d, like "24h", or "off"',
    ),
    pruneOlderThanMs: read("PRUNE_OLDER_THAN", 30 * DAY, duration, 'a duration, like "30d"'),
  };
  if (config.timeouts.headersMs > config.timeouts.requestMs) {
    problems.push("HEADERS_TIMEOUT must not exceed REQUEST_TIMEOUT (the whole request includes its headers)");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
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

function postgresUrl(value: string): string | undefined {
  try {
    return ["postgres:", "postgresql:"].includes(new URL(value).protocol) ? value : undefined;
  } catch {
    return undefined;
  }
}
