import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../src/errors.js";
import {
  dataDirOf,
  duration,
  loadConfig,
  loadDatabaseConfig,
  portOf,
  usesDatabaseUrl,
  webhookSecrets,
} from "../src/service/config.js";
import { SECRETS } from "./support/sign.js";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe("service configuration", () => {
  it("has the documented defaults", () => {
    expect(loadConfig({ DEV_CLERK_WEBHOOK_SECRET: SECRETS.development }, { container: true })).toEqual({
      secrets: { development: SECRETS.development, production: undefined },
      databaseUrl: undefined,
      database: { migrationsUrl: undefined, poolMax: 10, migrateOnStart: true },
      dataDir: "./.data",
      port: 3000,
      host: "0.0.0.0",
      logLevel: "info",
      logFormat: undefined,
      bodyLimit: 1024 * 1024,
      shutdownTimeoutMs: 10_000,
      timeouts: { headersMs: 10_000, requestMs: 30_000 },
      metricsToken: undefined,
      consoleToken: undefined,
      localRun: false,
      pruneIntervalMs: 24 * 3600 * 1000,
      pruneOlderThanMs: 30 * 24 * 3600 * 1000,
    });
  });

  it("reads every setting", () => {
    const config = loadConfig({
      PROD_CLERK_WEBHOOK_SECRET: SECRETS.production,
      DATABASE_URL: "postgresql://app:pw@db:5432/app",
      PORT: "8080",
      HOST: "127.0.0.1",
      LOG_LEVEL: "debug",
      LOG_FORMAT: "pretty",
      BODY_LIMIT: "512kb",
      SHUTDOWN_TIMEOUT: "1500ms",
      HEADERS_TIMEOUT: "5s",
      REQUEST_TIMEOUT: "1m",
      METRICS_TOKEN: "t0ken",
      CONSOLE_TOKEN: "c0nsole-t0ken-0123456789",
      PRUNE_INTERVAL: "off",
      PRUNE_OLDER_THAN: "7d",
      DATABASE_URL_UNPOOLED: "postgresql://owner:pw@db-direct:5432/app",
      DATABASE_POOL_MAX: "2",
      MIGRATE_ON_START: "false",
    });
    expect(config).toMatchObject({
      databaseUrl: "postgresql://app:pw@db:5432/app",
      database: {
        migrationsUrl: "postgresql://owner:pw@db-direct:5432/app",
        poolMax: 2,
        migrateOnStart: false,
      },
      port: 8080,
      host: "127.0.0.1",
      logLevel: "debug",
      logFormat: "pretty",
      bodyLimit: 512 * 1024,
      shutdownTimeoutMs: 1500,
      timeouts: { headersMs: 5000, requestMs: 60_000 },
      metricsToken: "t0ken",
      consoleToken: "c0nsole-t0ken-0123456789",
      pruneIntervalMs: 0,
      pruneOlderThanMs: 7 * 24 * 3600 * 1000,
    });
  });

  it("listens on loopback by default on a laptop, on every interface in a container or production, and where HOST says", () => {
    const env = { DEV_CLERK_WEBHOOK_SECRET: SECRETS.development };
    const prod = { ...env, NODE_ENV: "production" };
    expect.soft(loadConfig(env, { container: false }).host).toBe("127.0.0.1");
    expect.soft(loadConfig(env, { container: true }).host).toBe("0.0.0.0");
    expect.soft(loadConfig(prod, { container: false }).host).toBe("0.0.0.0");
    // A zero-configuration local run (console open, secret generated) stays on loopback even in a container.
    expect.soft(loadConfig(env, { localRun: true, container: true })).toMatchObject({ host: "127.0.0.1" });
    expect.soft(loadConfig({ ...env, HOST: "0.0.0.0" }, { localRun: true }).host).toBe("0.0.0.0");
    expect.soft(loadConfig({ ...env, HOST: "127.0.0.1" }, { container: true }).host).toBe("127.0.0.1");
    expect.soft(loadConfig({ ...env, KUBERNETES_SERVICE_HOST: "10.0.0.1" }).host).toBe("0.0.0.0");
  });

  it.each([
    [
      "sk_test_AbCdEf0123456789",
      "DEV",
      "holds a Clerk secret key (sk_test_…, the Backend API key `backfill` reads as DEV_CLERK_SECRET_KEY), not a webhook signing secret",
    ],
    [
      "sk_live_AbCdEf0123456789",
      "PROD",
      "holds a Clerk secret key (sk_live_…, the Backend API key `backfill` reads as PROD_CLERK_SECRET_KEY), not a webhook signing secret",
    ],
    [
      "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k",
      "DEV",
      "holds a Clerk publishable key (pk_test_…, the frontend's key)",
    ],
    [`"${SECRETS.development}"`, "DEV", "is wrapped in quotes, which became part of the value: remove them"],
    [`'${SECRETS.development}'`, "DEV", "is wrapped in quotes"],
  ])("names %s set where a whsec_ secret belongs for what it is, without echoing it", (value, env, what) => {
    const problems = problemsOf({ [`${env}_CLERK_WEBHOOK_SECRET`]: value });
    expect(problems).toEqual([expect.stringContaining(`${env}_CLERK_WEBHOOK_SECRET (secret 1) ${what}`)]);
    expect(problems[0]).toContain(value.startsWith("s") || value.startsWith("p") ? "whsec_" : "remove them");
    expect(problems.join()).not.toContain(value.replace(/["']/g, "").slice(8));
  });

  it("reads LOG_FORMAT: json or pretty; unset, chosen by whether standard output is a terminal", () => {
    const env = { DEV_CLERK_WEBHOOK_SECRET: SECRETS.development };
    expect(loadConfig({ ...env, LOG_FORMAT: "json" }).logFormat).toBe("json");
    expect(problemsOf({ ...env, LOG_FORMAT: "colour" })).toEqual([
      'LOG_FORMAT="colour" is invalid: expected one of json, pretty',
    ]);
  });

  it("refuses a CONSOLE_TOKEN shorter than 16 characters, without echoing it", () => {
    const problems = problemsOf({
      DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
      CONSOLE_TOKEN: "short-token",
    });
    expect(problems).toEqual([expect.stringContaining("CONSOLE_TOKEN is too short")]);
    expect(problems.join()).not.toContain("short-token");
  });

  it("reports every problem at once", () => {
    const problems = problemsOf({
      DEV_CLERK_WEBHOOK_SECRET: "nope",
      DATABASE_URL: "mysql://root:hunter2@db/app",
      PORT: "70000",
      LOG_LEVEL: "loud",
      BODY_LIMIT: "lots",
      SHUTDOWN_TIMEOUT: "soon",
      HEADERS_TIMEOUT: "0s",
      REQUEST_TIMEOUT: "forever",
    });
    expect(problems).toEqual([
      expect.stringContaining("DEV_CLERK_WEBHOOK_SECRET (secret 1) is not a Clerk webhook signing secret"),
      "DATABASE_URL is invalid: expected a postgres:// or postgresql:// URL",
      expect.stringContaining('PORT="70000" is invalid'),
      expect.stringContaining('LOG_LEVEL="loud" is invalid'),
      expect.stringContaining('BODY_LIMIT="lots" is invalid'),
      expect.stringContaining('SHUTDOWN_TIMEOUT="soon" is invalid'),
      expect.stringContaining('HEADERS_TIMEOUT="0s" is invalid'),
      expect.stringContaining('REQUEST_TIMEOUT="forever" is invalid'),
    ]);
    expect(problems.join("\n")).not.toContain("hunter2");
  });

  it("refuses timers Node cannot hold (over 24.8 days), which would fire every millisecond", () => {
    const secret = { DEV_CLERK_WEBHOOK_SECRET: SECRETS.development };
    expect(problemsOf({ ...secret, PRUNE_INTERVAL: "30d", SHUTDOWN_TIMEOUT: "25d" })).toEqual([
      expect.stringContaining('SHUTDOWN_TIMEOUT="25d" is invalid'),
      expect.stringContaining('PRUNE_INTERVAL="30d" is invalid'),
    ]);
    expect(problemsOf({ ...secret, PRUNE_INTERVAL: "24d", PRUNE_OLDER_THAN: "365d" })).toEqual([]);
  });

  it("needs at least one secret and refuses the same secret for both instances", () => {
    expect(problemsOf({})).toEqual([expect.stringContaining("no webhook secret configured")]);
    expect(
      problemsOf({
        DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
        PROD_CLERK_WEBHOOK_SECRET: SECRETS.development,
      }),
    ).toEqual([expect.stringContaining("ambiguous")]);
  });

  it("takes rotation lists separated by spaces or commas", () => {
    const both = `${SECRETS.development}, ${SECRETS.production}`;
    expect(problemsOf({ DEV_CLERK_WEBHOOK_SECRET: both })).toEqual([]);
  });

  it("reads the database settings alone for commands that need no secret", () => {
    expect(loadDatabaseConfig({ DATA_DIR: "/tmp/x" })).toEqual({
      databaseUrl: undefined,
      dataDir: "/tmp/x",
      database: { migrationsUrl: undefined, poolMax: 10, migrateOnStart: true },
    });
  });

  it("refuses database settings it cannot use, naming each, never echoing a URL", () => {
    const secret = { DEV_CLERK_WEBHOOK_SECRET: SECRETS.development };
    const problems = problemsOf({
      ...secret,
      DATABASE_URL_UNPOOLED: "mysql://me:hunter2@db",
      DATABASE_POOL_MAX: "0",
      MIGRATE_ON_START: "maybe",
    });
    expect(problems).toEqual([
      "DATABASE_URL_UNPOOLED is invalid: expected a postgres:// or postgresql:// URL",
      'DATABASE_POOL_MAX="0" is invalid: expected a number of connections (1-1000)',
      'MIGRATE_ON_START="maybe" is invalid: expected true or false',
    ]);
  });

  it.each([
    ["500ms", 500],
    ["10s", 10_000],
    ["10", 10_000],
    ["5m", 300_000],
    ["24h", 86_400_000],
    ["30d", 2_592_000_000],
    ["1.5s", 1500],
    ["ten", undefined],
    ["-1s", undefined],
  ])("duration(%s) = %s", (text, ms) => {
    expect(duration(text)).toBe(ms);
  });
});

describe("one home for the environment", () => {
  it.each([
    ["dataDirOf", () => dataDirOf({}), "./.data"],
    ["dataDirOf", () => dataDirOf({ DATA_DIR: " /srv/sync " }), "/srv/sync"],
    ["portOf", () => portOf({ PORT: " " }), 3000],
    ["portOf", () => portOf({ PORT: "8080" }), "8080"],
    ["usesDatabaseUrl", () => usesDatabaseUrl({ DATABASE_URL: "  " }), false],
    ["usesDatabaseUrl", () => usesDatabaseUrl({ DATABASE_URL: "postgres://h/db" }), true],
    [
      "webhookSecrets",
      () => webhookSecrets({ DEV_CLERK_WEBHOOK_SECRET: "whsec_a", PROD_CLERK_WEBHOOK_SECRET: "whsec_b" }),
      { development: "whsec_a", production: "whsec_b" },
    ],
  ])("%s → %j", (_, read, expected) => {
    expect(read()).toEqual(expected);
  });

  it("no module but src/service/config.ts reads an environment variable", () => {
    const src = fileURLToPath(new URL("../src/", import.meta.url));
    const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const reads = files.flatMap((file) =>
      readFileSync(join(src, file), "utf8")
        .split("\n")
        .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
        .filter((line) => /\b(env|Env)(\.[A-Z][A-Z0-9_]*|\[)/.test(line) || /process\.env\b/.test(line))
        .map((line) => `${file}: ${line.trim()}`),
    );
    expect(reads.filter((read) => !read.startsWith("service/config.ts"))).toEqual([
      "cli/main.ts: const code = await main(process.argv.slice(2), process.env);",
    ]);
  });
});
