import { assertDepth } from "./clean.js";
import { type Database, type DatabaseOption, openDatabase, type PoolOptions } from "./db/database.js";
import { migrateThrough } from "./db/migrate.js";
import type { MembershipRow, OrganizationRow, UserRow } from "./db/schema.js";
import { bodyText, type Delivery, decode } from "./decode.js";
import {
  ConfigError,
  type ErrorCode,
  InternalError,
  InvalidSignatureError,
  PayloadTooLargeError,
  ShuttingDownError,
  type SignatureFailureReason,
  SyncError,
} from "./errors.js";
import { assertLimits } from "./limits.js";
import { consoleLogger, describe, type Logger } from "./log.js";
import {
  createReadThrough,
  type EnsureOptions,
  type ReadThroughOptions,
  readThroughProblems,
} from "./read-through/read-through.js";
import { errorResponse, jsonResponse, type SyncResponse } from "./response.js";
import { applyBatch, type Outcome, type Queued, queued } from "./store/apply.js";
import { type BillingRows, getBillingRows } from "./store/billing-rows.js";
import { storageFailure } from "./store/failures.js";
import {
  getMembership,
  getOrganization,
  type ListMembershipsOptions,
  type ListOrganizationsOptions,
  listMemberships,
  listOrganizations,
  type MembershipPage,
  type OrganizationPage,
} from "./store/organizations.js";
import { type CurrentPlan, getCurrentPlan, type Payer } from "./store/plans.js";
import { getUser, type ListUsersOptions, listUsers, type UserPage } from "./store/users.js";
import { Writer, type WriterOptions } from "./store/writer.js";
import { createVerifier, type Environment, type Secrets, secretProblems } from "./verify.js";

export type { Logger } from "./log.js";

/** The path every adapter mounts by default. */
export const WEBHOOK_PATH = "/api/user/webhook/clerk";

/** The largest body taken by default: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** How long a statement of a delivery's transaction may run by default: 5 s. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;

/**
 * What {@link ClerkUserSyncOptions.onEvent} receives, after the delivery has committed: the ids the event named
 * and the committed rows of what it was about: `user`, `organization`, `membership`, or for a Billing event
 * `billing` (its subscription and items, its item, or its payment attempt); the others null. A row is null when
 * the object is deleted or was never stored.
 *
 * @example
 * ```ts
 * onEvent: ({ type, membership }) => { if (membership) grantAccess(membership.clerkUserId, membership.clerkOrgId) }
 * onEvent: ({ billing }) => { for (const item of billing?.items ?? []) recordPlan(item.clerkOrgId, item.planSlug) }
 * ```
 */
export interface SyncEvent {
  environment: Environment;
  type: string;
  outcome: Outcome;
  svixId: string;
  /** A user event's user, a membership's member, or a Billing event's paying user; null otherwise. */
  clerkUserId: string | null;
  /** An organization event's organization, a membership's, or a Billing event's paying organization. */
  clerkOrgId: string | null;
  /** A membership event's membership; null otherwise. */
  clerkMembershipId: string | null;
  /** A user event's row as committed. Null for any other event (a membership event included). */
  user: UserRow | null;
  /** An organization event's row as committed; null for any other event. */
  organization: OrganizationRow | null;
  /** A membership event's row as committed; null for any other event. */
  membership: MembershipRow | null;
  /**
   * A Billing event's rows as committed ({@link BillingRows}: `subscription`, `items`, `paymentAttempt`, each null
   * or left out when not stored); null for any other event.
   */
  billing: BillingRows | null;
}

/** Measurements for metrics; every method optional. */
export interface Observer {
  delivery?(
    labels: { environment: Environment | "unknown"; type: string; outcome: Outcome | "error" },
    seconds: number,
  ): void;
  signatureFailure?(reason: SignatureFailureReason): void;
  write?(size: number, seconds: number, ok: boolean): void;
  /**
   * Every error answer, with what was known of the request by then: the core's, and the service's own (404, 408,
   * 431, a malformed request, …), for metrics by code and the console's list of refusals.
   */
  refusal?(refusal: Refusal): void;
}

/** What {@link Observer.refusal} receives: no body, no header but the svix-id, nothing personal. */
export interface Refusal {
  code: ErrorCode;
  status: number;
  environment: Environment | null;
  type: string | null;
  svixId: string | null;
}

