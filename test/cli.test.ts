import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLES } from "../src/cli/examples.js";
import { claimEmbeddedDatabase } from "../src/db/embedded-lock.js";
import { WEBHOOK_PATH } from "../src/index.js";
import { syncStatus } from "../src/store/status.js";
import { backends, pgliteDataDir } from "./support/backends.js";
import { cli } from "./support/cli.js";
import {
  BILLING_TYPES,
  clerkEvent,
  deletedEvent,
  ORGANIZATION_TYPES,
  userEvent,
} from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { SECRETS } from "./support/sign.js";

/** For tests that run a child process per step, one after another: a busy machine stretches each. */
const SLOW = { timeout: 120_000 };

const SECRET_ENV = {
  DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
  PROD_CLERK_WEBHOOK_SECRET: SECRETS.production,
};

it("ships Clerk's examples verbatim", () => {
  expect(EXAMPLES["user.created"]).toEqual(clerkEvent("user.created.docs"));
  expect(EXAMPLES["user.updated"]).toEqual(clerkEvent("user.updated.openapi"));
  expect(EXAMPLES["user.deleted"]).toEqual(clerkEvent("user.deleted.catalog"));
  for (const type of ORGANIZATION_TYPES) expect(EXAMPLES[type]).toEqual(clerkEvent(`${type}.openapi`));
  for (const type of BILLING_TYPES) expect(EXAMPLES[type]).toEqual(clerkEvent(`${type}.openapi`));
});

