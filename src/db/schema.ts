import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  pgView,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

/**
 * The application's users, one row per Clerk user and instance. Join it in your own Drizzle queries. Its pages
 * are filled to 70 % (migration `0001`: Drizzle has no table storage parameters), so that updates can be HOT.
 *
 * @example
 * ```ts
 * import { users } from "clerk-user-sync/schema";
 * await db.select().from(users).where(eq(users.email, "ada@example.org"));
 * ```
 */
export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    clerkUserId: text("clerk_user_id").notNull(),
    environment: text("environment", { enum: ["development", "production"] }).notNull(),
    email: text("email"),
    firstName: text("first_name"),
    lastName: text("last_name"),
    username: text("username"),
    imageUrl: text("image_url"),
    /** The `data` of the last applied event: the whole Clerk User object. */
    rawPayload: jsonb("raw_payload").notNull(),
    clerkCreatedAt: timestamp("clerk_created_at", { withTimezone: true }),
    /** The version of the stored state: an event applies only when its `updated_at` is newer. */
    clerkUpdatedAt: timestamp("clerk_updated_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("users_clerk_user_id_environment_key").on(t.clerkUserId, t.environment),
    index("users_email_idx").on(t.email),
    check("users_environment_check", sql`${t.environment} in ('development', 'production')`),
  ],
);

/**
 * Users deleted in Clerk. Their `users` row is gone with its personal data; this row stays so that a late
 * `user.created` or `user.updated` can never bring them back. Holds no personal data.
 */
export const userTombstones = pgTable(
  "user_tombstones",
  {
    clerkUserId: text("clerk_user_id").notNull(),
    environment: text("environment", { enum: ["development", "production"] }).notNull(),
    deletedAt: timestamp("deleted_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    unique("user_tombstones_clerk_user_id_environment_key").on(t.clerkUserId, t.environment),
    check("user_tombstones_environment_check", sql`${t.environment} in ('development', 'production')`),
  ],
);

/** Every delivery taken, once per `svix-id`: deduplication and an audit trail. Holds no personal data. */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    environment: text("environment", { enum: ["development", "production"] }).notNull(),
    svixId: text("svix_id").notNull(),
    eventType: text("event_type").notNull(),
    /** The user the event is about: a user event's user, a membership's member; null otherwise. */
    clerkUserId: text("clerk_user_id"),
    /** The organization the event is about: an organization event's, a membership's organization. */
    clerkOrgId: text("clerk_org_id"),
    /** A membership event's membership. */
    clerkMembershipId: text("clerk_membership_id"),
    eventTimestamp: timestamp("event_timestamp", { withTimezone: true }),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    outcome: text("outcome", { enum: ["applied", "duplicate", "stale", "ignored"] }).notNull(),
  },
  (t) => [
    unique("webhook_deliveries_environment_svix_id_key").on(t.environment, t.svixId),
    index("webhook_deliveries_received_at_idx").on(t.receivedAt),
    // The freshness metrics and the console ask for each environment's newest delivery on every scrape.
    index("webhook_deliveries_environment_received_at_idx").on(t.environment, t.receivedAt),
    check("webhook_deliveries_environment_check", sql`${t.environment} in ('development', 'production')`),
    check(
      "webhook_deliveries_outcome_check",
      sql`${t.outcome} in ('applied', 'duplicate', 'stale', 'ignored')`,
    ),
  ],
);

/** A row of {@link users}. */
export type UserRow = typeof users.$inferSelect;

const environment = () => text("environment", { enum: ["development", "production"] }).notNull();

/**
 * The application's organizations, one row per Clerk organization and instance. `slug` may be null and is not
 * unique (Clerk can disable slugs).
 *
 * @example
 * ```ts
 * import { organizations } from "clerk-user-sync/schema";
 * await db.select().from(organizations).where(eq(organizations.clerkOrgId, "org_123"));
 * ```
 */
export const organizations = pgTable(
  "organizations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    clerkOrgId: text("clerk_org_id").notNull(),
    environment: environment(),
    name: text("name"),
    slug: text("slug"),
    imageUrl: text("image_url"),
    /** The `data` of the last applied event: the whole Clerk Organization object. */
    rawPayload: jsonb("raw_payload").notNull(),
    clerkCreatedAt: timestamp("clerk_created_at", { withTimezone: true }),
    /** The version of the stored state: an event applies only when its `updated_at` is newer. */
    clerkUpdatedAt: timestamp("clerk_updated_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("organizations_clerk_org_id_environment_key").on(t.clerkOrgId, t.environment),
    index("organizations_slug_idx").on(t.slug),
    check("organizations_environment_check", sql`${t.environment} in ('development', 'production')`),
  ],
);

