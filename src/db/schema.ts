import { sql } from "drizzle-orm";
import { check, index, jsonb, pgTable, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";

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
    clerkUserId: text("clerk_user_id"),
    eventTimestamp: timestamp("event_timestamp", { withTimezone: true }),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    outcome: text("outcome", { enum: ["applied", "duplicate", "stale", "ignored"] }).notNull(),
  },
  (t) => [
    unique("webhook_deliveries_environment_svix_id_key").on(t.environment, t.svixId),
    index("webhook_deliveries_received_at_idx").on(t.receivedAt),
    check("webhook_deliveries_environment_check", sql`${t.environment} in ('development', 'production')`),
    check(
      "webhook_deliveries_outcome_check",
      sql`${t.outcome} in ('applied', 'duplicate', 'stale', 'ignored')`,
    ),
  ],
);

/** A row of {@link users}. */
export type UserRow = typeof users.$inferSelect;
