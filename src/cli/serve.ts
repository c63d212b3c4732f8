import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import type { FastifyInstance } from "fastify";
import { type Logger as PinoLogger, pino } from "pino";
import { type ConsoleAccess, consoleAccess } from "../console/access.js";
import { createRefusalLog, type RefusalLog } from "../console/refusals.js";
import { openDatabase } from "../db/database.js";
import { claimEmbeddedDatabase } from "../db/embedded-lock.js";
import { migrate } from "../db/migrate.js";
import { ConfigError, exitCode } from "../errors.js";
import { describe } from "../log.js";
import { startConfiguredReconcile } from "../reconcile/scheduler.js";
import {
  checkConfig,
  type Env,
  isLoopback,
  loadDatabaseConfig,
  loadReconcileConfig,
  type ServiceConfig,
} from "../service/config.js";
import { controlToken, localUrl, publishControl } from "../service/local-control.js";
import { withLocalSecret } from "../service/local-secret.js";
import { createMetrics, type Metrics, watchFreshness } from "../service/metrics.js";
import { checkDatabase, checkPort, portProblem } from "../service/preflight.js";
import { buildServer } from "../service/server.js";
import { pruneDeliveries } from "../store/deliveries.js";
import { type ClerkUserSync, createClerkUserSync } from "../sync.js";
import { ENVIRONMENTS, splitSecrets } from "../verify.js";
import { logFormatFor, logOutput } from "./log-output.js";

/**
 * `clerk-user-sync serve`: migrates, listens, prunes the delivery log on a timer, and on SIGTERM or SIGINT stops
 * taking connections, finishes what is in flight, closes the database and exits 0 (`command_failed`'s 1 past
 * SHUTDOWN_TIMEOUT).
 */
export async function serve(processEnv: Record<string, string | undefined>): Promise<void> {
  const { env, localSecretFile } = withLocalSecret(processEnv);
  const config = await startupConfig(env, localSecretFile !== undefined);
  const reconcileConfig = loadReconcileConfig(env);
  const output = await logOutput(logFormatFor(config.logFormat));
  const logger = pino({ level: config.logLevel, base: { service: "clerk-user-sync" } }, output.stream);
  if (!config.databaseUrl) {
    // Let go of on exit, however the process exits; a pid file left by SIGKILL names no live process.
    process.on("exit", claimEmbeddedDatabase(config.dataDir, "serve"));
    await createEmbeddedApart(config.dataDir, env, logger);
  }
  if (localSecretFile) {
    logger.warn(
      { file: localSecretFile },
      "no webhook secret configured: using a generated local Development secret (for trying things out with " +
        "`clerk-user-sync trigger`); set DEV_CLERK_WEBHOOK_SECRET / PROD_CLERK_WEBHOOK_SECRET to receive from Clerk",
    );
  }
  const metrics = createMetrics();
  const refusals = createRefusalLog();
  const sync = await openSync(config, logger, metrics, refusals);
  watchFreshness(metrics.registry, sync.database);
  const instances = ENVIRONMENTS.filter((e) => splitSecrets(config.secrets[e]).length);
  const access: ConsoleAccess = consoleAccess(config);
  const control = config.databaseUrl ? undefined : controlToken();
  const app = buildServer({
    sync,
    metrics,
    logger,
    metricsToken: config.metricsToken,
    timeouts: config.timeouts,
    controlToken: control,
    console: {
      access,
      refusals,
      instances,
      host: config.host,
      exampleSecret: config.localRun ? splitSecrets(config.secrets.development)[0] : undefined,
    },
  });
  const port = await listen(app, sync, config);
  if (control)
    publishControl(config.dataDir, { pid: process.pid, url: localUrl(config.host, port), token: control });
  announce(logger, config, { database: sync.database.dialect, instances, access: access.mode, port });

  const pruneTimer = startPruning(sync, config, logger);
  const reconcile = reconcileConfig && startConfiguredReconcile(sync.database, reconcileConfig, logger);
  stopOnSignals(logger, config.shutdownTimeoutMs, async () => {
    clearInterval(pruneTimer);
    reconcile?.stop();
    await app.close();
    await sync.close();
  });
  // The startup lines go out only now: whoever stops the service on seeing them gets a graceful stop.
  output.flush();
}

/** The core over the configured database, its observer feeding the metrics and the console's refusals. */
function openSync(
  config: ServiceConfig,
  logger: PinoLogger,
  metrics: Metrics,
  refusals: RefusalLog,
): Promise<ClerkUserSync> {
  return createClerkUserSync({
    database: config.databaseUrl,
    dataDir: config.dataDir,
    pool: { max: config.database.poolMax },
    migrate: config.database.migrateOnStart,
    migrationsDatabase: config.database.migrationsUrl,
    secrets: config.secrets,
    bodyLimit: config.bodyLimit,
    logger,
    observer: {
      ...metrics.observer,
      refusal(refusal) {
        metrics.observer.refusal?.(refusal);
        refusals.record(refusal);
      },
    },
  });
}

/** Listens on HOST and PORT; resolves with the port taken (PORT=0 picks one). */
async function listen(app: FastifyInstance, sync: ClerkUserSync, config: ServiceConfig): Promise<number> {
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    // Another process took the port after the check at start-up.
    await sync.close();
    throw portProblem(error as NodeJS.ErrnoException, config.host, config.port) ?? error;
  }
  const address = app.server.address();
  return typeof address === "object" && address ? address.port : config.port;
}

