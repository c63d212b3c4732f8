import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { EXAMPLE_TYPES, isExampleType, signedExample } from "../cli/example-delivery.js";
import {
  BadRequestError,
  ConsoleDisabledError,
  InternalError,
  NotFoundError,
  SyncError,
  UnauthorizedError,
} from "../errors.js";
import { describe } from "../log.js";
import { errorResponse, fastifyReply } from "../response.js";
import { listDeliveries, OUTCOMES } from "../store/deliveries.js";
import { COUNTED_TABLES, countRows } from "../store/status.js";
import { type ClerkUserSync, WEBHOOK_PATH } from "../sync.js";
import { ENVIRONMENTS, type Environment } from "../verify.js";
import {
  type ConsoleAccess,
  createSessions,
  type Sessions,
  sessionCookie,
  unreachableFromClerk,
} from "./access.js";
import { ASSETS } from "./assets.js";
import {
  deliveryBuckets,
  instanceFreshness,
  lookUpOrganization,
  lookUpUser,
  STALE_AFTER_MS,
} from "./queries.js";
import type { RefusalLog } from "./refusals.js";

/** Options of {@link consolePlugin}. */
export interface ConsoleOptions {
  sync: ClerkUserSync;
  access: ConsoleAccess;
  /** The ring the core's `observer.refusal` feeds. */
  refusals: RefusalLog;
  /** The instances a secret is configured for (named, never shown). */
  instances: readonly Environment[];
  /** Where the service listens (HOST), shown on the page. */
  host?: string | undefined;
  /** A local run's Development secret: the example buttons sign with it. Unset: no example buttons. */
  exampleSecret?: string | undefined;
  clock?: () => Date;
  sessionTtlMs?: number;
  /** How long an instance with users may go without a delivery before the console warns (6 h). */
  staleAfterMs?: number;
}

/** Security headers of every console answer: nothing inline, nothing framed, nothing sniffed or referred. */
export const CONSOLE_HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
} as const;

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

/**
 * The console: `GET /` (the page), its assets under `/console/`, and its JSON API under `/console/api/`. Read-only:
 * its one POST that causes a write, a local run's "send example", goes through the webhook pipeline like any
 * delivery. Encapsulated (its hooks, parsers and error handler touch nothing else).
 *
 * @example
 * ```ts
 * await app.register(consolePlugin, { sync, access: { mode: "token", token }, refusals, instances: ["production"] });
 * ```
 */
export const consolePlugin: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const logger = options.sync.logger;
  app.addHook("onSend", async (_request, reply, payload) => {
    reply.headers(CONSOLE_HEADERS);
    return payload;
  });
  app.setErrorHandler((error, _request, reply) => {
    const status = (error as { statusCode?: number }).statusCode;
    if (error instanceof SyncError) return fastifyReply(reply, errorResponse(error));
    if (status === undefined || status >= 500) {
      logger.error({ error: describe(error) }, "console request failed");
      return fastifyReply(reply, errorResponse(new InternalError({ cause: error })));
    }
    return fastifyReply(reply, errorResponse(error));
  });

  if (options.access.mode === "off") {
    const off = async (_request: FastifyRequest, reply: FastifyReply) =>
      fastifyReply(reply, errorResponse(new ConsoleDisabledError()));
    app.get("/", off);
    app.all("/console", off);
    app.all("/console/*", off);
    return;
  }

  const context = consoleContext(options, options.access);
  // The page and its assets: no data in them, so served to anyone who reaches the console.
  for (const asset of ASSETS) {
    app.get(asset.path, async (_request, reply) =>
      reply.code(200).header("content-type", asset.type).header("cache-control", "no-cache").send(asset.body),
    );
  }
  await app.register(async (api) => {
    api.addHook("onRequest", async (request, reply) => {
      reply.header("cache-control", "no-store");
      if (request.method !== "GET" && !sameOrigin(request))
        return fastifyReply(
          reply,
          errorResponse(new UnauthorizedError("cross-origin console requests are refused")),
        );
      const open = request.routeOptions.config as { public?: boolean } | undefined;
      if (open?.public) return;
      if (!context.allowed(request))
        return fastifyReply(
          reply,
          errorResponse(new UnauthorizedError("sign in to the console first (CONSOLE_TOKEN)")),
        );
    });
    await sessionRoutes(api, context);
    readRoutes(api, context);
    lookupRoutes(api, context);
    if (options.exampleSecret) exampleRoutes(api, context, options.exampleSecret);
  });
};

