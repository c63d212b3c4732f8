import { type DatabaseOption, DEFAULT_DATA_DIR } from "../db/database.js";
import type { OrganizationRow, UserRow } from "../db/schema.js";
import { ConfigError, StorageUnavailableError } from "../errors.js";
import { consoleLogger, describe } from "../log.js";
import type { EnsureOptions } from "../read-through/read-through.js";
import { errorResponse, methodNotAllowed, type SyncResponse, webResponse } from "../response.js";
import {
  postgresUrl,
  readThroughFromEnv,
  routeEnvironment,
  WEBHOOK_SECRET_VARIABLES,
} from "../service/config.js";
import type { CurrentPlan, Payer } from "../store/plans.js";
import {
  type ClerkUserSync,
  type ClerkUserSyncOptions,
  createClerkUserSync,
  type Logger,
  type Observer,
  type SyncEvent,
} from "../sync.js";
import { type Environment, secretProblems } from "../verify.js";
import { toWebHandler, type WebHandler } from "./web.js";

/**
 * Options of {@link clerkUserSyncRoute}: those of `createClerkUserSync`, all optional. What is omitted is read from
 * the environment at the first request, never at import.
 */
export interface ClerkUserSyncRouteOptions extends Partial<ClerkUserSyncOptions> {
  /**
   * Where `DEV_CLERK_WEBHOOK_SECRET`, `PROD_CLERK_WEBHOOK_SECRET`, `DATABASE_URL`, `DATA_DIR` and the database's
   * settings (`DATABASE_URL_UNPOOLED`, `DATABASE_POOL_MAX`: 3 here, `MIGRATE_ON_START`) are read (`process.env`), at
   * each start attempt.
   */
  env?: Record<string, string | undefined>;
}

/** A Next.js App Router route handler. */
export type RouteHandler = (request: Request) => Promise<Response>;

/** What {@link clerkUserSyncRoute} returns: one handler per HTTP method, for a route file to export. */
export interface ClerkUserSyncRouteHandlers {
  /** The webhook. */
  POST: RouteHandler;
  /** The others answer 405 `method_not_allowed` with `Allow: POST`, as the service does. */
  GET: RouteHandler;
  HEAD: RouteHandler;
  PUT: RouteHandler;
  PATCH: RouteHandler;
  DELETE: RouteHandler;
  OPTIONS: RouteHandler;
}

/**
 * The webhook as a Next.js App Router route: the whole integration is one file.
 *
 * Nothing happens at import or during `next build`: the secrets and the database are read, the database opened
 * and migrated, at the first request. A configuration problem answers that request 500 `invalid_config` and logs
 * one line naming the setting (never its value); a database that cannot be reached answers 503
 * `storage_unavailable`. Either way Svix retries, and the next request tries again. Once started, the instance
 * is kept for the life of the process, across `next dev` reloads of the route (one pool however many edits; the
 * hooks of the newest version of the route are the ones called).
 *
 * Without `DATABASE_URL` (or a `database` option) it stores users in an embedded PGlite under `DATA_DIR`
 * (`./.data`). In production (`NODE_ENV=production`, as under `next start`) that needs `DATA_DIR` set: a
 * forgotten `DATABASE_URL` must not quietly keep users in a directory the next deploy throws away.
 *
 * @example
 * ```ts
 * // app/api/user/webhook/clerk/route.ts
 * import { clerkUserSyncRoute } from "clerk-user-sync/next";
 * export const runtime = "nodejs";
 * export const { POST, GET, PUT, PATCH, DELETE } = clerkUserSyncRoute();
 * ```
 */
export function clerkUserSyncRoute(options: ClerkUserSyncRouteOptions = {}): ClerkUserSyncRouteHandlers {
  const logger = options.logger ?? consoleLogger;
  async function POST(request: Request): Promise<Response> {
    let handler: WebHandler;
    try {
      handler = (await instance(options, logger)).handler;
    } catch (error) {
      return webResponse(startFailure(error, logger));
    }
    return handler(request);
  }
  const refuse: RouteHandler = async () => webResponse(methodNotAllowed());
  return { POST, GET: refuse, HEAD: refuse, PUT: refuse, PATCH: refuse, DELETE: refuse, OPTIONS: refuse };
}

