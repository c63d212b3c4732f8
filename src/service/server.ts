import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Logger as PinoLogger } from "pino";
import { clerkUserSyncFastify } from "../adapters/fastify.js";
import { type ConsoleOptions, consolePlugin } from "../console/plugin.js";
import { createRefusalLog } from "../console/refusals.js";
import { migrationsApplied } from "../db/migrate.js";
import { BadRequestError, NotFoundError, NotReadyError, UnauthorizedError } from "../errors.js";
import { errorResponse, type FailureResponse, fastifyReply } from "../response.js";
import { syncStatus } from "../store/status.js";
import type { ClerkUserSync } from "../sync.js";
import { CONTROL_STATUS_PATH } from "./local-control.js";
import type { Metrics } from "./metrics.js";
import { webhookRoute } from "./webhook-route.js";

/** How long a request may take to arrive, by default: its headers 10 s, the whole of it 30 s. */
export const DEFAULT_TIMEOUTS = { headersMs: 10_000, requestMs: 30_000 } as const;

/** What the HTTP service is made of. */
export interface ServerParts {
  sync: ClerkUserSync;
  metrics: Metrics;
  logger: PinoLogger;
  /** When set, `GET /metrics` wants `Authorization: Bearer <token>`. */
  metricsToken?: string | undefined;
  /** The console at `GET /`; omitted: off (404 `console_disabled`). */
  console?: Omit<ConsoleOptions, "sync"> | undefined;
  /**
   * The longest a client may take to send its headers, and its whole request (headers and body), in ms. Past
   * either the connection is answered 408 `request_timeout` and closed: a client trickling bytes holds its
   * connection and buffers no longer than this.
   */
  timeouts?: { headersMs: number; requestMs: number };
  /**
   * When set, `GET /local/status` answers `status`'s report to `Authorization: Bearer <token>` only: how the CLI's
   * read commands reach a server that holds the embedded database (src/service/local-control.ts).
   */
  controlToken?: string | undefined;
}

/**
 * The service: the webhook route (the same Fastify plugin users mount), `GET /healthz` (liveness),
 * `GET /readyz` (database answers and migrations applied), `GET /metrics` (Prometheus) and the console (`GET /`).
 * Every error answer,
 * including those Node's HTTP parser makes before any route is found, is `{ code, message }` with a code of the
 * catalogue, logged (its code, never the request's bytes) and counted.
 */
export function buildServer(parts: ServerParts): FastifyInstance {
  const { sync, logger, timeouts = DEFAULT_TIMEOUTS, console } = parts;
  const refused = refusalRecorder(parts);
  const connections = requestsPerConnection();
  let closing = false;
  // The webhook POST is served straight from node:http (src/service/webhook-route.ts); a request without the Host
  // HTTP/1.1 requires goes to Fastify, whose hook below refuses it.
  const webhook = webhookRoute(sync, () => closing);
  // Request logging is off: the core logs one line per delivery, without personal data.
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: sync.bodyLimit,
    // While closing, Fastify would answer with its own 503 body. Instead a request that still arrives on a
    // kept-alive connection is served (and the connection then closed): the core commits it or answers our own
    // 503 shutting_down, in the contract's { code, message } shape.
    return503OnClosing: false,
    serverFactory: (fastify) =>
      httpServer(timeouts, (request, response) => {
        connections.track(request, response);
        if (lacksHost(request) || !webhook(request, response)) fastify(request, response);
      }),
    // A URL Fastify's router cannot decode (`/%c0`) would get Fastify's own body.
    frameworkErrors: (error, _request, reply) => fastifyReply(reply, refused(errorResponse(error))),
    // Node's parser errors (a malformed Content-Length, Content-Length with Transfer-Encoding, a control
    // character in a header, 431, 408) never reach a route. Fastify's own handler answers them in its own shape,
    // and at trace level logs the error with the request's raw bytes (`rawPacket`): signature, emails and all.
    clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket) {
      if (error.code === "ECONNRESET" || socket.destroyed) return;
      const refusal = refused(errorResponse(error));
      connections.answerInTurn(socket, () => writeRaw(socket, refusal));
    },
  });
  app.addHook("preClose", async () => {
    closing = true;
  });

  app.addHook("onRequest", async (request, reply) => {
    if (lacksHost(request.raw)) {
      return fastifyReply(reply.header("connection", "close"), refused(errorResponse(missingHost())));
    }
  });

  // Whatever a route or Fastify throws outside the webhook plugin (which has its own), in the contract's shape.
  app.setErrorHandler((error, _request, reply) => fastifyReply(reply, refused(errorResponse(error))));

  void app.register(clerkUserSyncFastify, { sync });
  void app.register(consolePlugin, {
    sync,
    ...(console ?? { access: { mode: "off" }, refusals: createRefusalLog(), instances: [] }),
  });
  addServiceRoutes(app, parts, refused);
  return app;
}

