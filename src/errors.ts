/**
 * The closed catalogue of failures. Every error this package raises at request time is a {@link SyncError}
 * with a stable `code` and the HTTP `status` it maps to; callers switch on the code. Messages are written for the operator: they never carry driver messages, secrets or
 * personal data.
 *
 * @example
 * ```ts
 * try { await sync.handle(req) } catch (e) { if (e instanceof SyncError) console.log(e.code) }
 * ```
 */
export abstract class SyncError extends Error {
  /** Stable machine-readable code, part of the HTTP contract. */
  abstract readonly code: ErrorCode;
  /** HTTP status the service answers with. */
  abstract readonly status: number;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A `svix-id`, `svix-timestamp` or `svix-signature` header is absent. */
export class MissingHeadersError extends SyncError {
  readonly code = "missing_headers";
  readonly status = 400;
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
  readonly status = 401;
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
  readonly status = 413;
}

/** A verified body that is not JSON, or a user event without a usable `data`. */
export class InvalidPayloadError extends SyncError {
  readonly code = "invalid_payload";
  readonly status = 422;
}

/** The database failed; nothing was acknowledged, so Svix retries. The cause stays server-side. */
export class StorageUnavailableError extends SyncError {
  readonly code = "storage_unavailable";
  readonly status = 503;
  constructor(options?: ErrorOptions) {
    super("the database is unavailable; the delivery was not stored and should be retried", options);
  }
}

/** The framework adapter cannot reach the raw request bytes (a body parser ran before it). */
export class RawBodyUnavailableError extends SyncError {
  readonly code = "raw_body_unavailable";
  readonly status = 500;
}

/** The request could not be read (a malformed `content-length`, a client that went away, …). */
export class BadRequestError extends SyncError {
  readonly code = "bad_request";
  readonly status = 400;
}

/** A protected route (`GET /metrics` with METRICS_TOKEN set) without the right bearer token. */
export class UnauthorizedError extends SyncError {
  readonly code = "unauthorized";
  readonly status = 401;
}

/** No route here for this path. */
export class NotFoundError extends SyncError {
  readonly code = "not_found";
  readonly status = 404;
}

/** The console is off: no CONSOLE_TOKEN is set, and this is not a zero-configuration local run. */
export class ConsoleDisabledError extends SyncError {
  readonly code = "console_disabled";
  readonly status = 404;
  constructor() {
    super("the console is off: set CONSOLE_TOKEN to turn it on (sign in with that token)");
  }
}

/** The webhook route takes POST only. */
export class MethodNotAllowedError extends SyncError {
  readonly code = "method_not_allowed";
  readonly status = 405;
  constructor() {
    super("the webhook takes POST only");
  }
}

/** A failure of our own that is not the database's. Svix retries it. */
export class InternalError extends SyncError {
  readonly code = "internal_error";
  readonly status = 500;
  constructor(options?: ErrorOptions) {
    super("internal error; the delivery was not stored and should be retried", options);
  }
}

/** The server is shutting down and takes no new deliveries. */
export class ShuttingDownError extends SyncError {
  readonly code = "shutting_down";
  readonly status = 503;
  constructor() {
    super("the server is shutting down; retry later");
  }
}

/** Every stable error code. */
export type ErrorCode =
  | "missing_headers"
  | "invalid_signature"
  | "payload_too_large"
  | "invalid_payload"
  | "storage_unavailable"
  | "raw_body_unavailable"
  | "bad_request"
  | "not_found"
  | "console_disabled"
  | "unauthorized"
  | "method_not_allowed"
  | "internal_error"
  | "shutting_down";

/** Configuration that cannot work, reported with every problem at once. */
export class ConfigError extends Error {
  readonly code = "invalid_config";
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}
