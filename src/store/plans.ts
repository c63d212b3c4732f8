import { and, desc, eq } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { billingCurrentPlans, billingSubscriptionItems } from "../db/schema.js";
import { BadRequestError } from "../errors.js";
import type { Environment } from "../verify.js";

/**
 * Whose plan to read: a user's or an organization's (Clerk ids).
 *
 * @example
 * ```ts
 * const payer: Payer = orgId ? { organizationId: orgId } : { userId };
 * ```
 */
export type Payer =
  | { userId: string; organizationId?: undefined }
  | { organizationId: string; userId?: undefined };

/**
 * A payer's plan in force now: a row of the view `billing_current_plans` (docs/billing.md), as
 * `clerk-user-sync/schema`'s {@link billingCurrentPlans} types it.
 *
 * @example
 * ```ts
 * const plan: CurrentPlan | null = await sync.getCurrentPlan({ userId: "user_123" });
 * const daysLeft = plan?.periodEnd ? (plan.periodEnd.getTime() - Date.now()) / 86_400_000 : null;
 * ```
 */
export type CurrentPlan = typeof billingCurrentPlans.$inferSelect;

/**
 * The plan `payer` is on now, read from `billing_current_plans`; null when it has none (no Billing event stored
 * for it yet, or it is deleted). Without `environment`, either instance's (production's first): a Clerk id
 * belongs to one instance. A payer without an id is a {@link BadRequestError} (`bad_request`).
 *
 * @example
 * ```ts
 * const plan = await getCurrentPlan(db, { organizationId: "org_123" }, "production");
 * if (plan?.planSlug === "pro") enablePro();
 * ```
 */
export async function getCurrentPlan(
  db: Database,
  payer: Payer,
  environment?: Environment,
): Promise<CurrentPlan | null> {
  const p = billingCurrentPlans;
  const [column, id] =
    payer.userId !== undefined ? [p.clerkUserId, payer.userId] : [p.clerkOrgId, payer.organizationId];
  if (typeof id !== "string" || id === "")
    throw new BadRequestError("getCurrentPlan: expected { userId } or { organizationId }, with a Clerk id");
  const rows = await db.orm
    .select()
    .from(p)
    .where(and(eq(column, id), environment === undefined ? undefined : eq(p.environment, environment)))
    .orderBy(desc(eq(p.environment, "production")))
    .limit(1);
  return rows[0] ?? null;
}

/** A row of `billing_subscription_items`. */
export type SubscriptionItemRow = typeof billingSubscriptionItems.$inferSelect;

/**
 * A payer's subscription items in one environment, whatever their status (ended and upcoming included), the
 * newest version first: what the console's lookup lists under the plan in force.
 *
 * @example
 * ```ts
 * const items = await listSubscriptionItems(db, { userId: "user_123" }, "production");
 * ```
 */
export async function listSubscriptionItems(
  db: Database,
  payer: Payer,
  environment: Environment,
  limit = 20,
): Promise<SubscriptionItemRow[]> {
  const i = billingSubscriptionItems;
  return db.orm
    .select()
    .from(i)
    .where(
      and(
        eq(i.environment, environment),
        payer.userId !== undefined ? eq(i.clerkUserId, payer.userId) : eq(i.clerkOrgId, payer.organizationId),
      ),
    )
    .orderBy(desc(i.clerkUpdatedAt), desc(i.clerkItemId))
    .limit(limit);
}
