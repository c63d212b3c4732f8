CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "reconcile_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"environment" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"outcome" text DEFAULT 'running' NOT NULL,
	"listed" integer,
	"created" integer,
	"updated" integer,
	"deleted" integer,
	"error_code" text,
	CONSTRAINT "reconcile_runs_environment_check" CHECK ("reconcile_runs"."environment" in ('development', 'production'))
);
--> statement-breakpoint
CREATE INDEX "reconcile_runs_environment_started_at_idx" ON "reconcile_runs" USING btree ("environment","started_at");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_environment_received_at_idx" ON "webhook_deliveries" USING btree ("environment","received_at");