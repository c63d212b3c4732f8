import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from "fastify";
import type { Logger as PinoLogger } from "pino";
import { clerkUserSyncFastify } from "../adapters/fastify.js";
import { type ConsoleOptions, consolePlugin } from "../console/plugin.js";
import { createRefusalLog } from "../console/refusals.js";
import { migrationsApplied } from "../db/migrate.js";
import { BadRequestError, NotFoundError, NotReadyError, UnauthorizedError } from "../errors.js";
import { errorResponse, type FailureResponse } from "../response.js";
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
export function buildServer({
  sync,
  metrics,
  logger,
  metricsToken,
  timeouts = DEFAULT_TIMEOUTS,
  console,
  controlToken,
}: ServerParts): FastifyInstance {
  const refused = (refusal: FailureResponse): FailureResponse => {
    const seen = { code: refusal.code, status: refusal.status, environment: null, type: null, svixId: null };
    metrics.observer.refusal?.(seen);
    console?.refusals.record(seen);
    logger.warn({ code: refusal.code }, "request refused");
    return refusal;
  };
  // Requests being answered, per connection, for the client-error handler below.
  const inFlight = new WeakMap<Socket, { requests: Set<IncomingMessage>; after: (() => void)[] }>();
  const track = (request: IncomingMessage, response: ServerResponse) => {
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
  };
  let closing = false;
  // The webhook POST is served straight from node:http (src/service/webhook-route.ts); a request without the Host
  // HTTP/1.1 requires goes to Fastify, whose hook below refuses it.
  const webhook = webhookRoute(sync, () => closing);
  const hasHost = (request: IncomingMessage) =>
    request.headers.host !== undefined || request.httpVersionMajor !== 1 || request.httpVersionMinor !== 1;
  const http = {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    // Node checks both timeouts on this interval (30 s by default, which would let a deadline slip by as much).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(timeouts.headersMs / 4))),
    // Node answers a missing Host with an empty 400 of its own; the hook below gives the contract's instead.
    requireHostHeader: false,
  };
  // Request logging is off: the core logs one line per delivery, without personal data.
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: sync.bodyLimit,
    // While closing, Fastify would answer with its own 503 body. Instead a request that still arrives on a
    // kept-alive connection is served (and the connection then closed): the core commits it or answers our own
    // 503 shutting_down, in the contract's { code, message } shape.
    return503OnClosing: false,
    serverFactory(fastify) {
      const server = createServer(http, (request, response) => {
        track(request, response);
        if (!(hasHost(request) && webhook(request, response))) fastify(request, response);
      });
      // What Fastify sets on a server it creates itself.
      server.keepAliveTimeout = 72_000;
      server.requestTimeout = timeouts.requestMs;
      server.headersTimeout = timeouts.headersMs;
      return server;
    },
    // A URL Fastify's router cannot decode (`/%c0`) would get Fastify's own body.
    frameworkErrors: (error, _request, reply) => send(reply, refused(errorResponse(error))),
    // Node's parser errors (a malformed Content-Length, Content-Length with Transfer-Encoding, a control
    // character in a header, 431, 408) never reach a route. Fastify's own handler answers them in its own shape,
    // and at trace level logs the error with the request's raw bytes (`rawPacket`): signature, emails and all.
    clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket) {
      if (error.code === "ECONNRESET" || socket.destroyed) return;
      const refusal = refused(errorResponse(error));
      // Bytes that follow a request on the same connection (pipelined) can fail to parse while that request is
      // still being answered: its answer goes first, then this one, then the connection closes.
      // A request whose body is still arriving is the one at fault: it is answered now.
      const busy = inFlight.get(socket);
      if (busy && busy.requests.size > 0 && [...busy.requests].every((r) => r.complete)) {
        busy.after.push(() => writeRaw(socket, refusal));
      } else writeRaw(socket, refusal);
    },
  });
  app.addHook("preClose", async () => {
    closing = true;
  });

  app.addHook("onRequest", async (request, reply) => {
    const { httpVersionMajor, httpVersionMinor } = request.raw;
    if (httpVersionMajor === 1 && httpVersionMinor === 1 && !request.headers.host) {
      return send(reply.header("connection", "close"), refused(errorResponse(missingHost())));
    }
  });

  // Whatever a route or Fastify throws outside the webhook plugin (which has its own), in the contract's shape.
  app.setErrorHandler((error, _request, reply) => send(reply, refused(errorResponse(error))));

  void app.register(clerkUserSyncFastify, { sync });
  void app.register(consolePlugin, {
    sync,
    ...(console ?? { access: { mode: "off" }, refusals: createRefusalLog(), instances: [] }),
  });

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const ready = await migrationsApplied(sync.database).catch(() => false);
    if (ready) return { status: "ready" };
    return send(
      reply,
      refused(errorResponse(new NotReadyError("the database is unreachable or not migrated"))),
    );
  });

  app.get("/metrics", async (request, reply) => {
    if (metricsToken && !bearerMatches(request.headers.authorization, metricsToken)) {
      const response = errorResponse(
        new UnauthorizedError("GET /metrics needs Authorization: Bearer <METRICS_TOKEN>"),
      );
      return send(reply.header("www-authenticate", "Bearer"), refused(response));
    }
    return reply.header("content-type", metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  if (controlToken) {
    app.get(CONTROL_STATUS_PATH, async (request, reply) => {
      if (!bearerMatches(request.headers.authorization, controlToken)) {
        // Answered as if there were no such route: nothing here is meant for anyone but this machine's CLI.
        return send(
          reply,
          refused(errorResponse(new NotFoundError(`no route for GET ${CONTROL_STATUS_PATH}`))),
        );
      }
      return reply.header("cache-control", "no-store").send(await syncStatus(sync.database, new Date()));
    });
  }

  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      refused(
        errorResponse(new NotFoundError(`no route for ${request.method} ${request.url.split("?")[0]}`)),
      ),
    ),
  );
  return app;
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

function send(reply: FastifyReply, { status, headers, body }: FailureResponse): FastifyReply {
  return reply.code(status).headers(headers).send(body);
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? "");
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