/** Options of {@link createClerkUserSync}. */
export interface ClerkUserSyncOptions {
  /** A PostgreSQL URL, a `pg.Pool` or a `PGlite` you own; omitted: an embedded PGlite under `dataDir`. */
  database?: DatabaseOption;
  /** Where the embedded PGlite keeps its files (`./.data`); `memory://` for none. */
  dataDir?: string;
  /** The webhook signing secrets of the Development and Production instances. */
  secrets: Secrets;
  /**
   * Apply pending migrations on creation (default true). On a migrated database this is one read; `false` skips even
   * that, for serverless processes whose deploy step runs `clerk-user-sync migrate`.
   */
  migrate?: boolean;
  /**
   * A direct (unpooled) PostgreSQL URL to apply migrations through, for providers whose pooler refuses DDL or locks
   * (Prisma's `directUrl`); the deliveries still go through `database`.
   */
  migrationsDatabase?: string;
  /** How the pool opened for a `database` URL is sized and timed (10 connections, 5 s to connect, 10 s idle). */
  pool?: PoolOptions;
  /** Called after each delivery commits. A throw is logged; the delivery is already stored and still answered 200. */
  onEvent?: (event: SyncEvent) => void | Promise<void>;
  logger?: Logger;
  /** The clock for signature timestamps (default: the system clock). */
  clock?: () => Date;
  /** Largest body taken, in bytes (1 MiB). */
  bodyLimit?: number;
  /**
   * The longest a statement of a delivery's transaction may run, in ms (5 s). One that waits longer, for a users
   * row your app keeps locked, say, is cancelled: its batch is retried delivery by delivery, the others commit, and
   * the one still waiting is answered 503 after about twice this, within Svix's 15 s, instead of holding every delivery
   * behind it.
   */
  statementTimeout?: number;
  /** Group-commit tuning. */
  writer?: Omit<WriterOptions, "onCommit">;
  /** Metrics hooks. */
  observer?: Observer;
  /** The instances' secret keys and bounds for {@link ClerkUserSync.ensureUser}; without them it only reads. */
  clerk?: ReadThroughOptions;
}

/** A request as the core sees it: the raw bytes, untouched, and the headers. */
export interface SyncRequest {
  body: string | Uint8Array;
  headers: Headers | Record<string, string | string[] | undefined>;
}

export type { SyncResponse } from "./response.js";

/** The product of {@link createClerkUserSync}. */
export interface ClerkUserSync {
  /** The whole pipeline (verify → decode → apply → respond) for one request. Never throws. */
  handle(request: SyncRequest): Promise<SyncResponse>;
  getUser(key: { clerkUserId: string; environment: Environment }): Promise<UserRow | null>;
  listUsers(options?: ListUsersOptions): Promise<UserPage>;
  getOrganization(key: { clerkOrgId: string; environment: Environment }): Promise<OrganizationRow | null>;
  listOrganizations(options: ListOrganizationsOptions): Promise<OrganizationPage>;
  listMemberships(options: ListMembershipsOptions): Promise<MembershipPage>;
  /**
   * The user's row, there when the app needs it: the stored row; when there is none and no tombstone, the user
   * fetched from Clerk's Backend API (`options.clerk`) and stored through the same guarded statement as a webhook,
   * then returned. Null when Clerk has no such user, or it was deleted (Clerk is not asked). Concurrent calls for
   * one id make one request. Fails with `clerk_unavailable` (an outage or timeout, within `clerk.budgetMs`),
   * `clerk_unauthorized`, or `invalid_config` when no instance can be chosen.
   *
   * @example
   * ```ts
   * const user = await sync.ensureUser("user_2abc"); // UserRow | null
   * ```
   */
  ensureUser(clerkUserId: string, options?: EnsureOptions): Promise<UserRow | null>;
  /**
   * {@link ClerkUserSync.ensureUser} for an organization, by id (`org_…`, not a slug): `GET /v1/organizations/{id}`.
   *
   * @example
   * ```ts
   * const org = await sync.ensureOrganization(orgId);
   * ```
   */
  ensureOrganization(clerkOrgId: string, options?: EnsureOptions): Promise<OrganizationRow | null>;
  /**
   * The Clerk Billing plan a user or an organization is on now (the view `billing_current_plans`): an active
   * item, or a canceled one inside its period, a paid plan before the default one; null when none is stored or
   * the payer is deleted. Without `environment`, either instance's (production's first).
   *
   * @example
   * ```ts
   * const plan = await sync.getCurrentPlan({ organizationId: orgId });
   * const pro = plan?.planSlug === "pro";
   * ```
   */
  getCurrentPlan(payer: Payer, environment?: Environment): Promise<CurrentPlan | null>;
  /** Stops taking deliveries, waits for those in flight, closes what it opened. */
  close(): Promise<void>;
  /** The database seam, for the service's readiness check, CLI commands and tests. */
  readonly database: Database;
  readonly bodyLimit: number;
  readonly logger: Logger;
  /**
   * The answer to a delivery an adapter refused before the core could read it (a body over the limit, bytes a
   * parser consumed, a request that broke off), logged and counted like any refusal.
   */
  refuse(error: unknown): SyncResponse;
}

