import type { Environment } from "../verify.js";

/** The advisory-lock key of one user: webhook deliveries and the backfill take the same one. */
export function userLockKey(environment: Environment, clerkUserId: string): string {
  return `${environment}:user:${clerkUserId}`;
}