/**
 * The signed-in user's row, there on the first request after sign-up: the stored row, or the user fetched from
 * Clerk's Backend API and stored like a webhook (see `ClerkUserSync.ensureUser`). It shares the route's instance
 * when given the same options (none: both read the environment). The key is `CLERK_SECRET_KEY`'s instance, or
 * `DEV_CLERK_SECRET_KEY` / `PROD_CLERK_SECRET_KEY` (see `readThroughFromEnv` in src/service/config.ts). Throws a `SyncError` (`clerk_unavailable`,
 * `invalid_config`, `storage_unavailable`…) rather than answering.
 *
 * @example
 * ```ts
 * const { userId } = await auth(); // @clerk/nextjs/server
 * const user = userId ? await ensureUser(userId) : null;
 * ```
 */
export async function ensureUser(
  clerkUserId: string,
  options: ClerkUserSyncRouteOptions & EnsureOptions = {},
): Promise<UserRow | null> {
  const { environment, ...rest } = options;
  return (await started(rest)).ensureUser(clerkUserId, { environment });
}

/**
 * {@link ensureUser} for an organization, by id (`org_…`), e.g. `auth()`'s `orgId`.
 *
 * @example
 * ```ts
 * const { orgId } = await auth();
 * const org = orgId ? await ensureOrganization(orgId) : null;
 * ```
 */
export async function ensureOrganization(
  clerkOrgId: string,
  options: ClerkUserSyncRouteOptions & EnsureOptions = {},
): Promise<OrganizationRow | null> {
  const { environment, ...rest } = options;
  return (await started(rest)).ensureOrganization(clerkOrgId, { environment });
}

/**
 * The plan a user or an organization is on now, from your own tables (see `ClerkUserSync.getCurrentPlan`): for SQL
 * and jobs as much as for a request, where the session token's `pla` claim also answers. It shares the route's
 * instance when given the same options.
 *
 * @example
 * ```ts
 * const { orgId } = await auth();
 * const plan = orgId ? await getCurrentPlan({ organizationId: orgId }) : null;
 * ```
 */
export async function getCurrentPlan(
  payer: Payer,
  options: ClerkUserSyncRouteOptions & { environment?: Environment } = {},
): Promise<CurrentPlan | null> {
  const { environment, ...rest } = options;
  return (await started(rest)).getCurrentPlan(payer, environment);
}

async function started(options: ClerkUserSyncRouteOptions): Promise<ClerkUserSync> {
  try {
    return (await instance(options, options.logger ?? consoleLogger)).sync;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new StorageUnavailableError({ cause: error });
  }
}

/**
 * Closes every instance the routes of this process started, waiting for the deliveries in flight; the next
 * request starts a new one. For tests, and for a custom server's shutdown.
 *
 * @example
 * ```ts
 * process.once("SIGTERM", () => void closeClerkUserSyncRoutes().then(() => process.exit(0)));
 * ```
 */
export async function closeClerkUserSyncRoutes(): Promise<void> {
  const entries = [...registry().values()];
  registry().clear();
  await Promise.all(entries.map(async (entry) => (await entry.started.catch(() => undefined))?.sync.close()));
}

/** A started instance, and the hooks of the newest route that asked for it. */
interface Entry {
  started: Promise<{ sync: ClerkUserSync; handler: WebHandler }>;
  hooks: Hooks;
}

type Hooks = Pick<ClerkUserSyncOptions, "onEvent" | "logger" | "observer" | "clock">;

/**
 * Instances by configuration, on `globalThis`: `next dev` evaluates a route module again after each edit, and a
 * module-level cache would open a new pool every time. The symbol is global so that every copy of this module
 * (bundled into several routes, or loaded again) shares the one registry.
 */
function registry(): Map<string, Entry> {
  const global = globalThis as { [REGISTRY]?: Map<string, Entry> };
  global[REGISTRY] ??= new Map();
  return global[REGISTRY];
}

const REGISTRY = Symbol.for("clerk-user-sync.next.instances");

async function instance(
  options: ClerkUserSyncRouteOptions,
  logger: Logger,
): Promise<{ sync: ClerkUserSync; handler: WebHandler }> {
  const resolved = resolve(options);
  const key = instanceKey(resolved);
  const hooks: Hooks = { onEvent: options.onEvent, logger, observer: options.observer, clock: options.clock };
  const entries = registry();
  let entry = entries.get(key);
  if (entry) {
    entry.hooks = hooks;
  } else {
    const fresh: Entry = { hooks, started: start(resolved, () => fresh.hooks) };
    entry = fresh;
    entries.set(key, fresh);
    // A failed start is forgotten, so that the next request tries again (the database may be back by then).
    fresh.started.catch(() => {
      if (entries.get(key) === fresh) entries.delete(key);
    });
  }
  return entry.started;
}