/**
 * Creates the webhook pipeline over a database: the core every adapter and the service are built on.
 *
 * @example
 * ```ts
 * const sync = await createClerkUserSync({
 *   database: process.env.DATABASE_URL,
 *   secrets: { development: process.env.DEV_CLERK_WEBHOOK_SECRET, production: process.env.PROD_CLERK_WEBHOOK_SECRET },
 * });
 * const { status, headers, body } = await sync.handle({ body: rawBody, headers: req.headers });
 * ```
 */
export async function createClerkUserSync(options: ClerkUserSyncOptions): Promise<ClerkUserSync> {
  const { bodyLimit, statementTimeout } = checkedOptions(options);
  const logger = options.logger ?? consoleLogger;
  const observer = options.observer ?? {};
  const verify = createVerifier(options.secrets, options.clock ?? (() => new Date()));
  const database = await openMigrated(options);
  const core: Core = {
    verify,
    writer: createWriter(database, options.writer, observer, statementTimeout),
    database,
    bodyLimit,
    logger,
    observer,
    onEvent: options.onEvent,
  };
  const readThrough = createReadThrough(database, options.clerk, logger);
  const inFlight = deliveriesInFlight();
  let closing = false;

  return {
    async handle(request) {
      inFlight.begin();
      try {
        return await handle(core, request, closing);
      } finally {
        inFlight.end();
      }
    },
    getUser: (key) => getUser(database, key),
    listUsers: (listOptions) => listUsers(database, listOptions),
    getOrganization: (key) => getOrganization(database, key),
    listOrganizations: (listOptions) => listOrganizations(database, listOptions),
    listMemberships: (listOptions) => listMemberships(database, listOptions),
    ensureUser: readThrough.ensureUser,
    ensureOrganization: readThrough.ensureOrganization,
    getCurrentPlan: (payer, environment) => getCurrentPlan(database, payer, environment),
    async close() {
      closing = true;
      // Every handle() in flight finishes first: its commit, its onEvent hook, its answer.
      await inFlight.settled();
      await core.writer.drained();
      await database.close();
    },
    database,
    bodyLimit,
    logger,
    refuse: (error) => refuseUnread(core, error),
  };
}

/** The options' limits, checked with the secrets and the read-through's options: every problem in one ConfigError. */
function checkedOptions(options: ClerkUserSyncOptions): { bodyLimit: number; statementTimeout: number } {
  const problems = secretProblems(options.secrets ?? {}, {
    development: "secrets.development",
    production: "secrets.production",
  });
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit <= 0)
    problems.push("bodyLimit must be a positive integer");
  const statementTimeout = options.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  if (!Number.isSafeInteger(statementTimeout) || statementTimeout <= 0)
    problems.push("statementTimeout must be a positive integer (milliseconds)");
  problems.push(...readThroughProblems(options.clerk));
  if (problems.length > 0) throw new ConfigError(problems);
  return { bodyLimit, statementTimeout };
}

