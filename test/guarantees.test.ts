import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pruneDeliveries } from "../src/store/deliveries.js";
import { backends } from "./support/backends.js";
import { cli } from "./support/cli.js";
import { type ClerkEvent, clerkEvent, deletedEvent, userEvent } from "./support/fixtures.js";
import { CASES, session, T, U, v1, v2 } from "./support/guarantee-cases.js";
import { type Harness, openHarness } from "./support/harness.js";
import { expectedUser, instant, TOMBSTONES_AS_EXPECTED, USERS_AS_EXPECTED } from "./support/histories.js";
import { signedDelivery } from "./support/sign.js";

describe.each(await backends())("delivery guarantees on $name", (backend) => {
  let h: Harness;
  const batches: number[] = [];
  beforeAll(async () => {
    // One transaction at a time, so that what queues behind one delivery commits together, in arrival order.
    h = await openHarness(backend, {
      writer: { concurrency: 1 },
      observer: { write: (size) => batches.push(size) },
    });
  });
  afterAll(() => h.close());
  beforeEach(() => h.reset());

  const query = (sql: string) => h.sync.database.query<Record<string, unknown>>(sql);
  const tables = async () => ({
    users: await h.users(),
    tombstones: await h.tombstones(),
    deliveries: await h.deliveries(),
  });

  it.each(CASES)("%s", async (_title, steps, users, tombstones) => {
    for (const step of steps) {
      const environment = step.env ?? "development";
      const before = await tables();
      const res = await h.post(step.event, { env: environment, ...(step.id ? { id: step.id } : {}) });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: step.outcome, environment, type: step.event.type });
      const after = await tables();
      if (step.outcome === "duplicate") {
        // Nothing at all is written, not even the delivery log row (its received_at stays the first one's).
        expect(after).toEqual(before);
        continue;
      }
      const logged = after.deliveries.filter((d) => !before.deliveries.some((b) => sameMessage(b, d)));
      expect(logged).toEqual([
        {
          environment,
          svix_id: res.svixId,
          event_type: step.event.type,
          clerk_user_id: step.event.type.startsWith("user.") ? U : null,
          clerk_org_id: null,
          clerk_membership_id: null,
          event_timestamp: instant(step.event.timestamp),
          received_at: expect.any(Date),
          outcome: step.outcome,
        },
      ]);
      expect(after.deliveries.filter((d) => !logged.includes(d))).toEqual(before.deliveries);
      if (step.outcome !== "applied") {
        // Every column, raw_payload and updated_at included.
        expect(after.users).toEqual(before.users);
        expect(after.tombstones).toEqual(before.tombstones);
      } else if (step.event.type === "user.deleted") {
        expect(after.users.filter((u) => u.clerk_user_id === U && u.environment === environment)).toEqual([]);
      } else {
        const row = (await query(USERS_AS_EXPECTED)).find(
          (u) => u.clerk_user_id === U && u.environment === environment,
        );
        expect(row).toEqual(expectedUser(step.event, environment));
      }
    }
    expect(await query(USERS_AS_EXPECTED)).toEqual(users);
    expect(await query(TOMBSTONES_AS_EXPECTED)).toEqual(tombstones);
  });

  it.each(CASES)(
    "%s, also when they all commit in one transaction",
    async (_title, steps, users, tombstones) => {
      // Deliveries read in the same turn of the event loop share a transaction: an ignored event and all the
      // steps go together, in this order, and must be decided as if they came one by one.
      const sent = [session as ClerkEvent, ...steps.map((s) => s.event)].map((event, i) => {
        const step = steps[i - 1];
        const delivery = signedDelivery(event, { env: step?.env, id: step?.id });
        return { svixId: delivery.svixId, response: h.sync.handle(delivery) };
      });
      batches.length = 0;
      const responses = await Promise.all(sent.map((s) => s.response));
      expect(batches).toEqual([steps.length + 1]);
      expect(responses.slice(1).map((r) => [r.status, JSON.parse(r.body)])).toEqual(
        steps.map((s) => [
          200,
          { status: s.outcome, environment: s.env ?? "development", type: s.event.type },
        ]),
      );
      expect(await query(USERS_AS_EXPECTED)).toEqual(users);
      expect(await query(TOMBSTONES_AS_EXPECTED)).toEqual(tombstones);
      const logged = (await h.deliveries()).map((d) => [d.svix_id, d.outcome]);
      const decided = steps.flatMap((s, i) =>
        s.outcome === "duplicate" ? [] : [[sent[i + 1]?.svixId, s.outcome]],
      );
      expect(logged.sort()).toEqual([[sent[0]?.svixId, "ignored"], ...decided].sort());
    },
  );

  it.each([
    ["user.created.docs", "milliseconds", 1654012591835],
    ["user.updated.openapi", "seconds", 1716883200000],
  ] as const)("reads Clerk's %s envelope timestamp (%s) as the right instant", async (name, _unit, ms) => {
    const res = await h.post(clerkEvent(name));
    expect(res.body.status).toBe("applied");
    expect((await h.deliveries()).map((d) => d.event_timestamp)).toEqual([new Date(ms)]);
  });

  it.each([
    ["user.deleted.catalog", "milliseconds", 1661861640000],
    ["user.deleted.openapi", "seconds", 1716883200000],
  ] as const)("dates the tombstone of Clerk's %s (%s) at the right instant", async (name, _unit, ms) => {
    const event = clerkEvent(name);
    expect((await h.post(event)).body.status).toBe("applied");
    expect(await query(TOMBSTONES_AS_EXPECTED)).toEqual([
      { clerk_user_id: event.data.id, environment: "development", deleted_at: new Date(ms) },
    ]);
    expect((await h.deliveries()).map((d) => d.event_timestamp)).toEqual([new Date(ms)]);
  });

  it("stores a payload holding U+0000 or an unpaired surrogate, which PostgreSQL refuses, with U+FFFD instead", async () => {
    // unsafe_metadata is written by users themselves: left as is, the event would fail on every retry.
    const event = userEvent("user.updated", {
      id: U,
      first_name: "Nul\u0000l",
      unsafe_metadata: { "k\u0000": ["half \ud83d", "\ude00 half", "whole \ud83d\ude00"] },
    });
    const res = await h.post(event);
    expect(res.body).toEqual({ status: "applied", environment: "development", type: "user.updated" });
    expect(await query("select first_name, raw_payload -> 'unsafe_metadata' as meta from users")).toEqual([
      { first_name: "Nul\ufffdl", meta: { "k\ufffd": ["half \ufffd", "\ufffd half", "whole \ud83d\ude00"] } },
    ]);
  });

  it("logs an ignored event with outcome ignored and no user, in the delivery log and the log", async () => {
    const res = await h.post(session, { env: "production" });
    expect(res.body).toEqual({ status: "ignored", environment: "production", type: "session.created" });
    expect(await h.deliveries()).toEqual([
      {
        environment: "production",
        svix_id: res.svixId,
        event_type: "session.created",
        clerk_user_id: null,
        clerk_org_id: null,
        clerk_membership_id: null,
        event_timestamp: new Date(T),
        received_at: expect.any(Date),
        outcome: "ignored",
      },
    ]);
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ svixId: res.svixId, outcome: "ignored", type: "session.created" }),
    );
  });

  it("keeps no personal data in the delivery log, the tombstones or the log", async () => {
    const columns = await query(
      `select table_name, column_name from information_schema.columns
       where table_name in ('webhook_deliveries', 'user_tombstones', 'organization_tombstones',
         'organization_membership_tombstones') order by table_name, ordinal_position`,
    );
    expect(columns.map((c) => `${c.table_name}.${c.column_name}`)).toEqual([
      "organization_membership_tombstones.clerk_membership_id",
      "organization_membership_tombstones.environment",
      "organization_membership_tombstones.deleted_at",
      "organization_tombstones.clerk_org_id",
      "organization_tombstones.environment",
      "organization_tombstones.deleted_at",
      "user_tombstones.clerk_user_id",
      "user_tombstones.environment",
      "user_tombstones.deleted_at",
      "webhook_deliveries.environment",
      "webhook_deliveries.svix_id",
      "webhook_deliveries.event_type",
      "webhook_deliveries.clerk_user_id",
      "webhook_deliveries.event_timestamp",
      "webhook_deliveries.received_at",
      "webhook_deliveries.outcome",
      "webhook_deliveries.clerk_org_id",
      "webhook_deliveries.clerk_membership_id",
    ]);
    const personal = userEvent("user.created", {
      id: U,
      first_name: "Ada",
      last_name: "Lovelace",
      username: "ada_l",
      email_addresses: [{ id: "idn_ada", email_address: "ada@example.org", object: "email_address" }],
      primary_email_address_id: "idn_ada",
    });
    await h.post(personal);
    await h.post(deletedEvent(U));
    const stored = JSON.stringify([await h.deliveries(), await h.tombstones(), h.logs]);
    for (const secret of ["Ada", "Lovelace", "ada_l", "ada@example.org", "idn_ada", "img.clerk.com"]) {
      expect(stored).not.toContain(secret);
    }
  });

  describe("retention", () => {
    async function seed() {
      const old = await h.post(v1);
      const oldDelete = await h.post(deletedEvent("user_old"));
      await query(
        `update webhook_deliveries set received_at = now() - interval '40 days'
         where svix_id in ('${old.svixId}', '${oldDelete.svixId}')`,
      );
      const recent = await h.post(v2);
      const recentIgnored = await h.post(session);
      return { old, oldDelete, recent, recentIgnored };
    }

    it("pruneDeliveries removes log rows older than the cutoff, keeps newer ones and every tombstone", async () => {
      const { old, oldDelete, recent, recentIgnored } = await seed();
      const users = await h.users();
      const tombstones = await h.tombstones();
      const removed = await pruneDeliveries(h.sync.database, new Date(Date.now() - 30 * 24 * 3600 * 1000));
      expect(removed).toBe(2);
      expect((await h.deliveries()).map((d) => d.svix_id).sort()).toEqual(
        [recent.svixId, recentIgnored.svixId].sort(),
      );
      expect(await h.users()).toEqual(users);
      expect(await h.tombstones()).toEqual(tombstones);
      // A pruned message re-sent is no longer known as a duplicate; ordering and tombstones still refuse it.
      expect((await h.post(v1, { id: old.svixId })).body.status).toBe("stale");
      expect((await h.post(deletedEvent("user_old"), { id: oldDelete.svixId })).body.status).toBe("stale");
      expect(await h.users()).toEqual(users);
      expect(await h.tombstones()).toEqual(tombstones);
    });

    it.runIf(backend.name === "postgres")(
      "clerk-user-sync prune --older-than 30d does the same from the command line",
      async () => {
        const { recent, recentIgnored } = await seed();
        const tombstones = await h.tombstones();
        const run = await cli(["prune", "--older-than", "30d"], { DATABASE_URL: h.db.database });
        expect(run).toEqual({
          code: 0,
          stdout: "removed 2 delivery-log row(s) older than 30d\n",
          stderr: "",
        });
        expect((await h.deliveries()).map((d) => d.svix_id).sort()).toEqual(
          [recent.svixId, recentIgnored.svixId].sort(),
        );
        expect(await h.tombstones()).toEqual(tombstones);
      },
    );
  });
});

function sameMessage(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return a.svix_id === b.svix_id && a.environment === b.environment;
}
