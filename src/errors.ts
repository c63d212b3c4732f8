/**
 * The closed catalogue of every answer and exit this package gives that is not a success: each failure is a
 * subclass of {@link SyncError} with a stable `code`; {@link CATALOGUE} says, for each code, the HTTP status the
 * service answers with or the exit code a CLI command ends with. Callers switch on the code. Messages are written
 * for the operator: they never carry driver messages, request bytes, secrets or personal data.
 *
 * @example
 * ```ts
 * try { await backfill(options) } catch (e) { if (e instanceof SyncError) console.log(e.code) }
 * ```
 */
export const CATALOGUE = {
  // The webhook.
  missing_headers: { status: 400 },
  invalid_signature: { status: 401 },
  payload_too_large: { status: 413 },
  invalid_payload: { status: 422 },
  field_too_long: { status: 422 },
  unstorable_payload: { status: 422 },
  storage_unavailable: { status: 503 },
  shutting_down: { status: 503 },
  raw_body_unavailable: { status: 500 },
  internal_error: { status: 500 },
  // Every route, including answers made before a route is found.
  bad_request: { status: 400 },
  unauthorized: { status: 401 },
  not_found: { status: 404 },
  console_disabled: { status: 404 },
  method_not_allowed: { status: 405 },
  request_timeout: { status: 408 },
  headers_too_large: { status: 431 },
  not_ready: { status: 503 },
  // The CLI.
  // EX_CONFIG of sysexits(3), and 2 for a command line misused, as shells and most tools do.
  invalid_config: { exit: 78 },
  invalid_arguments: { exit: 2 },
  clerk_unauthorized: { exit: 1 },
  clerk_unavailable: { exit: 1 },
  clerk_request_failed: { exit: 1 },
  clerk_bad_response: { exit: 1 },
  clerk_api_inconsistent: { exit: 1 },
  prune_refused: { exit: 1 },
  // Start-up and database commands: what the environment points at cannot be used.
  database_unreachable: { exit: 69 },
  port_in_use: { exit: 69 },
  command_failed: { exit: 1 },
} as const satisfies Record<string, { status: number } | { exit: number }>;

/** Every stable error code. */
export type ErrorCode = keyof typeof CATALOGUE;

/**
 * The exit code a CLI command ends with for a failure of this code: its own, or `command_failed`'s for a code the
 * service answers over HTTP (the command failed all the same).
 *
 * @example
 * ```ts
 * exitCode("invalid_config") // 78 (EX_CONFIG)
 * ```
 */
export function exitCode(code: ErrorCode): number {
  const entry = CATALOGUE[code];
  return "exit" in entry ? entry.exit : CATALOGUE.command_failed.exit;
}

/** The base of every failure: a stable, machine-readable `code`, part of the contract. */
export abstract class SyncError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A `svix-id`, `svix-timestamp` or `svix-signature` header is absent. */
export class MissingHeadersError extends SyncError {
  readonly code = "missing_headers";
}

/** Why a signature was refused; also the label of the `signature_failures_total` metric. */
export type SignatureFailureReason =
  | "no_match"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "malformed_headers";

/** No configured secret verifies the delivery (a timestamp outside ±5 minutes included). */
export class InvalidSignatureError extends SyncError {
  readonly code = "invalid_signature";
  constructor(
    message: string,
    readonly reason: SignatureFailureReason,
  ) {
    super(message);
  }
}

/** The body is larger than the configured limit. */
export class PayloadTooLargeError extends SyncError {
  readonly code = "payload_too_large";
}

/** A verified body that is not JSON, or a user event without a usable `data`. */
export class InvalidPayloadError extends SyncError {
  readonly code = "invalid_payload";
}

/** A verified delivery with a field longer than its documented limit (see `LIMITS`); nothing was written. */
export class FieldTooLongError extends SyncError {
  readonly code = "field_too_long";
}

/**
 * A verified delivery that no retry can store: nested deeper than the documented bound, or refused by the
 * database for its content (a data exception, a constraint, a program limit). Nothing was written; the reason
 * (a SQLSTATE, never a value) is in the log.
 */
export class UnstorablePayloadError extends SyncError {
  readonly code = "unstorable_payload";
}

/** The database failed; nothing was acknowledged, so Svix retries. The cause stays server-side. */
export class StorageUnavailableError extends SyncError {
  readonly code = "storage_unavailable";
  constructor(options?: ErrorOptions) {
    super("the database is unavailable; the delivery was not stored and should be retried", options);
  }
}

/** The framework adapter cannot reach the raw request bytes (a body parser ran before it). */
export class RawBodyUnavailableError extends SyncError {
  readonly code = "raw_body_unavailable";
}

/**
 * The request could not be read (a malformed `content-length`, a client that went away, …), or a call cannot be
 * answered as made (a cursor not from the same list, `getCurrentPlan` without a Clerk id).
 */
export class BadRequestError extends SyncError {
  readonly code = "bad_request";
}

/** A protected route (`GET /metrics` with METRICS_TOKEN set) without the right bearer token. */
export class UnauthorizedError extends SyncError {
  readonly code = "unauthorized";
}

/** No route here for this path. */
export class NotFoundError extends SyncError {
  readonly code = "not_found";
}

/** The console is off: no CONSOLE_TOKEN is set, and this is not a zero-configuration local run. */
export class ConsoleDisabledError extends SyncError {
  readonly code = "console_disabled";
  constructor() {
    super("the console is off: set CONSOLE_TOKEN to turn it on (sign in with that token)");
  }
}

/** The webhook route takes POST only. */
export class MethodNotAllowedError extends SyncError {
  readonly code = "method_not_allowed";
  constructor() {
    super("the webhook takes POST only");
  }
}

/** The request's headers or body did not arrive within the configured time. */
export class RequestTimeoutError extends SyncError {
  readonly code = "request_timeout";
}

/** The request's headers exceed what the server reads (Node's `maxHeaderSize`, 16 KiB by default). */
export class HeadersTooLargeError extends SyncError {
  readonly code = "headers_too_large";
}

/** `GET /readyz`: the database is unreachable or not migrated. */
export class NotReadyError extends SyncError {
  readonly code = "not_ready";
}

/** A failure of our own that is not the database's. Svix retries it. */
export class InternalError extends SyncError {
  readonly code = "internal_error";
  constructor(options?: ErrorOptions) {
    super("internal error; the delivery was not stored and should be retried", options);
  }
}

/** The server is shutting down and takes no new deliveries. */
export class ShuttingDownError extends SyncError {
  readonly code = "shutting_down";
  constructor() {
    super("the server is shutting down; retry later");
  }
}

/** Configuration that cannot work, reported with every problem at once. */
export class ConfigError extends SyncError {
  readonly code = "invalid_config";
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** Wrong command-line arguments: printed with the usage. */
export class UsageError extends SyncError {
  readonly code = "invalid_arguments";
}

/**
 * DATABASE_URL names a database that cannot be reached or refuses the connection; the message names its host and
 * port (never the password) and the reason.
 */
export class DatabaseUnreachableError extends SyncError {
  readonly code = "database_unreachable";
}

/** Another process already listens on HOST:PORT; the message says to set PORT. */
export class PortInUseError extends SyncError {
  readonly code = "port_in_use";
}

/**
 * A CLI command failed for a reason outside the catalogue (the database's error, say); the message says which,
 * without quoting stored data.
 */
export class CommandFailedError extends SyncError {
  readonly code = "command_failed";
}