/** What the console's routes share: its options, the sessions (token access), and who may read. */
interface ConsoleContext {
  options: ConsoleOptions;
  sync: ClerkUserSync;
  clock: () => Date;
  sessions: Sessions | undefined;
  loopbackOnly: boolean;
  allowed(request: FastifyRequest): boolean;
}

function consoleContext(
  options: ConsoleOptions,
  access: Exclude<ConsoleAccess, { mode: "off" }>,
): ConsoleContext {
  const clock = options.clock ?? (() => new Date());
  const sessions =
    access.mode === "token"
      ? createSessions(access.token, {
          clock,
          ...(options.sessionTtlMs ? { ttlMs: options.sessionTtlMs } : {}),
        })
      : undefined;
  const loopbackOnly = LOOPBACK.test(options.host ?? "");
  return {
    options,
    sync: options.sync,
    clock,
    sessions,
    loopbackOnly,
    /**
     * A local run needs no session, but a page elsewhere that rebinds its own name to 127.0.0.1 (DNS rebinding)
     * must not read it: when listening on loopback, only loopback names are served.
     */
    allowed: (request) =>
      sessions
        ? sessions.valid(request.headers.cookie)
        : !loopbackOnly || LOOPBACK.test(hostnameOf(request.headers.host)),
  };
}

/** Signing in with the token (JSON or an HTML form) and out. */
async function sessionRoutes(api: FastifyInstance, { sessions, sync }: ConsoleContext): Promise<void> {
  const logger = sync.logger;
  await api.register(async (signIn) => {
    // The sign-in also takes an HTML form's body; every other POST takes JSON only, which a page elsewhere
    // cannot send without a CORS preflight this service never answers.
    signIn.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 4096 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    signIn.post(
      "/console/api/session",
      { config: { public: true }, bodyLimit: 4096 },
      async (request, reply) => {
        if (!sessions) return { signedIn: true, mode: "local" };
        const form = String(request.headers["content-type"] ?? "").startsWith(
          "application/x-www-form-urlencoded",
        );
        // A form post must say where it comes from: browsers always do.
        if (form && !request.headers.origin)
          return fastifyReply(
            reply,
            errorResponse(new UnauthorizedError("a form sign-in needs an Origin header")),
          );
        const token = (request.body as { token?: unknown } | null)?.token;
        if (!sessions.tokenMatches(token)) {
          logger.warn({ console: "sign-in" }, "console sign-in refused: wrong token");
          return fastifyReply(reply, errorResponse(new UnauthorizedError("wrong console token")));
        }
        const cookie = sessionCookie(sessions.open(), { secure: isHttps(request), ttlMs: sessions.ttlMs });
        logger.info({ console: "sign-in" }, "console signed in");
        reply.header("set-cookie", cookie);
        return form ? reply.code(303).header("location", "/").send() : { signedIn: true, mode: "token" };
      },
    );
  });
  api.delete("/console/api/session", { config: { public: true } }, async (request, reply) => {
    sessions?.close(request.headers.cookie);
    reply.header("set-cookie", sessionCookie(null, { secure: isHttps(request), ttlMs: 0 }));
    return { signedIn: false };
  });
}

