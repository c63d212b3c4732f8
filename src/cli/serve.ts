import { pino } from "pino";
import type { ConsoleAccess } from "../console/access.js";
import { createRefusalLog } from "../console/refusals.js";
import { claimEmbeddedDatabase } from "../db/embedded-lock.js";
import { describe } from "../log.js";
import { loadConfig } from "../service/config.js";
import { withLocalSecret } from "../service/local-secret.js";
import { createMetrics } from "../service/metrics.js";
import { buildServer } from "../service/server.js";
import { pruneDeliveries } from "../store/deliveries.js";
import { createClerkUserSync } from "../sync.js";
import { ENVIRONMENTS, splitSecrets } from "../verify.js";

/**
 * `clerk-user-sync serve`: migrates, listens, prunes the delivery log on a timer, and on SIGTERM or SIGINT stops
 * taking connections, finishes what is in flight, closes the database and exits 0 (1 past SHUTDOWN_TIMEOUT).
 */
export async function serve(processEnv: Record<string, string | undefined>): Promise<void> {
  const { env, localSecretFile } = withLocalSecret(processEnv);
  const config = loadConfig(env, { localRun: localSecretFile !== undefined });
  // Let go of on exit, however the process exits; a pid file left by SIGKILL names no live process.
  if (!config.databaseUrl) process.on("exit", claimEmbeddedDatabase(config.dataDir, "serve"));
  const output = logOutput();
  const logger = pino({ level: config.logLevel, base: { service: "clerk-user-sync" } }, output);
  if (localSecretFile) {
    logger.warn(
      { file: localSecretFile },
      "no webhook secret configured: using a generated local Development secret (for trying things out with " +
        "`clerk-user-sync trigger`); set DEV_CLERK_WEBHOOK_SECRET / PROD_CLERK_WEBHOOK_SECRET to receive from Clerk",
    );
  }
  const metrics = createMetrics();
  const refusals = createRefusalLog();
  const sync = await createClerkUserSync({
    database: config.databaseUrl,
    dataDir: config.dataDir,
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
  const instances = ENVIRONMENTS.filter((e) => splitSecrets(config.secrets[e]).length);
  const access: ConsoleAccess = config.consoleToken
    ? { mode: "token", token: config.consoleToken }
    : config.localRun
      ? { mode: "local" }
      : { mode: "off" };
  const app = buildServer({
    sync,
    metrics,
    logger,
    metricsToken: config.metricsToken,
    timeouts: config.timeouts,
    console: {
      access,
      refusals,
      instances,
      host: config.host,
      exampleSecret: config.localRun ? splitSecrets(config.secrets.development)[0] : undefined,
    },
  });
  await app.listen({ port: config.port, host: config.host });
  logger.info({ database: sync.database.dialect, environments: instances, console: access.mode }, "ready");
  if (access.mode === "local" && !["127.0.0.1", "localhost", "::1"].includes(config.host)) {
    logger.warn(
      { host: config.host },
      "the console is open without a token and HOST makes it reachable from other machines: set CONSOLE_TOKEN",
    );
  }
  if (access.mode !== "off") {
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const host = ["0.0.0.0", "::"].includes(config.host) ? "localhost" : config.host;
    logger.info(
      { url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/`, access: access.mode },
      access.mode === "local"
        ? "console open without a token (zero-configuration local run)"
        : "console on, behind CONSOLE_TOKEN",
    );
  }

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

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: finishing deliveries in flight");
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, "shutdown timed out");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    clearInterval(pruneTimer);
    let code = 0;
    try {
      await app.close();
      await sync.close();
    } catch (error) {
      logger.error({ error: describe(error) }, "shutdown failed");
      code = 1;
    }
    clearTimeout(deadline);
    logger.info({ code }, "stopped");
    process.exit(code);
  };
  // `on`, not `once`: a second signal (a terminal and npm both forwarding it) must not kill the drain midway.
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  // The startup lines go out only now: whoever stops the service on seeing them gets a graceful stop.
  output.flush();
}

/**
 * Standard output for the log, written 4 KB at a time and at least once a second: pino's default, an asynchronous
 * write whenever the previous one is done, costs a noticeable share of the service's CPU under load
 * (docs/performance.md); a second is the longest a line of a quiet service waits. What is left goes out when the process exits: by a signal it
 * handles, `process.exit` or an uncaught error, not by SIGKILL or a signal it does not handle. `flush`, not
 * `flushSync`: sonic-boom's `flushSync` retries a closed pipe (EPIPE) forever, where `flush` reports it to pino,
 * which stops writing.
 */
function logOutput() {
  const output = pino.destination({ dest: 1, sync: true, minLength: 4096, periodicFlush: 1000 });
  process.on("exit", () => output.flush());
  return output;
}
