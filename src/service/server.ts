import { timingSafeEqual } from "node:crypto";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from "fastify";
import type { Logger as PinoLogger } from "pino";
import { clerkUserSyncFastify } from "../adapters/fastify.js";
import { errorResponse } from "../adapters/shared.js";
import { type ConsoleOptions, consolePlugin } from "../console/plugin.js";
import { createRefusalLog } from "../console/refusals.js";
import { migrationsApplied } from "../db/migrate.js";
import { NotFoundError, UnauthorizedError } from "../errors.js";
import type { ClerkUserSync, SyncResponse } from "../sync.js";
import type { Metrics } from "./metrics.js";

/** What the HTTP service is made of. */
export interface ServerParts {
  sync: ClerkUserSync;
  metrics: Metrics;
  logger: PinoLogger;
  /** When set, `GET /metrics` wants `Authorization: Bearer <token>`. */
  metricsToken?: string | undefined;
  /** The console at `GET /`; omitted: off (404 `console_disabled`). */
  console?: Omit<ConsoleOptions, "sync"> | undefined;
}

/**
 * The service: the webhook route (the same Fastify plugin users mount), `GET /healthz` (liveness),
 * `GET /readyz` (database answers and migrations applied), `GET /metrics` (Prometheus) and the console (`GET /`).
 */
export function buildServer({ sync, metrics, logger, metricsToken, console }: ServerParts): FastifyInstance {
  // Request logging is off: the core logs one line per delivery, without personal data.
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: sync.bodyLimit,
    // While closing, Fastify would answer with its own 503 body. Instead a request that still arrives on a
    // kept-alive connection is served (and the connection then closed): the core commits it or answers our own
    // 503 shutting_down, in the contract's { code, message } shape.
    return503OnClosing: false,
  });
  void app.register(clerkUserSyncFastify, { sync });
  void app.register(consolePlugin, {
    sync,
    ...(console ?? { access: { mode: "off" }, refusals: createRefusalLog(), instances: [] }),
  });

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const ready = await migrationsApplied(sync.database).catch(() => false);
    if (ready) return { status: "ready" };
    return reply
      .code(503)
      .send({ code: "not_ready", message: "the database is unreachable or not migrated" });
  });

  app.get("/metrics", async (request, reply) => {
    if (metricsToken && !bearerMatches(request.headers.authorization, metricsToken)) {
      const response = errorResponse(
        new UnauthorizedError("GET /metrics needs Authorization: Bearer <METRICS_TOKEN>"),
      );
      return send(reply.header("www-authenticate", "Bearer"), response);
    }
    return reply.header("content-type", metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      errorResponse(new NotFoundError(`no route for ${request.method} ${request.url.split("?")[0]}`)),
    ),
  );
  return app;
}

function send(reply: FastifyReply, { status, headers, body }: SyncResponse): FastifyReply {
  return reply.code(status).headers(headers).send(body);
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? "");
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
