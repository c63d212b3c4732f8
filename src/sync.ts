import { assertDepth } from "./clean.js";
import { type Database, type DatabaseOption, openDatabase } from "./db/database.js";
import { migrate as applyMigrations } from "./db/migrate.js";
import type { UserRow } from "./db/schema.js";
import { decode } from "./decode.js";
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
import { errorResponse, jsonResponse, type SyncResponse } from "./response.js";
import { applyBatch, type Outcome } from "./store/apply.js";
import { storageFailure } from "./store/failures.js";
import { getUser, type ListUsersOptions, listUsers, type UserPage } from "./store/users.js";
import { Writer, type WriterOptions } from "./store/writer.js";
import { createVerifier, type Environment, type Secrets, secretProblems } from "./verify.js";

/** The path every adapter mounts by default. */
export const WEBHOOK_PATH = "/api/user/webhook/clerk";

/** The largest body taken by default: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** How long a statement of a delivery's transaction may run by default: 5 s. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;

/** A pino-compatible logger; only these four methods are used. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What {@link ClerkUserSyncOptions.onEvent} receives, after the delivery has committed. */
export interface SyncEvent {
  environment: Environment;
  type: string;
  outcome: Outcome;
  svixId: string;
  clerkUserId: string | null;
  /** The user's row as committed; null for a deleted user, an ignored event, or a user never stored. */
  user: UserRow | null;
}

/** Measurements for metrics; every method optional. */
export interface Observer {
  delivery?(
    labels: { environment: Environment | "unknown"; type: string; outcome: Outcome | "error" },
    seconds: number,
  ): void;
  signatureFailure?(reason: SignatureFailureReason): void;
  /** Every error answer, by its code: the core's, and the service's own (404, 408, 431, a malformed request, …). */
  refusal?(code: ErrorCode): void;
  write?(size: number, seconds: number, ok: boolean): void;
}

/** Options of {@link createClerkUserSync}. */
export interface ClerkUserSyncOptions {
  /** A PostgreSQL URL, a `pg.Pool` or a `PGlite` you own; omitted: an embedded PGlite under `dataDir`. */
  database?: DatabaseOption;
  /** Where the embedded PGlite keeps its files (`./.data`); `memory://` for none. */
  dataDir?: string;
  /** The webhook signing secrets of the Development and Production instances. */
  secrets: Secrets;
  /** Apply pending migrations on creation (default true). */
  migrate?: boolean;
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
  if (problems.length > 0) throw new ConfigError(problems);

  const logger = options.logger ?? consoleLogger;
  const observer = options.observer ?? {};
  const verify = createVerifier(options.secrets, options.clock ?? (() => new Date()));
  const database = await openDatabase(options.database, { dataDir: options.dataDir });
  if (options.migrate !== false) {
    try {
      await applyMigrations(database);
    } catch (error) {
      await database.close();
      throw error;
    }
  }
  const writer = new Writer((batch) => applyBatch(database, batch, { timeoutMs: statementTimeout }), {
    ...options.writer,
    // PGlite is one connection, where a failed transaction must be rolled back before the next one begins.
    ...(database.dialect === "pglite" ? { concurrency: 1 } : {}),
    onCommit: (size, seconds, ok) => safely(() => observer.write?.(size, seconds, ok)),
  });
  let closing = false;
  let active = 0;
  const idle: (() => void)[] = [];