/** Prunes the delivery log now and every PRUNE_INTERVAL (none when 0); the timer, for stopping it. */
function startPruning(
  sync: ClerkUserSync,
  config: ServiceConfig,
  logger: PinoLogger,
): NodeJS.Timeout | undefined {
  const prune = async () => {
    try {
      const removed = await pruneDeliveries(sync.database, new Date(Date.now() - config.pruneOlderThanMs));
      logger.info({ removed }, "pruned the delivery log");
    } catch (error) {
      logger.warn({ error: describe(error) }, "pruning the delivery log failed; will try again");
    }
  };
  const pruneTimer =
    config.pruneIntervalMs > 0 ? setInterval(prune, config.pruneIntervalMs).unref() : undefined;
  if (pruneTimer) void prune();
  return pruneTimer;
}

/**
 * On SIGTERM or SIGINT, runs `shutdown` and exits 0; exits with `command_failed`'s code when it fails or takes longer
 * than `timeoutMs`.
 */
function stopOnSignals(logger: PinoLogger, timeoutMs: number, shutdown: () => Promise<void>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: finishing deliveries in flight");
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, "shutdown timed out");
      process.exit(exitCode("command_failed"));
    }, timeoutMs);
    let code = 0;
    try {
      await shutdown();
    } catch (error) {
      logger.error({ error: describe(error) }, "shutdown failed");
      code = exitCode("command_failed");
    }
    clearTimeout(deadline);
    logger.info({ code }, "stopped");
    process.exit(code);
  };
  // `on`, not `once`: a second signal (a terminal and npm both forwarding it) must not kill the drain midway.
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/** The lines that say the service is up: where, on what, and who may open its console. */
function announce(
  logger: PinoLogger,
  config: ServiceConfig,
  ready: { database: string; instances: readonly string[]; access: ConsoleAccess["mode"]; port: number },
): void {
  logger.info(
    {
      database: ready.database,
      environments: ready.instances,
      host: config.host,
      port: ready.port,
      console: ready.access,
    },
    "ready",
  );
  if (isLoopback(config.host) && !config.localRun) {
    logger.info(
      { host: config.host },
      "listening on this machine only: Clerk reaches it through a tunnel (docs/local-development.md); " +
        "set HOST=0.0.0.0 to accept other machines",
    );
  }
  if (ready.access === "local" && !isLoopback(config.host)) {
    logger.warn(
      { host: config.host },
      "the console is open without a token and HOST makes it reachable from other machines: set CONSOLE_TOKEN",
    );
  }
  if (ready.access !== "off") {
    const host = ["0.0.0.0", "::"].includes(config.host) ? "localhost" : config.host;
    logger.info(
      { url: `http://${host.includes(":") ? `[${host}]` : host}:${ready.port}/`, access: ready.access },
      ready.access === "token"
        ? "console on, behind CONSOLE_TOKEN"
        : config.localRun
          ? "console open without a token (zero-configuration local run)"
          : "console open without a token (listening on this machine only)",
    );
  }
}

/** The argument that makes `serve` create the embedded database and exit: how it runs {@link createEmbeddedApart}'s child. */
export const CREATE_EMBEDDED = "--create-embedded-database";

/**
 * Creates a new embedded database in a child process (`serve --create-embedded-database`, which opens, migrates and
 * closes it under this process's claim) rather than in the server: PGlite's initdb runs in WebAssembly instances of
 * its own, whose memory the process that ran them keeps (several hundred MB: docs/performance.md). An existing
 * database is opened by the server directly.
 */
async function createEmbeddedApart(dataDir: string, env: Env, logger: PinoLogger): Promise<void> {
  const script = process.argv[1];
  if (existsSync(join(dataDir, "PG_VERSION")) || !script) return;
  logger.info({ dataDir }, "creating the embedded database (first start)");
  const child = spawn(process.execPath, [...process.execArgv, script, "serve", CREATE_EMBEDDED], {
    env: env as NodeJS.ProcessEnv,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const stderr = text(child.stderr);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  if (code !== 0)
    throw new Error(`creating the embedded database in ${dataDir} failed: ${(await stderr).trim()}`);
}

/** The child's side of {@link createEmbeddedApart}: the parent `serve` holds the claim on the database. */
export async function createEmbeddedDatabase(env: Env): Promise<void> {
  const db = await openDatabase(undefined, { dataDir: loadDatabaseConfig(env).dataDir });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
}

/**
 * The configuration, once the database answers and the port is free: checked before anything is created, so that a
 * busy port or an unreachable DATABASE_URL is reported with every other problem, naming what to set. One problem of
 * the environment alone keeps its own code (`database_unreachable`, `port_in_use`); several are listed together.
 */
async function startupConfig(env: Env, localRun: boolean): Promise<ServiceConfig> {
  const { config, problems } = checkConfig(env, { localRun });
  const listenable = !problems.some((p) => p.startsWith("PORT") || p.startsWith("HOST"));
  const found = (
    await Promise.all([
      config.databaseUrl ? checkDatabase(config.databaseUrl) : undefined,
      listenable ? checkPort(config.host, config.port) : undefined,
    ])
  ).filter((p) => p !== undefined);
  const [only] = found;
  if (problems.length === 0 && found.length === 1 && only) throw only;
  const all = [...problems, ...found.map((p) => `${p.message} (${p.code})`)];
  if (all.length > 0) throw new ConfigError(all);
  return config;
}