/**
 * Who belongs to which organization, with which role: one row per Clerk membership (`orgmem_…`) and instance. A
 * user who leaves and rejoins has a new membership id, so a late delete of the old one never removes the new one.
 *
 * @example
 * ```ts
 * import { organizationMemberships } from "clerk-user-sync/schema";
 * await db.select().from(organizationMemberships).where(eq(organizationMemberships.clerkUserId, "user_123"));
 * ```
 */
export const organizationMemberships = pgTable(
  "organization_memberships",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    clerkMembershipId: text("clerk_membership_id").notNull(),
    environment: environment(),
    /** `data.organization.id`; the organization's row may not be stored (yet). */
    clerkOrgId: text("clerk_org_id").notNull(),
    /** `data.public_user_data.user_id`; the user's row may not be stored (yet). */
    clerkUserId: text("clerk_user_id").notNull(),
    role: text("role"),
    /** The `data` of the last applied event: the whole Clerk OrganizationMembership object. */
    rawPayload: jsonb("raw_payload").notNull(),
    clerkCreatedAt: timestamp("clerk_created_at", { withTimezone: true }),
    clerkUpdatedAt: timestamp("clerk_updated_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("organization_memberships_clerk_membership_id_environment_key").on(
      t.clerkMembershipId,
      t.environment,
    ),
    index("organization_memberships_org_idx").on(t.environment, t.clerkOrgId),
    index("organization_memberships_user_idx").on(t.environment, t.clerkUserId),
    check(
      "organization_memberships_environment_check",
      sql`${t.environment} in ('development', 'production')`,
    ),
  ],
);

/**
 * Organizations deleted in Clerk: their row and their memberships are gone; this row makes any later event about
 * the organization, or a membership of it, `stale`. Holds no personal data.
 */
export const organizationTombstones = pgTable(
  "organization_tombstones",
  {
    clerkOrgId: text("clerk_org_id").notNull(),
    environment: environment(),
    deletedAt: timestamp("deleted_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    unique("organization_tombstones_clerk_org_id_environment_key").on(t.clerkOrgId, t.environment),
    check(
      "organization_tombstones_environment_check",
      sql`${t.environment} in ('development', 'production')`,
    ),
  ],
);

/**
 * Memberships deleted by an `organizationMembership.deleted` event (those removed with their organization or user
 * are covered by that one's tombstone). Holds no personal data.
 */
export const organizationMembershipTombstones = pgTable(
  "organization_membership_tombstones",
  {
    clerkMembershipId: text("clerk_membership_id").notNull(),
    environment: environment(),
    deletedAt: timestamp("deleted_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    unique("organization_membership_tombstones_clerk_membership_id_environment_key").on(
      t.clerkMembershipId,
      t.environment,
    ),
    check(
      "organization_membership_tombstones_environment_check",
      sql`${t.environment} in ('development', 'production')`,
    ),
  ],
);

/** A row of {@link organizations}. */
export type OrganizationRow = typeof organizations.$inferSelect;

/** A row of {@link organizationMemberships}. */
export type MembershipRow = typeof organizationMemberships.$inferSelect;

/**
 * One row per scheduled reconcile (`RECONCILE_INTERVAL`): when it ran, how it ended, and the drift it repaired.
 * Counts only: no personal data. The freshness metrics and the console read the newest run of each environment.
 */
export const reconcileRuns = pgTable(
  "reconcile_runs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    environment: environment(),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    /** `running`, then `succeeded` or `failed` (a run whose process died stays `running`). */
    outcome: text("outcome", { enum: ["running", "succeeded", "failed"] })
      .notNull()
      .default("running"),
    /** Objects Clerk listed: users, organizations and memberships together. */
    listed: integer("listed"),
    /** Rows missing here and written (a delivery that never arrived). */
    created: integer("created"),
    /** Rows stored with an older state and brought up to date. */
    updated: integer("updated"),
    /** Rows deleted here because Clerk no longer has them; null when the run did not prune. */
    deleted: integer("deleted"),
    /** The catalogued code of a failed run. */
    errorCode: text("error_code"),
  },
  (t) => [
    index("reconcile_runs_environment_started_at_idx").on(t.environment, t.startedAt),
    check("reconcile_runs_environment_check", sql`${t.environment} in ('development', 'production')`),
  ],
);

