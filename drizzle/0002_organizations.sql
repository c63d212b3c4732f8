CREATE TABLE "organization_membership_tombstones" (
	"clerk_membership_id" text NOT NULL,
	"environment" text NOT NULL,
	"deleted_at" timestamp with time zone NOT NULL,
	CONSTRAINT "organization_membership_tombstones_clerk_membership_id_environment_key" UNIQUE("clerk_membership_id","environment"),
	CONSTRAINT "organization_membership_tombstones_environment_check" CHECK ("organization_membership_tombstones"."environment" in ('development', 'production'))
);
--> statement-breakpoint
CREATE TABLE "organization_memberships" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clerk_membership_id" text NOT NULL,
	"environment" text NOT NULL,
	"clerk_org_id" text NOT NULL,
	"clerk_user_id" text NOT NULL,
	"role" text,
	"raw_payload" jsonb NOT NULL,
	"clerk_created_at" timestamp with time zone,
	"clerk_updated_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organization_memberships_clerk_membership_id_environment_key" UNIQUE("clerk_membership_id","environment"),
	CONSTRAINT "organization_memberships_environment_check" CHECK ("organization_memberships"."environment" in ('development', 'production'))
);
--> statement-breakpoint
CREATE TABLE "organization_tombstones" (
	"clerk_org_id" text NOT NULL,
	"environment" text NOT NULL,
	"deleted_at" timestamp with time zone NOT NULL,
	CONSTRAINT "organization_tombstones_clerk_org_id_environment_key" UNIQUE("clerk_org_id","environment"),
	CONSTRAINT "organization_tombstones_environment_check" CHECK ("organization_tombstones"."environment" in ('development', 'production'))
);
--> statement-breakpoint
CREATE TABLE "organizations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clerk_org_id" text NOT NULL,
	"environment" text NOT NULL,
	"name" text,
	"slug" text,
	"image_url" text,
	"raw_payload" jsonb NOT NULL,
	"clerk_created_at" timestamp with time zone,
	"clerk_updated_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organizations_clerk_org_id_environment_key" UNIQUE("clerk_org_id","environment"),
	CONSTRAINT "organizations_environment_check" CHECK ("organizations"."environment" in ('development', 'production'))
);
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD COLUMN "clerk_org_id" text;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD COLUMN "clerk_membership_id" text;--> statement-breakpoint
CREATE INDEX "organization_memberships_org_idx" ON "organization_memberships" USING btree ("environment","clerk_org_id");--> statement-breakpoint
CREATE INDEX "organization_memberships_user_idx" ON "organization_memberships" USING btree ("environment","clerk_user_id");--> statement-breakpoint
CREATE INDEX "organizations_slug_idx" ON "organizations" USING btree ("slug");