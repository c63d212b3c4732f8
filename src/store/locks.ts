import type { Environment } from "../verify.js";

/** The advisory-lock key of one user: webhook deliveries and the backfill take the same one. */
export function userLockKey(environment: Environment, clerkUserId: string): string {
  return `${environment}:user:${clerkUserId}`;
}

/** The advisory-lock key of one organization: its events, its memberships' events and its backfill take it. */
export function organizationLockKey(environment: Environment, clerkOrgId: string): string {
  return `${environment}:organization:${clerkOrgId}`;
}

/** The advisory-lock key of one membership. */
export function membershipLockKey(environment: Environment, clerkMembershipId: string): string {
  return `${environment}:membership:${clerkMembershipId}`;
}

/** The advisory-lock key of one Billing object (subscription, item, plan or payment attempt): every writer of it takes it. */
export function billingLockKey(environment: Environment, id: string): string {
  return `${environment}:billing:${id}`;
}