/** Records a refusal of the service's own (a route's, the parser's): counted, listed by the console, logged. */
function refusalRecorder({
  metrics,
  console,
  logger,
}: ServerParts): (refusal: FailureResponse) => FailureResponse {
  return (refusal) => {
    const seen = { code: refusal.code, status: refusal.status, environment: null, type: null, svixId: null };
    metrics.observer.refusal?.(seen);
    console?.refusals.record(seen);
    logger.warn({ code: refusal.code }, "request refused");
    return refusal;
  };
}

/** The HTTP server Fastify serves through, with the request timeouts and the Host rule made ours. */
function httpServer(
  timeouts: NonNullable<ServerParts["timeouts"]>,
  listener: (request: IncomingMessage, response: ServerResponse) => void,
): Server {
  const server = createServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      // Node checks both timeouts on this interval (30 s by default, which would let a deadline slip by as much).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(timeouts.headersMs / 4))),
      // Node answers a missing Host with an empty 400 of its own; the service's hook gives the contract's instead.
      requireHostHeader: false,
    },
    listener,
  );
  // What Fastify sets on a server it creates itself.
  server.keepAliveTimeout = 72_000;
  server.requestTimeout = timeouts.requestMs;
  server.headersTimeout = timeouts.headersMs;
  return server;
}

/**
 * The rule `requireHostHeader` would apply (RFC 9112, section 3.2): an HTTP/1.1 request without a Host header is
 * refused 400. The one rule for both the webhook route and Fastify's routes.
 */
function lacksHost(request: IncomingMessage): boolean {
  return (
    request.httpVersionMajor === 1 && request.httpVersionMinor === 1 && request.headers.host === undefined
  );
}

/**
 * The requests being answered on each connection, so that a parser error on a connection is answered in turn.
 * Bytes that follow a request on the same connection (pipelined) can fail to parse while that request is still
 * being answered: its answer goes first, then the refusal, then the connection closes. A request whose body is
 * still arriving is the one at fault: it is answered now.
 */
function requestsPerConnection(): {
  track(request: IncomingMessage, response: ServerResponse): void;
  answerInTurn(socket: Socket, write: () => void): void;
} {
  const inFlight = new WeakMap<Socket, { requests: Set<IncomingMessage>; after: (() => void)[] }>();
  return {
    track(request, response) {
      const socket = request.socket;
      let busy = inFlight.get(socket);
      if (!busy) {
        busy = { requests: new Set(), after: [] };
        inFlight.set(socket, busy);
      }
      busy.requests.add(request);
      response.once("close", () => {
        const done = inFlight.get(socket);
        if (done?.requests.delete(request) && done.requests.size === 0) {
          for (const next of done.after.splice(0)) next();
        }
      });
    },
    answerInTurn(socket, write) {
      const busy = inFlight.get(socket);
      if (busy && busy.requests.size > 0 && [...busy.requests].every((r) => r.complete))
        busy.after.push(write);
      else write();
    },
  };
}

/** `GET /healthz`, `/readyz`, `/metrics`, the local control route, and the 404 for any other. */
function addServiceRoutes(
  app: FastifyInstance,
  { sync, metrics, metricsToken, controlToken }: ServerParts,
  refused: (refusal: FailureResponse) => FailureResponse,
): void {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const ready = await migrationsApplied(sync.database).catch(() => false);
    if (ready) return { status: "ready" };
    return fastifyReply(
      reply,
      refused(errorResponse(new NotReadyError("the database is unreachable or not migrated"))),
    );
  });

  app.get("/metrics", async (request, reply) => {
    if (metricsToken && !bearerMatches(request.headers.authorization, metricsToken)) {
      const response = errorResponse(
        new UnauthorizedError("GET /metrics needs Authorization: Bearer <METRICS_TOKEN>"),
      );
      return fastifyReply(reply.header("www-authenticate", "Bearer"), refused(response));
    }
    return reply.header("content-type", metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  if (controlToken) {
    app.get(CONTROL_STATUS_PATH, async (request, reply) => {
      if (!bearerMatches(request.headers.authorization, controlToken)) {
        // Answered as if there were no such route: nothing here is meant for anyone but this machine's CLI.
        return fastifyReply(
          reply,
          refused(errorResponse(new NotFoundError(`no route for GET ${CONTROL_STATUS_PATH}`))),
        );
      }
      return reply.header("cache-control", "no-store").send(await syncStatus(sync.database, new Date()));
    });
  }

  app.setNotFoundHandler((request, reply) =>
    fastifyReply(
      reply,
      refused(
        errorResponse(new NotFoundError(`no route for ${request.method} ${request.url.split("?")[0]}`)),
      ),
    ),
  );
}

/** An answer written straight to the socket (no request or response object exists), then the connection closed. */
function writeRaw(socket: Socket, { status, headers, body }: FailureResponse): void {
  if (socket.destroyed) return;
  if (socket.writable) {
    const lines = Object.entries({ ...headers, "content-length": String(Buffer.byteLength(body)) }).map(
      ([name, value]) => `${name}: ${value}\r\n`,
    );
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\nconnection: close\r\n${lines.join("")}\r\n${body}`,
    );
  }
  socket.destroySoon();
}

function missingHost(): BadRequestError {
  return new BadRequestError("an HTTP/1.1 request needs a Host header");
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  413: "Payload Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
};

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? "");
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