/**
 * Leases: which process holds a job that must run in one process at a time (the scheduled reconcile), until when.
 * A row taken by a conditional update, never a session lock, so it holds behind a transaction pooler.
 */
export const leases = pgTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
});

/**
 * Where an interrupted backfill walk stopped, so that the next run goes on from there rather than from the start:
 * the Billing backfill's one request per user and organization (docs/backfill.md). A row exists only while a walk is
 * unfinished; a complete walk deletes it.
 */
export const backfillCheckpoints = pgTable(
  "backfill_checkpoints",
  {
    environment: environment(),
    /** The walk: `billing_subscriptions`. */
    job: text("job").notNull(),
    /** The last position written, in the walk's own order (`user:<id>`, then `organization:<id>`). */
    position: text("position").notNull(),
    /** When the walk that wrote it began. */
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "backfill_checkpoints_pkey", columns: [t.environment, t.job] }),
    check("backfill_checkpoints_environment_check", sql`${t.environment} in ('development', 'production')`),
  ],
);

/**
 * Clerk Billing's tables (docs/billing.md). Each row keeps the object's `raw_payload` whole, since Billing's shapes
 * still change, and its version: `clerk_updated_at` (the object's `updated_at`, or the event's time when it has
 * none), ties broken by `clerk_event_at` (the envelope's `timestamp` of the event that wrote it). No billing object is
 * ever deleted by Clerk, so these tables have no tombstones; the view `billing_current_plans` (migration `0004`)
 * hides the plans of deleted users and organizations.
 */
