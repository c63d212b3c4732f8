import { and, eq, inArray } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { billingPaymentAttempts, billingSubscriptionItems, billingSubscriptions } from "../db/schema.js";
import type { BillingObjects } from "../decode-billing.js";
import type { Environment } from "../verify.js";

/** A row of `billing_subscriptions`. */
export type BillingSubscriptionRow = typeof billingSubscriptions.$inferSelect;
/** A row of `billing_subscription_items`. */
export type BillingSubscriptionItemRow = typeof billingSubscriptionItems.$inferSelect;
/** A row of `billing_payment_attempts`. */
export type BillingPaymentAttemptRow = typeof billingPaymentAttempts.$inferSelect;

/**
 * The committed rows of the objects a Billing event was about: a `subscription.*` event's subscription and its
 * nested items, a `subscriptionItem.*` event's item (in `items`, so one loop reads either), a `paymentAttempt.*`
 * event's attempt. A row is null, or missing from `items`, when it is not stored. Each is the row as it stands
 * after the commit, which is newer than the event when a newer state of the object was already stored.
 *
 * @example
 * ```ts
 * for (const item of event.billing?.items ?? []) if (item.status === "active") grant(item.planSlug);
 * ```
 */
export interface BillingRows {
  subscription: BillingSubscriptionRow | null;
  /** In the order of the event's `items[]`. */
  items: BillingSubscriptionItemRow[];
  paymentAttempt: BillingPaymentAttemptRow | null;
}

/** The stored rows of `objects` (a decoded Billing event's), read after its delivery committed. */
export async function getBillingRows(
  db: Database,
  environment: Environment,
  objects: BillingObjects,
): Promise<BillingRows> {
  const subscriptionId = objects.subscriptions[0]?.id;
  const itemIds = objects.items.map((item) => item.id);
  const attemptId = objects.paymentAttempts[0]?.id;
  const [subscriptions, items, attempts] = await Promise.all([
    subscriptionId === undefined
      ? []
      : db.orm
          .select()
          .from(billingSubscriptions)
          .where(
            and(
              eq(billingSubscriptions.environment, environment),
              eq(billingSubscriptions.clerkSubscriptionId, subscriptionId),
            ),
          ),
    itemIds.length === 0
      ? []
      : db.orm
          .select()
          .from(billingSubscriptionItems)
          .where(
            and(
              eq(billingSubscriptionItems.environment, environment),
              inArray(billingSubscriptionItems.clerkItemId, itemIds),
            ),
          ),
    attemptId === undefined
      ? []
      : db.orm
          .select()
          .from(billingPaymentAttempts)
          .where(
            and(
              eq(billingPaymentAttempts.environment, environment),
              eq(billingPaymentAttempts.clerkPaymentAttemptId, attemptId),
            ),
          ),
  ]);
  const byId = new Map(items.map((row) => [row.clerkItemId, row]));
  return {
    subscription: subscriptions[0] ?? null,
    items: itemIds.flatMap((id) => byId.get(id) ?? []),
    paymentAttempt: attempts[0] ?? null,
  };
}