/** The database, migrated unless `migrate: false`; closed again when migrating fails. */
async function openMigrated(options: ClerkUserSyncOptions): Promise<Database> {
  const database = await openDatabase(options.database, { dataDir: options.dataDir, pool: options.pool });
  if (options.migrate === false) return database;
  try {
    await migrateThrough(database, options.migrationsDatabase);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/** The group-commit queue every delivery is stored through. */
function createWriter(
  database: Database,
  tuning: ClerkUserSyncOptions["writer"],
  observer: Observer,
  statementTimeout: number,
): Writer<Queued> {
  return new Writer<Queued>(
    (batch) => applyBatch(database, batch, { timeoutMs: statementTimeout }),
    {
      ...tuning,
      // More transactions at once than the database can run would only queue for its connections.
      concurrency: Math.min(tuning?.concurrency ?? 1, database.concurrency),
      onCommit: (size, seconds, ok) => safely(() => observer.write?.(size, seconds, ok)),
    },
    (entry) => entry.delivery.body?.length ?? 0,
  );
}

/** How many deliveries are being handled, so that closing waits for each one's commit, hook and answer. */
function deliveriesInFlight(): { begin(): void; end(): void; settled(): Promise<void> } {
  let active = 0;
  const idle: (() => void)[] = [];
  return {
    begin: () => {
      active++;
    },
    end: () => {
      if (--active === 0) for (const resolve of idle.splice(0)) resolve();
    },
    settled: () => (active > 0 ? new Promise<void>((resolve) => idle.push(resolve)) : Promise.resolve()),
  };
}

/** What handling a delivery needs, made once by {@link createClerkUserSync}. */
interface Core {
  verify: ReturnType<typeof createVerifier>;
  writer: Writer<Queued>;
  database: Database;
  bodyLimit: number;
  logger: Logger;
  observer: Observer;
  onEvent: ClerkUserSyncOptions["onEvent"];
}

/** What is known of a delivery so far, for its log line, its metrics and its refusal. */
interface Known {
  labels: { environment: Environment | "unknown"; type: string };
  svixId: string | undefined;
}

/** The whole pipeline for one request: verify, decode, store, observe, call `onEvent`, answer. Never throws. */
async function handle(core: Core, request: SyncRequest, closing: boolean): Promise<SyncResponse> {
  const started = performance.now();
  const known: Known = { labels: { environment: "unknown", type: "unknown" }, svixId: undefined };
  try {
    if (closing) throw new ShuttingDownError();
    const { delivery, body } = receive(core, request, known);
    const outcome = await store(core, delivery, body, known);
    const seconds = (performance.now() - started) / 1000;
    // Committed: from here on, nothing may turn the answer into an error.
    safely(() => {
      const { environment, type } = known.labels;
      core.observer.delivery?.({ environment, type, outcome }, seconds);
      core.logger.info(
        { svixId: known.svixId, environment, type, outcome, durationMs: round(seconds * 1000) },
        "delivery",
      );
    });
    if (core.onEvent) await notify(core, core.onEvent, delivery, outcome);
    return jsonResponse(200, { status: outcome, environment: delivery.environment, type: delivery.type });
  } catch (error) {
    return answerFailure(core, error, request, known, (performance.now() - started) / 1000);
  }
}

/**
 * The request's delivery, verified and decoded, and its text. `known` learns the svix-id and labels as they are
 * established, so that a refusal further on reports them.
 */
function receive(
  { verify, bodyLimit }: Core,
  request: SyncRequest,
  known: Known,
): { delivery: Delivery; body: string } {
  const size = typeof request.body === "string" ? Buffer.byteLength(request.body) : request.body.byteLength;
  if (size > bodyLimit) throw new PayloadTooLargeError(`the body exceeds ${bodyLimit} bytes`);
  // The signature covers the bytes received; only then are they decoded to text.
  const verified = verify(request.body, headerReader(request.headers));
  known.svixId = verified.svixId;
  known.labels = { environment: verified.environment, type: "unknown" };
  const body = bodyText(request.body);
  assertDepth(body);
  const delivery = decode({ environment: verified.environment, svixId: verified.svixId, body });
  assertLimits(delivery);
  known.labels = { environment: delivery.environment, type: delivery.type };
  return { delivery, body };
}

/** The delivery stored through the writer: its outcome once committed, or the storage failure, logged. */
async function store(
  { writer, logger }: Core,
  delivery: Delivery,
  body: string,
  known: Known,
): Promise<Outcome> {
  try {
    // Made ready now, while a transaction may be in flight, so that its row waits in the queue ready to go. The
    // text goes with it (see Applicable), assigned rather than spread: a spread copy is slow on some Node.js versions.
    return await writer.write(queued(Object.assign(delivery, { body })));
  } catch (error) {
    const failure = storageFailure(error);
    const message =
      failure.code === "storage_unavailable"
        ? "delivery not stored: database error"
        : "delivery not stored: the database refuses its content";
    logger.error(
      { svixId: known.svixId, ...known.labels, code: failure.code, error: describe(error) },
      message,
    );
    throw failure;
  }
}

/** The error answer to a delivery that was not stored, logged and observed with what was known of it. */
function answerFailure(
  { logger, observer }: Core,
  error: unknown,
  request: SyncRequest,
  { labels, svixId }: Known,
  seconds: number,
): SyncResponse {
  const failure = error instanceof SyncError ? error : new InternalError({ cause: error });
  const response = errorResponse(failure);
  safely(() => {
    if (!(error instanceof SyncError)) logger.error({ svixId, error: describe(error) }, "unexpected failure");
    if (failure instanceof InvalidSignatureError) observer.signatureFailure?.(failure.reason);
    observer.delivery?.({ ...labels, outcome: "error" }, seconds);
    if (response.status < 500) {
      logger.warn(
        { svixId, ...labels, code: failure.code, durationMs: round(seconds * 1000) },
        "delivery refused",
      );
    }
    observer.refusal?.({
      code: failure.code,
      status: response.status,
      environment: labels.environment === "unknown" ? null : labels.environment,
      type: labels.type === "unknown" ? null : labels.type,
      // Unverified when the signature failed, but what the operator matches with Clerk's dashboard.
      svixId: svixId ?? headerReader(request.headers)("svix-id")?.slice(0, 100) ?? null,
    });
  });
  return response;
}

/** {@link ClerkUserSync.refuse}: the answer to a delivery an adapter refused before the core could read it. */
function refuseUnread({ logger, observer }: Core, error: unknown): SyncResponse {
  const { code, ...response } = errorResponse(error);
  safely(() => {
    observer.delivery?.({ environment: "unknown", type: "unknown", outcome: "error" }, 0);
    if (response.status < 500)
      logger.warn({ environment: "unknown", type: "unknown", code }, "delivery refused");
    else logger.error({ code, error: describe(error) }, "delivery refused");
    observer.refusal?.({ code, status: response.status, environment: null, type: null, svixId: null });
  });
  return response;
}

/** Calls `onEvent` with the delivery's committed rows; a throw is logged, never answered. */
async function notify(
  { database, logger }: Core,
  onEvent: NonNullable<ClerkUserSyncOptions["onEvent"]>,
  delivery: Delivery,
  outcome: Outcome,
): Promise<void> {
  try {
    await onEvent(await committedEvent(database, delivery, outcome));
  } catch (error) {
    // The delivery is committed: a 5xx now would only make Svix resend what we already have.
    logger.error(
      { svixId: delivery.svixId, error: describe(error) },
      "onEvent hook failed; delivery was stored",
    );
  }
}

/** The {@link SyncEvent} of a committed delivery: its ids, and the rows of what it was about, read now. */
async function committedEvent(database: Database, delivery: Delivery, outcome: Outcome): Promise<SyncEvent> {
  const { environment, type, svixId } = delivery;
  const event: SyncEvent = {
    environment,
    type,
    outcome,
    svixId,
    clerkUserId: delivery.clerkUserId,
    clerkOrgId: null,
    clerkMembershipId: null,
    user: null,
    organization: null,
    membership: null,
    billing: null,
  };
  if (delivery.resource === "organization") {
    event.clerkOrgId = delivery.clerkOrgId;
    event.organization = await getOrganization(database, { clerkOrgId: delivery.clerkOrgId, environment });
  } else if (delivery.resource === "membership") {
    const { clerkMembershipId, clerkOrgId } = delivery;
    Object.assign(event, { clerkMembershipId, clerkOrgId });
    event.membership = await getMembership(database, { clerkMembershipId, environment });
  } else if (delivery.resource === "billing") {
    event.clerkOrgId = delivery.clerkOrgId;
    event.billing = await getBillingRows(database, environment, delivery.billing);
  } else if (delivery.clerkUserId !== null) {
    event.user = await getUser(database, { clerkUserId: delivery.clerkUserId, environment });
  }
  return event;
}

/** Metrics and logs must never change an answer: a throwing observer or logger is ignored. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {}
}

function headerReader(headers: SyncRequest["headers"]): (name: string) => string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (name) => (headers as Headers).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const lower = Object.keys(record).some((k) => k !== k.toLowerCase())
    ? Object.fromEntries(Object.entries(record).map(([k, v]) => [k.toLowerCase(), v]))
    : record;
  return (name) => {
    const value = lower[name];
    return Array.isArray(value) ? value.join(" ") : value;
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
