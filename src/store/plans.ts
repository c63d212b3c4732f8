import { and, desc, eq } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { billingSubscriptionItems } from "../db/schema.js";
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
 * A payer's plan in force now: a row of the view `billing_current_plans` (docs/billing.md).
 *
 * @example
 * ```ts
 * const plan: CurrentPlan | null = await sync.getCurrentPlan({ userId: "user_123" });
 * const daysLeft = plan?.periodEnd ? (plan.periodEnd.getTime() - Date.now()) / 86_400_000 : null;
 * ```
 */
export interface CurrentPlan {
  environment: Environment;
  clerkUserId: string | null;
  clerkOrgId: string | null;
  /** `cpayer_…`. */
  payerId: string | null;
  clerkSubscriptionId: string | null;
  /** The subscription item that grants the plan (`csub_item_…`). */
  clerkItemId: string;
  planId: string | null;
  planSlug: string | null;
  /** `active`, or `canceled` while its period lasts. */
  status: string;
  isFreeTrial: boolean | null;
  periodStart: Date | null;
  /** When the plan stops, if it does (null for the default plan). */
  periodEnd: Date | null;
  /** Whether it is the default (free) plan: a payer's other plan is preferred. */
  isDefault: boolean;
}

/**
 * The plan `payer` is on now, read from `billing_current_plans`; null when it has none (no Billing event stored
 * for it yet, or it is deleted). Without `environment`, either instance's (production's first): a Clerk id
 * belongs to one instance.
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
  const [column, id] =
    payer.userId !== undefined ? ["clerk_user_id", payer.userId] : ["clerk_org_id", payer.organizationId];
  if (typeof id !== "string" || id === "")
    throw new TypeError("getCurrentPlan: expected { userId } or { organizationId }");
  const rows = await db.query<Record<string, unknown>>(
    `select * from billing_current_plans
    where ${column} = $1 and ($2::text is null or environment = $2::text)
    order by environment = 'production' desc limit 1`,
    [id, environment ?? null],
  );
  const row = rows[0];
  return row === undefined ? null : currentPlan(row);
}

function currentPlan(row: Record<string, unknown>): CurrentPlan {
  return {
    environment: row.environment as Environment,
    clerkUserId: row.clerk_user_id as string | null,
    clerkOrgId: row.clerk_org_id as string | null,
    payerId: row.payer_id as string | null,
    clerkSubscriptionId: row.clerk_subscription_id as string | null,
    clerkItemId: row.clerk_item_id as string,
    planId: row.plan_id as string | null,
    planSlug: row.plan_slug as string | null,
    status: row.status as string,
    isFreeTrial: row.is_free_trial as boolean | null,
    periodStart: date(row.period_start),
    periodEnd: date(row.period_end),
    isDefault: row.is_default === true,
  };
}

/** node-postgres gives a `Date`, PGlite may too; either way a `Date` or null. */
function date(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(value as string);
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
