/**
 * clerk-user-sync: keep your own `users` table in sync with Clerk, from the webhooks of a Development and a
 * Production instance. The framework adapters live in `clerk-user-sync/fastify`, `/express` and `/web`; the
 * Drizzle schema in `clerk-user-sync/schema`.
 */

export type { Database, DatabaseOption } from "./db/database.js";
export { openDatabase } from "./db/database.js";
export { migrate, migrationsApplied } from "./db/migrate.js";
export type { MembershipRow, OrganizationRow, UserRow } from "./db/schema.js";
export type {
  BillingObjects,
  Delivery,
  MembershipFields,
  OrganizationFields,
  Resource,
  UserFields,
} from "./decode.js";
export { decode, organizationFields, userFields } from "./decode.js";
export * from "./errors.js";
export type { FetchBounds } from "./read-through/fetch-object.js";
export type { EnsureOptions, ReadThroughOptions } from "./read-through/read-through.js";
export type { Outcome } from "./store/apply.js";
export type {
  BillingPaymentAttemptRow,
  BillingRows,
  BillingSubscriptionItemRow,
  BillingSubscriptionRow,
} from "./store/billing-rows.js";
export type {
  ListMembershipsOptions,
  ListOrganizationsOptions,
  MembershipPage,
  OrganizationPage,
} from "./store/organizations.js";
export type { CurrentPlan, Payer } from "./store/plans.js";
export type { ListUsersOptions, UserPage } from "./store/users.js";
export type {
  ClerkUserSync,
  ClerkUserSyncOptions,
  Logger,
  Observer,
  Refusal,
  SyncEvent,
  SyncRequest,
  SyncResponse,
} from "./sync.js";
export { createClerkUserSync, DEFAULT_BODY_LIMIT, WEBHOOK_PATH } from "./sync.js";
export type { Environment, Secrets } from "./verify.js";
export { ENVIRONMENTS } from "./verify.js";