/** The setup, the delivery log, the refusals and the summary. */
function readRoutes(api: FastifyInstance, { options, sync, clock, loopbackOnly }: ConsoleContext): void {
  const { refusals } = options;
  api.get("/console/api/setup", async (request) => {
    const webhookUrl = `${isHttps(request) ? "https" : "http"}://${request.headers.host ?? "localhost"}${WEBHOOK_PATH}`;
    return {
      access: { mode: options.access.mode, host: options.host ?? null, loopbackOnly },
      webhookUrl,
      // Shown under the URL when Clerk could not deliver to it (a loopback or private address).
      webhookUrlNote: unreachableFromClerk(webhookUrl) ?? null,
      instances: ENVIRONMENTS.map((environment) => ({
        environment,
        configured: options.instances.includes(environment),
      })),
      database: sync.database.dialect,
      examples: options.exampleSecret ? EXAMPLE_TYPES : [],
    };
  });
  api.get("/console/api/deliveries", async (request) => {
    const q = request.query as Record<string, string | undefined>;
    return listDeliveries(sync.database, {
      environment: oneOf(q.environment, ENVIRONMENTS, "environment"),
      type: text(q.type, "type"),
      outcome: oneOf(q.outcome, OUTCOMES, "outcome"),
      limit: q.limit === undefined || q.limit === "" ? undefined : integer(q.limit, "limit"),
      cursor: text(q.cursor, "cursor"),
    });
  });
  api.get("/console/api/refusals", async (request) => {
    const { limit } = request.query as Record<string, string | undefined>;
    return { refusals: refusals.list(limit ? Math.min(integer(limit, "limit"), 500) : 100) };
  });
  api.get("/console/api/summary", async (request) => {
    const range =
      oneOf((request.query as { range?: string }).range, ["hour", "day"] as const, "range") ?? "hour";
    const staleAfterMs = options.staleAfterMs ?? STALE_AFTER_MS;
    // The users are counted once: freshness reads them from the counts.
    const counted = countRows(sync.database);
    const [counts, chart, instances] = await Promise.all([
      counted,
      deliveryBuckets(sync.database, refusals, range, clock()),
      counted.then(({ development, production }) =>
        instanceFreshness(sync.database, clock(), staleAfterMs, {
          development: development.users,
          production: production.users,
        }),
      ),
    ]);
    const freshness = { staleAfterMs, instances };
    return {
      tables: COUNTED_TABLES,
      counts,
      chart: { range, ...chart },
      lastErrors: refusals.lastByCode(),
      freshness,
    };
  });
}

/** A user or an organization, with its Billing: POSTs so that an email never sits in a URL (proxy logs, history). */
function lookupRoutes(api: FastifyInstance, { sync }: ConsoleContext): void {
  const asked = (body: unknown, missing: string) => {
    const { environment, query } = (body ?? {}) as { environment?: unknown; query?: unknown };
    const env = oneOf(environment, ENVIRONMENTS, "environment");
    const key = text(query, "query")?.trim();
    if (!env || !key) throw new BadRequestError(`give an environment and ${missing}`);
    return [env, key] as const;
  };
  api.post("/console/api/users/lookup", { bodyLimit: 4096 }, async (request) =>
    lookUpUser(sync.database, ...asked(request.body, "a Clerk user id or an email")),
  );
  api.post("/console/api/organizations/lookup", { bodyLimit: 4096 }, async (request) =>
    lookUpOrganization(sync.database, ...asked(request.body, "a Clerk organization id")),
  );
}

/** A local run's example buttons: the delivery takes the webhook's own path through the core. */
function exampleRoutes(api: FastifyInstance, { sync, clock }: ConsoleContext, secret: string): void {
  api.post("/console/api/examples/:type", { bodyLimit: 4096 }, async (request, reply) => {
    const { type } = request.params as { type: string };
    if (!isExampleType(type))
      return fastifyReply(reply, errorResponse(new NotFoundError(`no example ${type}`)));
    const userId = text((request.body as { userId?: unknown } | null)?.userId, "userId")?.trim() || undefined;
    const signed = signedExample(type, { secret, userId, now: clock() });
    // Verify, decode, store, answer: as for any delivery.
    const answer = await sync.handle({ body: signed.body, headers: signed.headers });
    return {
      type,
      environment: "development",
      svixId: signed.svixId,
      userId: signed.userId,
      status: answer.status,
      answer: JSON.parse(answer.body) as unknown,
    };
  });
}

function isHttps(request: FastifyRequest): boolean {
  // A forged X-Forwarded-Proto only makes the cookie Secure: it harms nobody but the forger.
  return request.protocol === "https" || request.headers["x-forwarded-proto"] === "https";
}

function hostnameOf(host: string | undefined): string {
  if (!host) return "";
  return host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : (host.split(":")[0] ?? "");
}

/** A request without Origin (not a browser's cross-site one) or from this very origin. */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T | undefined {
  if (value === undefined || value === "") return undefined;
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  throw new BadRequestError(`${name} must be one of ${allowed.join(", ")}`);
}

function text(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" || value.length > 320)
    throw new BadRequestError(`${name} must be a short string`);
  return value;
}

function integer(value: string, name: string): number {
  if (!/^\d{1,4}$/.test(value)) throw new BadRequestError(`${name} must be a whole number`);
  return Number(value);
}
