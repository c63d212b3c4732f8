CREATE TABLE "user_tombstones" (
	"clerk_user_id" text NOT NULL,
	"environment" text NOT NULL,
	"deleted_at" timestamp with time zone NOT NULL,
	CONSTRAINT "user_tombstones_clerk_user_id_environment_key" UNIQUE("clerk_user_id","environment"),
	CONSTRAINT "user_tombstones_environment_check" CHECK ("user_tombstones"."environment" in ('development', 'production'))
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clerk_user_id" text NOT NULL,
	"environment" text NOT NULL,
	"email" text,
	"first_name" text,
	"last_name" text,
	"username" text,
	"image_url" text,
	"raw_payload" jsonb NOT NULL,
	"clerk_created_at" timestamp with time zone,
	"clerk_updated_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_clerk_user_id_environment_key" UNIQUE("clerk_user_id","environment"),
	CONSTRAINT "users_environment_check" CHECK ("users"."environment" in ('development', 'production'))
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"environment" text NOT NULL,
	"svix_id" text NOT NULL,
	"event_type" text NOT NULL,
	"clerk_user_id" text,
	"event_timestamp" timestamp with time zone,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"outcome" text NOT NULL,
	CONSTRAINT "webhook_deliveries_environment_svix_id_key" UNIQUE("environment","svix_id"),
	CONSTRAINT "webhook_deliveries_environment_check" CHECK ("webhook_deliveries"."environment" in ('development', 'production')),
	CONSTRAINT "webhook_deliveries_outcome_check" CHECK ("webhook_deliveries"."outcome" in ('applied', 'duplicate', 'stale', 'ignored'))
);
--> statement-breakpoint
CREATE INDEX "users_email_idx" ON "users" USING btree ("email");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_received_at_idx" ON "webhook_deliveries" USING btree ("received_at");