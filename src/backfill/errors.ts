import { SyncError } from "../errors.js";
import type { Environment } from "../verify.js";

/** Every stable code a backfill can fail with. */
export type BackfillErrorCode =
  | "clerk_unauthorized"
  | "clerk_unavailable"
  | "clerk_request_failed"
  | "clerk_bad_response"
  | "clerk_api_inconsistent"
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
 *   that ignores the cursor or offset would, or contradicts the total it announced): nothing is pruned.
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
 * Not a failure, so not in the catalogue: the instance has organizations turned off (403
 * `organization_not_enabled_in_instance`). The backfill reports the resource as `disabled` in one line and goes on.
 *
 * @example
 * ```ts
 * if (error instanceof OrganizationsDisabled) skip("organizations");
 * ```
 */
export class OrganizationsDisabled extends Error {
  constructor(route: string) {
    super(`${route}: organizations are not enabled in this instance`);
    this.name = "OrganizationsDisabled";
  }
}

/**
 * Not a failure either: the instance does not have Clerk Billing turned on. Clerk does not document this answer, so a
 * 403 or 404 of a Billing endpoint whose error code names billing or commerce is taken for it. The backfill reports
 * Billing as `disabled` in one line and goes on.
 *
 * @example
 * ```ts
 * if (error instanceof BillingDisabled) skip("billing");
 * ```
 */
export class BillingDisabled extends Error {
  constructor(route: string) {
    super(`${route}: Billing is not enabled in this instance`);
    this.name = "BillingDisabled";
  }
}

/** Why `--prune` removed nothing; {@link PruneRefusedError} carries one. */
export type PruneRefusal =
  | {
      /** More than the allowed share of the environment's local rows would go. */
      reason: "too_many";
      environment: Environment;
      resource: "users" | "organizations" | "memberships";
      /** Local rows that Clerk no longer lists. */
      candidates: number;
      /** Local rows of the environment, in all. */
      local: number;
      maxShare: number;
    }
  | {
      /**
       * The listing cannot be shown complete: offset pages skip rows when records are deleted during the walk, so a
       * row missing from the listing may still exist in Clerk.
       */
      reason: "incomplete_listing";
      resource: "organizations" | "memberships";
      seen: number;
      totalAtStart: number;
      totalAtEnd: number;
    };

/**
 * `--prune` refused, nothing of that resource removed: it would remove more than the allowed share of an
 * environment's local rows (most likely the key of another instance or application; `--force` overrides), or the
 * listing of organizations or memberships cannot be shown complete (run again). `refusal` says which.
 *
 * @example
 * ```ts
 * if (error instanceof PruneRefusedError && error.refusal.reason === "too_many") console.error(error.refusal.candidates);
 * ```
 */
export class PruneRefusedError extends BackfillError {
  readonly code = "prune_refused";

  constructor(readonly refusal: PruneRefusal) {
    super(messageOf(refusal));
  }
}

function messageOf(refusal: PruneRefusal): string {
  if (refusal.reason === "too_many") {
    const { candidates, local, environment, resource, maxShare } = refusal;
    return (
      `refusing to prune ${candidates} of ${local} local ${environment} ${resource} (more than ${Math.round(maxShare * 100)} %): ` +
      "check that the secret key belongs to this instance, then run again with --force"
    );
  }
  const { resource, totalAtStart, totalAtEnd, seen } = refusal;
  return (
    `refusing to prune ${resource}: the listing is not provably complete (Clerk counted ${totalAtStart} at the ` +
    `start and ${totalAtEnd} at the end, ${seen} were listed; rows deleted during an offset listing shift ` +
    "later pages and skip others); nothing was pruned, run again"
  );
}