/** The options with the environment's settings filled in, or a ConfigError naming each missing one. */
function resolve(options: ClerkUserSyncRouteOptions): ClerkUserSyncOptions {
  const env = routeEnvironment(options.env);
  const problems: string[] = [...env.problems];
  const secrets = options.secrets ?? env.secrets;
  problems.push(
    ...secretProblems(
      secrets,
      options.secrets
        ? { development: "secrets.development", production: "secrets.production" }
        : WEBHOOK_SECRET_VARIABLES,
    ),
  );
  let database: DatabaseOption = options.database;
  if (!("database" in options)) {
    database = env.databaseUrl;
    if (database !== undefined && postgresUrl(database) === undefined) {
      problems.push("DATABASE_URL is invalid: expected a postgres:// or postgresql:// URL");
    }
  }
  let dataDir = options.dataDir ?? env.dataDir;
  if (database === undefined && dataDir === undefined) {
    if (env.production) {
      problems.push(
        "DATABASE_URL is not set: set it to your PostgreSQL, or set DATA_DIR to a lasting directory for the " +
          "embedded database (in production it is not chosen for you)",
      );
    }
    dataDir = DEFAULT_DATA_DIR;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const clerk = options.clerk ?? readThroughFromEnv(options.env);
  return {
    migrate: env.database.migrateOnStart,
    migrationsDatabase: env.database.migrationsUrl,
    pool: { max: env.database.poolMax },
    ...options,
    secrets,
    database,
    dataDir,
    clerk,
  };
}

/**
 * Two routes with the same settings share one instance. The hooks (functions) are not in the key, nor the
 * environment they were read from; the read-through's settings are (JSON drops its injected functions).
 */
function instanceKey(options: ClerkUserSyncRouteOptions): string {
  const { database, onEvent, logger, observer, clock, env, ...settings } = options;
  return JSON.stringify({
    ...settings,
    database: typeof database === "object" ? identity(database) : database,
    // The core asks for the user's row only when there is a hook to give it to.
    onEvent: onEvent !== undefined,
  });
}

/**
 * A pool or PGlite passed in is its own instance: told apart by identity, numbered on first sight (on
 * `globalThis` too, so that a reloaded route finds the number its pool already has).
 */
function identity(value: object): string {
  const global = globalThis as { [IDENTITIES]?: WeakMap<object, string> };
  global[IDENTITIES] ??= new WeakMap();
  const known = global[IDENTITIES].get(value);
  if (known !== undefined) return known;
  const id = `object#${Math.random().toString(36).slice(2)}`;
  global[IDENTITIES].set(value, id);
  return id;
}

const IDENTITIES = Symbol.for("clerk-user-sync.next.identities");

async function start(
  options: ClerkUserSyncOptions,
  hooks: () => Hooks,
): Promise<{ sync: ClerkUserSync; handler: WebHandler }> {
  // The hooks are looked up at each call, so that after an edit in `next dev` the route's newest ones run.
  // `Required`: a hook added to Observer does not compile until it is forwarded here too.
  const observer: Required<Observer> = {
    delivery: (...args) => hooks().observer?.delivery?.(...args),
    signatureFailure: (...args) => hooks().observer?.signatureFailure?.(...args),
    write: (...args) => hooks().observer?.write?.(...args),
    refusal: (...args) => hooks().observer?.refusal?.(...args),
  };
  const logger: Logger = {
    debug: (...args) => hooks().logger?.debug(...args),
    info: (...args) => hooks().logger?.info(...args),
    warn: (...args) => hooks().logger?.warn(...args),
    error: (...args) => hooks().logger?.error(...args),
  };
  const sync = await createClerkUserSync({
    ...options,
    observer,
    logger,
    clock: () => (hooks().clock ?? (() => new Date()))(),
    onEvent: options.onEvent ? (event: SyncEvent) => hooks().onEvent?.(event) : undefined,
  });
  return { sync, handler: toWebHandler(sync) };
}

/** The answer to a request whose instance could not start, and the one log line that says why. */
function startFailure(error: unknown, logger: Logger): SyncResponse {
  if (error instanceof ConfigError) {
    logger.error(
      { code: error.code, problems: error.problems },
      "not configured: the webhook answers 500 until this is fixed",
    );
    // The problems name settings, for the operator's log; the sender only learns that there are some.
    return errorResponse(error, "the webhook is not configured; the server's log says what is missing");
  }
  logger.error({ error: describe(error) }, "could not start: database error; the next request tries again");
  return errorResponse(new StorageUnavailableError({ cause: error }));
}