  async function handle(request: SyncRequest): Promise<SyncResponse> {
    const started = performance.now();
    let labels: { environment: Environment | "unknown"; type: string } = {
      environment: "unknown",
      type: "unknown",
    };
    let svixId: string | undefined;
    active++;
    try {
      await writer.admit();
      if (closing) throw new ShuttingDownError();
      const size =
        typeof request.body === "string" ? Buffer.byteLength(request.body) : request.body.byteLength;
      if (size > bodyLimit) throw new PayloadTooLargeError(`the body exceeds ${bodyLimit} bytes`);
      const verified = quietly(() => verify(textOf(request.body), headerReader(request.headers)));
      svixId = verified.svixId;
      labels = { environment: verified.environment, type: "unknown" };
      assertDepth(verified.body);
      const delivery = decode(verified);
      assertLimits(delivery);
      labels = { environment: delivery.environment, type: delivery.type };
      let outcome: Outcome;
      try {
        outcome = await writer.write({ ...delivery, body: verified.body });
      } catch (error) {
        const failure = storageFailure(error);
        const message =
          failure.code === "storage_unavailable"
            ? "delivery not stored: database error"
            : "delivery not stored: the database refuses its content";
        logger.error({ svixId, ...labels, code: failure.code, error: describe(error) }, message);
        throw failure;
      }
      const seconds = (performance.now() - started) / 1000;
      // Committed: from here on, nothing may turn the answer into an error.
      safely(() => {
        observer.delivery?.({ ...labels, outcome }, seconds);
        logger.info({ svixId, ...labels, outcome, durationMs: round(seconds * 1000) }, "delivery");
      });
      if (options.onEvent) {
        const { environment, type, clerkUserId } = delivery;
        await notify(options.onEvent, { environment, type, outcome, svixId, clerkUserId, user: null });
      }
      return jsonResponse(200, { status: outcome, environment: delivery.environment, type: delivery.type });
    } catch (error) {
      const failure = error instanceof SyncError ? error : new InternalError({ cause: error });
      const response = errorResponse(failure);
      const seconds = (performance.now() - started) / 1000;
      safely(() => {
        if (!(error instanceof SyncError))
          logger.error({ svixId, error: describe(error) }, "unexpected failure");
        if (failure instanceof InvalidSignatureError) observer.signatureFailure?.(failure.reason);
        observer.delivery?.({ ...labels, outcome: "error" }, seconds);
        observer.refusal?.(failure.code);
        if (response.status < 500) {
          logger.warn(
            { svixId, ...labels, code: failure.code, durationMs: round(seconds * 1000) },
            "delivery refused",
          );
        }
      });
      return response;
    } finally {
      if (--active === 0) for (const resolve of idle.splice(0)) resolve();
    }
  }

  async function notify(
    onEvent: NonNullable<ClerkUserSyncOptions["onEvent"]>,
    event: SyncEvent,
  ): Promise<void> {
    try {
      const { clerkUserId, environment } = event;
      const user = clerkUserId ? await getUser(database, { clerkUserId, environment }) : null;
      await onEvent({ ...event, user });
    } catch (error) {
      // The delivery is committed: a 5xx now would only make Svix resend what we already have.
      logger.error(
        { svixId: event.svixId, error: describe(error) },
        "onEvent hook failed; delivery was stored",
      );
    }
  }

  return {
    handle,
    getUser: (key) => getUser(database, key),
    listUsers: (listOptions) => listUsers(database, listOptions),
    async close() {
      closing = true;
      // Every handle() in flight finishes first: its commit, its onEvent hook, its answer.
      if (active > 0) await new Promise<void>((resolve) => idle.push(resolve));
      await writer.drained();
      await database.close();
    },
    database,
    bodyLimit,
    logger,
    refuse(error) {
      const { code, ...response } = errorResponse(error);
      safely(() => {
        observer.delivery?.({ environment: "unknown", type: "unknown", outcome: "error" }, 0);
        observer.refusal?.(code);
        if (response.status < 500)
          logger.warn({ environment: "unknown", type: "unknown", code }, "delivery refused");
        else logger.error({ code, error: describe(error) }, "delivery refused");
      });
      return response;
    },
  };
}

/** Metrics and logs must never change an answer: a throwing observer or logger is ignored. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {}
}

/** The body as text, without copying a Buffer first (`Buffer.from(buffer)` would). */
function textOf(body: SyncRequest["body"]): string {
  if (typeof body === "string") return body;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return bytes.toString("utf8");
}

/**
 * Runs `fn` with stack traces off. A Production delivery first fails the Development secrets, and svix builds two
 * stack traces for each `WebhookVerificationError` it throws there: a sizeable share of a request's CPU, for a
 * trace nobody reads. Synchronous, so nothing else runs meanwhile.
 */
function quietly<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
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

/**
 * What of an error may be logged: its class, its SQLSTATE or errno, and its message unless it may quote data
 * (PostgreSQL's data-exception and constraint messages can carry values).
 */
export function describe(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { name: typeof error };
  const code = (error as { code?: unknown }).code;
  const quotesData = typeof code === "string" && /^(22|23)/.test(code);
  return { name: error.name, code, ...(quotesData ? {} : { message: error.message }) };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => console.warn(`[clerk-user-sync] ${msg ?? ""}`, JSON.stringify(obj)),
  error: (obj, msg) => console.error(`[clerk-user-sync] ${msg ?? ""}`, JSON.stringify(obj)),
};
