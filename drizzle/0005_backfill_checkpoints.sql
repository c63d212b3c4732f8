CREATE TABLE "backfill_checkpoints" (
	"environment" text NOT NULL,
	"job" text NOT NULL,
	"position" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "backfill_checkpoints_pkey" PRIMARY KEY("environment","job"),
	CONSTRAINT "backfill_checkpoints_environment_check" CHECK ("backfill_checkpoints"."environment" in ('development', 'production'))
);