describe.each(await backends())("the CLI against a running service on $name", SLOW, (backend) => {
  let h: Harness;
  let url: string;
  let closed = false;
  beforeAll(async () => {
    h = await openHarness(backend);
    await h.app.listen({ port: 0, host: "127.0.0.1" });
    const address = h.app.server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}${WEBHOOK_PATH}`;
  });
  afterAll(() => (closed ? h.db.drop() : h.close()));

  it("trigger sends each example, signed for each environment: rows appear, change and disappear", async () => {
    const userOf = async (id: string, environment: string) =>
      (await h.users()).find((r) => r.clerk_user_id === id && r.environment === environment);
    await Promise.all(
      (["development", "production"] as const).map(async (environment) => {
        const id = `user_trigger_${environment}`;
        const trigger = (type: string) =>
          cli(["trigger", type, "--env", environment, "--url", url, "--user-id", id], SECRET_ENV);
        const answer = (status: string, type: string) =>
          `200 ${JSON.stringify({ status, environment, type })}`;

        const created = await trigger("user.created");
        expect(created.stderr).toBe("");
        expect(created.stdout).toContain(answer("applied", "user.created"));
        expect(created.code).toBe(0);
        expect(await userOf(id, environment)).toMatchObject({
          email: "example@example.org",
          first_name: "Example",
        });

        // A fresh updated_at each time: the same trigger applies again rather than coming back stale.
        expect((await trigger("user.created")).stdout).toContain(answer("applied", "user.created"));

        const updated = await trigger("user.updated");
        expect(updated.stdout).toContain(answer("applied", "user.updated"));
        expect(await userOf(id, environment)).toMatchObject({
          first_name: "John",
          last_name: "Doe Updated",
          username: "johndoe",
        });

        const deleted = await trigger("user.deleted");
        expect(deleted.stdout).toContain(answer("applied", "user.deleted"));
        expect(await userOf(id, environment)).toBeUndefined();
        expect(await h.tombstones()).toContainEqual(
          expect.objectContaining({ clerk_user_id: id, environment }),
        );
      }),
    );
  });

  it("trigger sends the organization and membership examples, aimed with --org-id and --user-id", async () => {
    const environment = "production";
    const ids = ["--org-id", "org_trigger", "--user-id", "user_trigger_member"];
    const trigger = (type: string) =>
      cli(["trigger", type, "--env", environment, "--url", url, ...ids], SECRET_ENV);
    const rows = async (table: "organizations" | "organization_memberships") =>
      (await h.rows(table)).filter((r) => r.environment === environment && r.clerk_org_id === "org_trigger");
    for (const type of ORGANIZATION_TYPES.filter((t) => !t.endsWith(".deleted"))) {
      // Twice: a fresh updated_at each time, so the second applies too.
      for (let i = 0; i < 2; i++) {
        const sent = await trigger(type);
        expect(sent.stdout).toContain(`200 ${JSON.stringify({ status: "applied", environment, type })}`);
        expect(sent.code).toBe(0);
      }
    }
    expect(await rows("organizations")).toMatchObject([{ name: EXAMPLES["organization.updated"].data.name }]);
    expect(await rows("organization_memberships")).toMatchObject([
      { clerk_user_id: "user_trigger_member", role: "org:admin" },
    ]);
    for (const type of ["organizationMembership.deleted", "organization.deleted"]) {
      const sent = await trigger(type);
      expect(sent.stdout).toContain(`200 ${JSON.stringify({ status: "applied", environment, type })}`);
    }
    expect(await rows("organizations")).toEqual([]);
    expect(await rows("organization_memberships")).toEqual([]);
  });

  it("trigger sends Billing's examples, paid for by --user-id or --org-id: each payer's own rows appear and change", async () => {
    const environment = "development";
    const trigger = (type: string, ...ids: string[]) =>
      cli(["trigger", type, "--env", environment, "--url", url, ...ids], SECRET_ENV);
    const applied = (type: string) => `200 ${JSON.stringify({ status: "applied", environment, type })}`;
    const rows = (sql: string) => h.sync.database.query<Record<string, unknown>>(sql);
    const user = ["--user-id", "user_trigger_payer"];
    // Twice: the subscription and its nested item are new each time, so the second applies too.
    for (let i = 0; i < 2; i++) {
      const sent = await trigger("subscription.created", ...user);
      expect(sent.stdout).toContain(applied("subscription.created"));
      expect(sent.code).toBe(0);
    }
    expect((await trigger("subscription.created", "--org-id", "org_trigger_payer")).code).toBe(0);
    expect(
      await rows(
        "select clerk_subscription_id, payer_id, clerk_user_id, clerk_org_id, status from billing_subscriptions order by 1",
      ),
    ).toEqual([
      {
        clerk_subscription_id: "csub_org_trigger_payer",
        payer_id: "cpayer_org_trigger_payer",
        clerk_user_id: null,
        clerk_org_id: "org_trigger_payer",
        status: "active",
      },
      {
        clerk_subscription_id: "csub_user_trigger_payer",
        payer_id: "cpayer_user_trigger_payer",
        clerk_user_id: "user_trigger_payer",
        clerk_org_id: null,
        status: "active",
      },
    ]);
    const item = async () =>
      (
        await rows(
          "select clerk_subscription_id, plan_slug, status from billing_subscription_items where clerk_item_id = 'csub_item_user_trigger_payer'",
        )
      )[0];
    expect(await item()).toEqual({
      clerk_subscription_id: "csub_user_trigger_payer",
      plan_slug: "pro-plan",
      status: "active",
    });
    for (const [type, slug, status] of [
      ["subscriptionItem.canceled", "pro-plan", "canceled"],
      ["subscriptionItem.ended", "pro-plan", "ended"],
      ["subscriptionItem.active", "free-plan", "active"],
    ] as const) {
      expect((await trigger(type, ...user)).stdout).toContain(applied(type));
      expect(await item()).toEqual({
        clerk_subscription_id: "csub_user_trigger_payer",
        plan_slug: slug,
        status,
      });
    }
    expect((await trigger("paymentAttempt.created", ...user)).stdout).toContain(
      applied("paymentAttempt.created"),
    );
    expect(await rows("select clerk_user_id, status, charge_type from billing_payment_attempts")).toEqual([
      { clerk_user_id: "user_trigger_payer", status: "pending", charge_type: "recurring" },
    ]);
  });

  it("trigger without --user-id uses the example's user, and exits 1 on a refusal", async () => {
    const created = await cli(["trigger", "user.created", "--env", "development", "--url", url], SECRET_ENV);
    expect(created.code).toBe(0);
    expect(await h.users()).toContainEqual(
      expect.objectContaining({
        clerk_user_id: EXAMPLES["user.created"].data.id,
        environment: "development",
      }),
    );
    // Signed with a secret the server does not know for production.
    const refused = await cli(
      ["trigger", "user.created", "--env", "production", "--url", url, "--user-id", "u_x"],
      {
        PROD_CLERK_WEBHOOK_SECRET: "whsec_c3RyYW5nZXJzZWNyZXRub2JvZHlrbm93czEyMzQ=",
      },
    );
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('401 {"code":"invalid_signature"');
    expect((await h.users()).map((r) => r.clerk_user_id)).not.toContain("u_x");
  });

  it("status and status --json report users, tombstones, Billing subscriptions and plans, the last delivery and 24 hours of outcomes", async () => {
    await h.reset();
    await h.sync.database.query(
      "truncate billing_subscriptions, billing_subscription_items, billing_plans, billing_payment_attempts",
    );
    const created = userEvent("user.created", { id: "user_status_dev", updated_at: 2_000 });
    const first = await h.post(created);
    expect((await h.post(created, { id: first.svixId })).body.status).toBe("duplicate");
    expect(
      (await h.post(userEvent("user.updated", { id: "user_status_dev", updated_at: 1_000 }))).body.status,
    ).toBe("stale");
    for (const name of ["organization.created", "organizationMembership.created"] as const) {
      expect((await h.post(clerkEvent(`${name}.openapi`))).body.status).toBe("applied");
    }
    for (const name of [
      "organizationMembership.created",
      "organizationMembership.deleted",
      "organization.deleted",
    ] as const) {
      expect((await h.post(clerkEvent(`${name}.catalog`), { env: "production" })).body.status).toBe(
        "applied",
      );
    }
    expect((await h.post(clerkEvent("subscription.created.openapi"))).body.status).toBe("applied");
    await h.sync.database.query(
      `insert into billing_plans (environment, clerk_plan_id, slug, raw_payload)
       values ('development', 'cplan_free', 'free', '{}'), ('development', 'cplan_pro', 'pro', '{}')`,
    );
    const last = await h.post({ type: "session.created", object: "event", data: { id: "sess_1" } });
    expect(last.body.status).toBe("ignored");
    await h.post(userEvent("user.created", { id: "user_status_prod" }), { env: "production" });
    const deleted = await h.post(deletedEvent("user_status_prod"), { env: "production" });
    expect(deleted.body.status).toBe("applied");
    await h.sync.database.query(
      `insert into webhook_deliveries (environment, svix_id, event_type, outcome, received_at)
       values ('development', 'msg_two_days_ago', 'user.created', 'applied', now() - interval '2 days')`,
    );
    const receivedAt = async (svixId: string) => {
      const row = (await h.deliveries()).find((d) => d.svix_id === svixId);
      return (row?.received_at as Date | undefined)?.toISOString();
    };

    const report = await syncStatus(h.sync.database, new Date());
    expect(report).toEqual({
      database: backend.name,
      environments: {
        development: {
          users: 1,
          tombstones: 0,
          organizations: 1,
          organizationTombstones: 0,
          memberships: 1,
          membershipTombstones: 0,
          billingSubscriptions: 1,
          billingPlans: 2,
          lastDelivery: {
            receivedAt: await receivedAt(last.svixId),
            type: "session.created",
            outcome: "ignored",
          },
          last24h: { applied: 4, stale: 1, ignored: 1 },
        },
        production: {
          users: 0,
          tombstones: 1,
          organizations: 0,
          organizationTombstones: 1,
          memberships: 0,
          membershipTombstones: 1,
          billingSubscriptions: 0,
          billingPlans: 0,
          lastDelivery: {
            receivedAt: await receivedAt(deleted.svixId),
            type: "user.deleted",
            outcome: "applied",
          },
          last24h: { applied: 5, stale: 0, ignored: 0 },
        },
      },
    });

    // The embedded database takes one process at a time: let go of it before the CLI opens it.
    const env = h.db.database ? { DATABASE_URL: h.db.database } : { DATA_DIR: h.db.dataDir };
    if (!h.db.database) {
      await h.app.close();
      await h.sync.close();
      closed = true;
    }
    // One after the other: two processes opening the embedded database at once can fail to start it.
    const json = await cli(["status", "--json"], env);
    const table = await cli(["status"], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(report);
    expect(table.code).toBe(0);
    const dev = report.environments.development.lastDelivery?.receivedAt;
    const prod = report.environments.production.lastDelivery?.receivedAt;
    expect(table.stdout).toMatch(
      /^environment +users +tombstones +orgs +org tombstones +memberships +membership tombstones +subscriptions +plans +applied +stale +ignored +last delivery$/m,
    );
    expect(table.stdout).toMatch(
      new RegExp(
        `^development +1 +0 +1 +0 +1 +0 +1 +2 +4 +1 +1 +${dev} session\\.created \\(ignored\\)$`,
        "m",
      ),
    );
    expect(table.stdout).toMatch(
      new RegExp(`^production +0 +1 +0 +1 +0 +1 +0 +0 +5 +0 +0 +${prod} user\\.deleted \\(applied\\)$`, "m"),
    );
  });
});

describe("CLI errors", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "cus-cli-"));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("a command refuses the embedded database while another process holds it, naming that process", async () => {
    // Not a new directory (a copy of the run's template): the command after the release need not run initdb.
    const dataDir = pgliteDataDir();
    // This test's process stands for a long backfill.
    const release = claimEmbeddedDatabase(dataDir, "backfill");
    try {
      const busy = await cli(["status"], { DATA_DIR: dataDir });
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain(`is in use by \`clerk-user-sync backfill\` (pid ${process.pid})`);
      expect(busy.stderr).toContain("wait for it to finish");
      release();
      expect((await cli(["status"], { DATA_DIR: dataDir })).code).toBe(0);
      // It let go of the database in turn.
      expect(existsSync(join(dataDir, "serve.pid"))).toBe(false);
    } finally {
      release();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("trigger exits 1 with a clear message when nothing listens at the URL", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
      });
    });
    const url = `http://127.0.0.1:${port}${WEBHOOK_PATH}`;
    const run = await cli(["trigger", "user.created", "--env", "development", "--url", url], SECRET_ENV);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot reach ${url} (network error ECONNREFUSED)`);
    expect(run.stderr).toContain("is the receiver running");
  });

  it("trigger refuses an unknown type or environment with its usage, exit 2", async () => {
    const run = await cli(["trigger", "user.banned", "--env", "staging"], SECRET_ENV);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "expected one event type: user.created, user.updated, user.deleted, organization.created",
    );
    expect(run.stderr).toContain("usage: clerk-user-sync trigger <type> --env development|production");
  });

  it("serve reports every configuration problem at once and exits 78, echoing no secret", async () => {
    const run = await cli(["serve"], {
      DATA_DIR: dataDir,
      DEV_CLERK_WEBHOOK_SECRET: "not-a-whsec-secret",
      DATABASE_URL: "mysql://app:hunter2@db.example/app",
      PORT: "http",
      LOG_LEVEL: "loud",
      BODY_LIMIT: "lots",
      SHUTDOWN_TIMEOUT: "soon",
    });
    expect(run.code).toBe(78);
    const problems = run.stderr.split("\n").filter((l) => l.startsWith("  - "));
    for (const name of [
      "DEV_CLERK_WEBHOOK_SECRET",
      "DATABASE_URL",
      "PORT",
      "LOG_LEVEL",
      "BODY_LIMIT",
      "SHUTDOWN_TIMEOUT",
    ])
      expect(
        problems.filter((p) => p.includes(name)),
        name,
      ).toHaveLength(1);
    expect(problems).toHaveLength(6);
    expect(run.stderr).not.toContain("not-a-whsec-secret");
    expect(run.stderr).not.toContain("hunter2");
  });

  it("serve refuses the same secret for development and production", async () => {
    const run = await cli(["serve"], {
      DATA_DIR: dataDir,
      DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
      PROD_CLERK_WEBHOOK_SECRET: `${SECRETS.production} ${SECRETS.development}`,
    });
    expect(run.code).toBe(78);
    expect(run.stderr).toContain(
      "PROD_CLERK_WEBHOOK_SECRET (secret 2) is also configured as a development secret",
    );
    expect(run.stderr).not.toContain(SECRETS.development);
  });
});