const billingColumns = () => ({
  environment: environment(),
  /** The `data` (or the nested object) of the last applied event. */
  rawPayload: jsonb("raw_payload").notNull(),
  clerkCreatedAt: timestamp("clerk_created_at", { withTimezone: true }),
  clerkUpdatedAt: timestamp("clerk_updated_at", { withTimezone: true }),
  clerkEventAt: timestamp("clerk_event_at", { withTimezone: true }),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** A payer's Billing subscription (`csub_…`): one per user or organization. */
export const billingSubscriptions = pgTable(
  "billing_subscriptions",
  {
    clerkSubscriptionId: text("clerk_subscription_id").notNull(),
    /** `payer_id` (`cpayer_…`). */
    payerId: text("payer_id"),
    /** `payer.user_id`, when a user pays. */
    clerkUserId: text("clerk_user_id"),
    /** `payer.organization_id`, when an organization pays. */
    clerkOrgId: text("clerk_org_id"),
    status: text("status"),
    activeAt: timestamp("active_at", { withTimezone: true }),
    canceledAt: timestamp("canceled_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    pastDueAt: timestamp("past_due_at", { withTimezone: true }),
    ...billingColumns(),
  },
  (t) => [
    primaryKey({ name: "billing_subscriptions_pkey", columns: [t.environment, t.clerkSubscriptionId] }),
    index("billing_subscriptions_user_idx").on(t.environment, t.clerkUserId),
    index("billing_subscriptions_org_idx").on(t.environment, t.clerkOrgId),
    check("billing_subscriptions_environment_check", sql`${t.environment} in ('development', 'production')`),
  ],
);

/** A subscription item (`csub_item_…`): one plan of a payer over a period, in one status. */
export const billingSubscriptionItems = pgTable(
  "billing_subscription_items",
  {
    clerkItemId: text("clerk_item_id").notNull(),
    /** The parent subscription, when an event named it (standalone events, or nested in its subscription). */
    clerkSubscriptionId: text("clerk_subscription_id"),
    payerId: text("payer_id"),
    clerkUserId: text("clerk_user_id"),
    clerkOrgId: text("clerk_org_id"),
    planId: text("plan_id"),
    planSlug: text("plan_slug"),
    /** `active`, `canceled`, `upcoming`, `ended`, `past_due`, …: stored as Clerk sends it. */
    status: text("status"),
    isFreeTrial: boolean("is_free_trial"),
    /** `interval`, or `plan_period` in older payloads: `month` or `annual`. */
    interval: text("interval"),
    periodStart: timestamp("period_start", { withTimezone: true }),
    /** Null for the default plan's item (which has no end). */
    periodEnd: timestamp("period_end", { withTimezone: true }),
    /** `seats.quantity`; null when unlimited or not seat-based. */
    seats: integer("seats"),
    ...billingColumns(),
  },
  (t) => [
    primaryKey({ name: "billing_subscription_items_pkey", columns: [t.environment, t.clerkItemId] }),
    index("billing_subscription_items_user_idx").on(t.environment, t.clerkUserId),
    index("billing_subscription_items_org_idx").on(t.environment, t.clerkOrgId),
    check(
      "billing_subscription_items_environment_check",
      sql`${t.environment} in ('development', 'production')`,
    ),
  ],
);

/** The instance's plans (`cplan_…`), from the Backend API: Clerk sends no plan events. */
export const billingPlans = pgTable(
  "billing_plans",
  {
    clerkPlanId: text("clerk_plan_id").notNull(),
    slug: text("slug"),
    name: text("name"),
    /** The free plan every payer falls back to: a payer's other plan is preferred (`billing_current_plans`). */
    isDefault: boolean("is_default"),
    /** `user` or `org`. */
    forPayerType: text("for_payer_type"),
    ...billingColumns(),
  },
  (t) => [
    primaryKey({ name: "billing_plans_pkey", columns: [t.environment, t.clerkPlanId] }),
    check("billing_plans_environment_check", sql`${t.environment} in ('development', 'production')`),
  ],
);

/** A payment attempt (`pa_…`): `pending`, then `paid` or `failed`. */
export const billingPaymentAttempts = pgTable(
  "billing_payment_attempts",
  {
    clerkPaymentAttemptId: text("clerk_payment_attempt_id").notNull(),
    /** `payment_id` (`cpa_…`): what a subscription's `latest_payment_id` names. */
    paymentId: text("payment_id"),
    statementId: text("statement_id"),
    payerId: text("payer_id"),
    clerkUserId: text("clerk_user_id"),
    clerkOrgId: text("clerk_org_id"),
    status: text("status"),
    /** `checkout` or `recurring`. */
    chargeType: text("charge_type"),
    /** `totals.grand_total.amount`, in the currency's smallest unit. */
    amount: bigint("amount", { mode: "number" }),
    currency: text("currency"),
    paidAt: timestamp("paid_at", { withTimezone: true }),
    failedAt: timestamp("failed_at", { withTimezone: true }),
    ...billingColumns(),
  },
  (t) => [
    primaryKey({
      name: "billing_payment_attempts_pkey",
      columns: [t.environment, t.clerkPaymentAttemptId],
    }),
    index("billing_payment_attempts_user_idx").on(t.environment, t.clerkUserId),
    index("billing_payment_attempts_org_idx").on(t.environment, t.clerkOrgId),
    check(
      "billing_payment_attempts_environment_check",
      sql`${t.environment} in ('development', 'production')`,
    ),
  ],
);

/**
 * The view `billing_current_plans` (migration `0004`): per environment and payer, the plan in force now (an active
 * item, or a canceled one inside its period; a paid plan before the default one), never a deleted user's or
 * organization's. Declared `.existing()`: the migration creates it, drizzle-kit leaves it alone. Join it in your
 * own queries (docs/billing.md).
 *
 * @example
 * ```ts
 * import { billingCurrentPlans } from "clerk-user-sync/schema";
 * const onPro = await db.select({ id: billingCurrentPlans.clerkOrgId }).from(billingCurrentPlans)
 *   .where(eq(billingCurrentPlans.planSlug, "pro"));
 * ```
 */
export const billingCurrentPlans = pgView("billing_current_plans", {
  environment: environment(),
  clerkUserId: text("clerk_user_id"),
  clerkOrgId: text("clerk_org_id"),
  /** `cpayer_…`. */
  payerId: text("payer_id"),
  clerkSubscriptionId: text("clerk_subscription_id"),
  /** The subscription item that grants the plan (`csub_item_…`). */
  clerkItemId: text("clerk_item_id").notNull(),
  planId: text("plan_id"),
  planSlug: text("plan_slug"),
  /** `active`, or `canceled` while its period lasts. */
  status: text("status").notNull(),
  isFreeTrial: boolean("is_free_trial"),
  periodStart: timestamp("period_start", { withTimezone: true }),
  /** When the plan stops, if it does (null for the default plan). */
  periodEnd: timestamp("period_end", { withTimezone: true }),
  /** Whether it is the default (free) plan: a payer's other plan is preferred. */
  isDefault: boolean("is_default").notNull(),
}).existing();
