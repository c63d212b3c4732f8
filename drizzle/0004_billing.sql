CREATE TABLE "billing_payment_attempts" (
	"clerk_payment_attempt_id" text NOT NULL,
	"payment_id" text,
	"statement_id" text,
	"payer_id" text,
	"clerk_user_id" text,
	"clerk_org_id" text,
	"status" text,
	"charge_type" text,
	"amount" bigint,
	"currency" text,
	"paid_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"environment" text NOT NULL,
	"raw_payload" jsonb NOT NULL,
	"clerk_created_at" timestamp with time zone,
	"clerk_updated_at" timestamp with time zone,
	"clerk_event_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "billing_payment_attempts_pkey" PRIMARY KEY("environment","clerk_payment_attempt_id"),
	CONSTRAINT "billing_payment_attempts_environment_check" CHECK ("billing_payment_attempts"."environment" in ('development', 'production'))
);
--> statement-breakpoint
CREATE TABLE "billing_plans" (
	"clerk_plan_id" text NOT NULL,
	"slug" text,
	"name" text,
	"is_default" boolean,
	"for_payer_type" text,
	"environment" text NOT NULL,
	"raw_payload" jsonb NOT NULL,
	"clerk_created_at" timestamp with time zone,
	"clerk_updated_at" timestamp with time zone,
	"clerk_event_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "billing_plans_pkey" PRIMARY KEY("environment","clerk_plan_id"),
	CONSTRAINT "billing_plans_environment_check" CHECK ("billing_plans"."environment" in ('development', 'production'))
);
--> statement-breakpoint
CREATE TABLE "billing_subscription_items" (
	"clerk_item_id" text NOT NULL,
	"clerk_subscription_id" text,
	"payer_id" text,
	"clerk_user_id" text,
	"clerk_org_id" text,
	"plan_id" text,
	"plan_slug" text,
	"status" text,
	"is_free_trial" boolean,
	"interval" text,
	"period_start" timestamp with time zone,
	"period_end" timestamp with time zone,
	"seats" integer,
	"environment" text NOT NULL,
	"raw_payload" jsonb NOT NULL,
	"clerk_created_at" timestamp with time zone,
	"clerk_updated_at" timestamp with time zone,
	"clerk_event_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "billing_subscription_items_pkey" PRIMARY KEY("environment","clerk_item_id"),
	CONSTRAINT "billing_subscription_items_environment_check" CHECK ("billing_subscription_items"."environment" in ('development', 'production'))
);
--> statement-breakpoint
CREATE TABLE "billing_subscriptions" (
	"clerk_subscription_id" text NOT NULL,
	"payer_id" text,
	"clerk_user_id" text,
	"clerk_org_id" text,
	"status" text,
	"active_at" timestamp with time zone,
	"canceled_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"past_due_at" timestamp with time zone,
	"environment" text NOT NULL,
	"raw_payload" jsonb NOT NULL,
	"clerk_created_at" timestamp with time zone,
	"clerk_updated_at" timestamp with time zone,
	"clerk_event_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "billing_subscriptions_pkey" PRIMARY KEY("environment","clerk_subscription_id"),
	CONSTRAINT "billing_subscriptions_environment_check" CHECK ("billing_subscriptions"."environment" in ('development', 'production'))
);
--> statement-breakpoint
CREATE INDEX "billing_payment_attempts_user_idx" ON "billing_payment_attempts" USING btree ("environment","clerk_user_id");--> statement-breakpoint
CREATE INDEX "billing_payment_attempts_org_idx" ON "billing_payment_attempts" USING btree ("environment","clerk_org_id");--> statement-breakpoint
CREATE INDEX "billing_subscription_items_user_idx" ON "billing_subscription_items" USING btree ("environment","clerk_user_id");--> statement-breakpoint
CREATE INDEX "billing_subscription_items_org_idx" ON "billing_subscription_items" USING btree ("environment","clerk_org_id");--> statement-breakpoint
CREATE INDEX "billing_subscriptions_user_idx" ON "billing_subscriptions" USING btree ("environment","clerk_user_id");--> statement-breakpoint
CREATE INDEX "billing_subscriptions_org_idx" ON "billing_subscriptions" USING btree ("environment","clerk_org_id");--> statement-breakpoint
-- The plan in force for each payer (a user or an organization) of each instance: an active item, or a canceled one
-- still inside its period (a canceled plan keeps its features until `period_end`); a paid plan before the default
-- one, which stays active beside it. The default plan is told apart by `billing_plans.is_default` (the backfill's
-- plans), else by the event's plan (`is_default`, or not recurring). Never a plan for a deleted user or
-- organization: their tombstones hide it. Drizzle does not manage this view.
CREATE VIEW "billing_current_plans" AS
SELECT DISTINCT ON (c.environment, c.clerk_user_id, c.clerk_org_id)
	c.environment, c.clerk_user_id, c.clerk_org_id, c.payer_id, c.clerk_subscription_id, c.clerk_item_id,
	c.plan_id, c.plan_slug, c.status, c.is_free_trial, c.period_start, c.period_end, c.is_default
FROM (
	SELECT i.environment,
		coalesce(i.clerk_user_id, s.clerk_user_id) AS clerk_user_id,
		coalesce(i.clerk_org_id, s.clerk_org_id) AS clerk_org_id,
		coalesce(i.payer_id, s.payer_id) AS payer_id,
		i.clerk_subscription_id, i.clerk_item_id, i.plan_id, i.plan_slug, i.status, i.is_free_trial,
		i.period_start, i.period_end, i.clerk_updated_at,
		coalesce(
			p.is_default,
			CASE i.raw_payload -> 'plan' -> 'is_default' WHEN 'true' THEN true WHEN 'false' THEN false END,
			CASE i.raw_payload -> 'plan' -> 'is_recurring' WHEN 'false' THEN true WHEN 'true' THEN false END,
			false
		) AS is_default
	FROM "billing_subscription_items" i
	LEFT JOIN "billing_subscriptions" s
		ON s.environment = i.environment AND s.clerk_subscription_id = i.clerk_subscription_id
	LEFT JOIN "billing_plans" p ON p.environment = i.environment AND p.clerk_plan_id = i.plan_id
	WHERE i.status = 'active' OR (i.status = 'canceled' AND (i.period_end IS NULL OR i.period_end > now()))
) c
WHERE (c.clerk_user_id IS NOT NULL OR c.clerk_org_id IS NOT NULL)
	AND NOT EXISTS (SELECT 1 FROM "user_tombstones" t
		WHERE t.environment = c.environment AND t.clerk_user_id = c.clerk_user_id)
	AND NOT EXISTS (SELECT 1 FROM "organization_tombstones" t
		WHERE t.environment = c.environment AND t.clerk_org_id = c.clerk_org_id)
ORDER BY c.environment, c.clerk_user_id, c.clerk_org_id, c.is_default, c.status <> 'active',
	c.period_end DESC NULLS FIRST, c.clerk_updated_at DESC;
