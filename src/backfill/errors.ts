import { SyncError } from "../errors.js";
import type { Environment } from "../verify.js";

/** Every stable code a backfill can fail with. */
export type BackfillErrorCode =
  | "clerk_unauthorized"
  | "clerk_unavailable"
  | "clerk_request_failed"
  | "clerk_bad_response"
  | "clerk_api_inconsistent"
  | "clerk_organizations_disabled"
  | "prune_refused";

/**
 * The backfill's failures, apart from the database's own errors: part of the one catalogue (`CATALOGUE` in
 * src/errors.ts), each code ending the CLI with exit 1. Callers switch on `code`.
 * Messages are for the operator: they never carry the secret key, nor a user's personal data.
 *
 * @example
 * ```ts
 * try { await backfill(options) } catch (e) { if (e instanceof BackfillError) console.error(e.code, e.message) }
 * ```
 */
export abstract class BackfillError extends SyncError {
  abstract override readonly code: BackfillErrorCode;
}

/** The codes a {@link ClerkApiError} carries. */
export type ClerkApiErrorCode = Exclude<BackfillErrorCode, "prune_refused">;

/**
 * Clerk's Backend API failed us:
 * - `clerk_unauthorized`: 401 or 403, the secret key was refused (never retried);
 * - `clerk_unavailable`: 5xx, 429 or network errors until the attempts ran out;
 * - `clerk_request_failed`: another 4xx (a bug of ours or a changed API; never retried);
 * - `clerk_bad_response`: a 2xx whose body is not what the API documents;
 * - `clerk_api_inconsistent`: a listing that does not make progress (a page repeats rows already listed, as an API
 *   that ignores the cursor or offset would, or contradicts the total it announced): nothing is pruned;
 * - `clerk_organizations_disabled`: 403 `organization_not_enabled_in_instance` (the backfill reports it in one line
 *   and goes on: it is not a failure).
 *
 * @example
 * ```ts
 * if (error instanceof ClerkApiError && error.code === "clerk_unauthorized") rotateKey();
 * ```
 */
export class ClerkApiError extends BackfillError {
  constructor(
    readonly code: ClerkApiErrorCode,
    message: string,
    /** The last HTTP status, when there was one. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * `--prune` would remove more than the allowed share of an environment's local users: most likely the key of
 * another instance or application, so nothing was removed. `--force` overrides.
 *
 * @example
 * ```ts
 * if (error instanceof PruneRefusedError) console.error(`${error.candidates} of ${error.local} would go`);
 * ```
 */
export class PruneRefusedError extends BackfillError {
  readonly code = "prune_refused";

  constructor(
    readonly environment: Environment,
    /** Local users that Clerk no longer lists. */
    readonly candidates: number,
    /** Local users of the environment, in all. */
    readonly local: number,
    maxShare: number,
    /** What would have been pruned. */
    readonly resource: "users" | "organizations" | "memberships" = "users",
  ) {
    super(
      `refusing to prune ${candidates} of ${local} local ${environment} ${resource} (more than ${Math.round(maxShare * 100)} %): ` +
        "check that the secret key belongs to this instance, then run again with --force",
    );
  }
}

/**
 * `--prune` of organizations or memberships after a listing that cannot be shown complete: offset pages skip rows
 * when records are deleted during the walk, so a row missing from the listing may still exist in Clerk. Nothing of
 * that resource was removed; run again.
 *
 * @example
 * ```ts
 * if (error instanceof IncompleteListingError) console.error(error.resource, error.message);
 * ```
 */
export class IncompleteListingError extends BackfillError {
  readonly code = "prune_refused";

  constructor(
    readonly resource: "organizations" | "memberships",
    readonly seen: number,
    readonly totalAtStart: number,
    readonly totalAtEnd: number,
  ) {
    super(
      `refusing to prune ${resource}: the listing is not provably complete (Clerk counted ${totalAtStart} at the ` +
        `start and ${totalAtEnd} at the end, ${seen} were listed; rows deleted during an offset listing shift ` +
        "later pages and skip others); nothing was pruned, run again",
    );
  }
}
