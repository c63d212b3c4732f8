import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type BackfillOptions, backfill } from "../src/backfill/backfill.js";
import { ClerkApi, type ClerkApiOptions } from "../src/backfill/clerk-api.js";
import { ClerkApiError, PruneRefusedError } from "../src/backfill/errors.js";
import { formatSummary } from "../src/backfill/progress.js";
import { openDatabase } from "../src/db/database.js";
import { backends } from "./support/backends.js";
import { cli } from "./support/cli.js";
import { virtualTime } from "./support/clock.js";
import {
  type FakeClerk,
  type FakeObject,
  fakeMembership,
  fakeOrganization,
  fakeUser,
  fakeUsers,
  startFakeClerk,
} from "./support/fake-clerk.js";
import { deletedEvent, membershipEvent, organizationEvent, userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";

describe.each(await backends())("backfill from Clerk's Backend API on $name", (backend) => {
  let h: Harness;
  let fake: FakeClerk;
  let time: ReturnType<typeof virtualTime>;
  beforeAll(async () => {
    h = await openHarness(backend);
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    await h.reset();
    fake = await startFakeClerk();
    time = virtualTime();
  });
  afterEach(() => fake.close());

  function api(options: Partial<ClerkApiOptions> = {}) {
    return new ClerkApi({
      secretKey: fake.secretKey,
      keyName: "DEV_CLERK_SECRET_KEY",
      baseUrl: fake.url,
      now: time.now,
      sleep: time.sleep,
      random: () => 0.5,
      ...options,
    });
  }
  const run = (options: Partial<BackfillOptions> = {}) =>
    backfill({ db: h.sync.database, environment: "development", api: api(), now: time.now, ...options });
  const ids = async () => (await h.users()).map((r) => `${r.environment}:${r.clerk_user_id}`);
  const pages = () => fake.received.filter((r) => r.path === "/v1/users").map((r) => r.query);
  const dev = (...users: { id: string }[]) => users.map((u) => `development:${u.id}`);

  it("loads every user over several pages, with the same columns and raw_payload as a webhook", async () => {
    fake.users.push(...fakeUsers(4));
    const summary = await run({ environment: "production", pageSize: 2 });
    expect(summary).toMatchObject({ environment: "production", done: 4, total: 4, pages: 2, created: 4 });
    expect(summary).toMatchObject({ updated: 0, unchanged: 0, stale: 0, tombstoned: 0, pruned: null });
    // Cursor pagination, oldest first; the page after a full one is asked for, and is empty.
    expect(pages()).toEqual([
      { limit: "2", order_by: "created_at" },
      { limit: "2", order_by: "created_at", starting_after: fakeUser(1).id },
      { limit: "2", order_by: "created_at", starting_after: fakeUser(3).id },
    ]);
    const rows = await h.users();
    expect(rows.map((r) => [r.environment, r.clerk_user_id])).toEqual(
      fakeUsers(4).map((u) => ["production", u.id]),
    );
    const user = fakeUser(2);
    expect(rows[2]).toMatchObject({
      email: "person2@example.org", // the primary address, which is not the first one
      first_name: "First2",
      last_name: "Last2",
      username: null,
      image_url: user.image_url,
      raw_payload: user,
      clerk_created_at: new Date(user.created_at),
      clerk_updated_at: new Date(user.updated_at),
    });
  });

  it("stores a user whose JSON holds text PostgreSQL refuses (\\u0000, a lone surrogate), with U+FFFD", async () => {
    fake.users.push(
      fakeUser(0),
      fakeUser(1, { first_name: "Nul\u0000l", unsafe_metadata: { note: "half \ud83d" } }),
    );
    const summary = await run();
    expect(summary).toMatchObject({ done: 2, created: 2 });
    const rows = await h.users();
    expect(rows[1]).toMatchObject({
      first_name: "Nul\uFFFDl",
      raw_payload: expect.objectContaining({ unsafe_metadata: { note: "half \uFFFD" } }),
    });
  });

  it("pages at the API's real limit of 500", async () => {
    fake.users.push(...fakeUsers(1001));
    const summary = await run();
    expect(summary).toMatchObject({ done: 1001, total: 1001, pages: 3, created: 1001 });
    expect(pages().map((q) => [q.limit, q.starting_after])).toEqual([
      ["500", undefined],
      ["500", fakeUser(499).id],
      ["500", fakeUser(999).id],
    ]);
    expect(await h.users()).toHaveLength(1001);
  });

  it("repairs drift on a second run: newer Clerk states replace older rows, the rest is unchanged", async () => {
    fake.users.push(...fakeUsers(3));
    await run();
    const before = await h.users();
    fake.users[1] = fakeUser(1, { first_name: "Renamed", updated_at: fakeUser(1).updated_at + 5000 });
    const summary = await run();
    expect(summary).toMatchObject({ done: 3, created: 0, updated: 1, unchanged: 2 });
    const after = await h.users();
    expect(after[1]).toMatchObject({ first_name: "Renamed", raw_payload: fake.users[1] });
    expect([after[0], after[2]]).toEqual([before[0], before[2]]);
  });

  it("waits out a 429's Retry-After, then asks again for the same page", async () => {
    fake.users.push(...fakeUsers(3));
    fake.fail("/v1/users", { status: 429, headers: { "retry-after": "7" } });
    const summary = await run({ pageSize: 2 });
    expect(time.slept).toEqual([7000]);
    expect(pages()[0]).toEqual(pages()[1]);
    expect(summary).toMatchObject({ done: 3, created: 3 });
    expect(await ids()).toEqual(dev(...fakeUsers(3)));
  });

  it("retries a 500 and a dropped connection with exponential backoff and jitter", async () => {
    fake.users.push(...fakeUsers(3));
    fake.fail("/v1/users", { status: 500 }, "reset");
    const summary = await run();
    // 500 ms, then 1000 ms, each scaled by 0.5 + random/2 = 0.75.
    expect(time.slept).toEqual([375, 750]);
    expect(summary).toMatchObject({ done: 3, created: 3 });
    expect(await ids()).toEqual(dev(...fakeUsers(3)));
  });

  it("gives up after its attempts with clerk_unavailable, keeps the pages written, and prunes nothing", async () => {
    await h.post(userEvent("user.created", { id: "user_local_only" }));
    fake.users.push(...fakeUsers(6));
    fake.beforePage = (n) => {
      if (n === 1) fake.fail("/v1/users", { status: 503 }, { status: 503 }, { status: 503 });
    };
    const error = await run({ api: api({ maxAttempts: 3 }), pageSize: 2, prune: true, force: true }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ClerkApiError);
    expect(error).toMatchObject({ code: "clerk_unavailable", status: 503 });
    expect((error as Error).message).toMatch(/gave up after 3 attempts \(last: HTTP 503\)/);
    expect(time.slept).toHaveLength(2);
    expect(await ids()).toEqual([...dev(...fakeUsers(2)), "development:user_local_only"]);
    expect(await h.tombstones()).toEqual([]);
  });

  it("stops at once on a 401 with a message about the key, and writes nothing", async () => {
    fake.users.push(...fakeUsers(3));
    const key = "sk_test_notTheRightKey123456";
    const error = await run({ api: api({ secretKey: key }) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "clerk_unauthorized", status: 401 });
    expect((error as Error).message).toMatch(/Clerk refused DEV_CLERK_SECRET_KEY \(HTTP 401\)/);
    expect((error as Error).message).not.toContain(key);
    expect(fake.received).toHaveLength(1);
    expect(time.slept).toEqual([]);
    expect(await h.users()).toEqual([]);
  });

  it("fails with clerk_bad_response on a 2xx that is not a list of users, without retrying", async () => {
    fake.users.push(...fakeUsers(2));
    fake.fail("/v1/users", { status: 200, body: JSON.stringify({ data: fakeUsers(2) }) });
    const error = await run().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "clerk_bad_response" });
    expect(pages()).toHaveLength(1);
    expect(await h.users()).toEqual([]);
  });

  it("writes a user repeated within a page once, with its newest state", async () => {
    fake.users.push(
      fakeUser(0),
      fakeUser(1),
      fakeUser(1, { first_name: "Newer", updated_at: fakeUser(1).updated_at + 1 }),
    );
    const summary = await run();
    expect(summary).toMatchObject({ done: 3, created: 2, stale: 1 });
    expect((await h.users()).map((r) => r.first_name)).toEqual(["First0", "Newer"]);
  });

  it("stays under the rate limit on its own", async () => {
    fake.users.push(...fakeUsers(10));
    const sent: number[] = [];
    const counted: typeof fetch = (input, init) => {
      sent.push(time.now());
      return fetch(input, init);
    };
    await run({
      api: api({ fetch: counted, rateLimit: { requests: 3, perMs: 10_000 } }),
      pageSize: 2,
      only: ["users"],
    });
    expect(sent).toHaveLength(7); // the count, five full pages and an empty one
    for (let i = 3; i < sent.length; i++)
      expect(sent[i]).toBeGreaterThanOrEqual((sent[i - 3] as number) + 10_000);
    expect(await h.users()).toHaveLength(10);
  });

  it("lets a webhook delivered mid-listing win with its newer state, before or after the page is written", async () => {
    fake.users.push(...fakeUsers(6));
    const newer = (n: number) =>
      userEvent("user.updated", {
        ...fakeUser(n),
        first_name: "Webhook",
        updated_at: fakeUser(n).updated_at + 1,
      });
    fake.beforePage = async (n) => {
      if (n !== 2) return;
      // User 0 was listed on page 1, whose write (which may run while page 2 is fetched) has committed once its rows
      // are there; user 3 is about to be listed on page 2.
      await vi.waitFor(async () => expect(await h.users()).toHaveLength(2), { timeout: 10_000, interval: 5 });
      for (const user of [0, 3]) expect((await h.post(newer(user))).body.status).toBe("applied");
    };
    const summary = await run({ pageSize: 2 });
    // Only user 3's listed state is older than its row.
    expect(summary).toMatchObject({ done: 6, created: 5, stale: 1 });
    const rows = await h.users();
    expect(rows.map((r) => r.first_name)).toEqual([
      "Webhook",
      "First1",
      "First2",
      "Webhook",
      "First4",
      "First5",
    ]);
    expect(rows[3]?.clerk_updated_at).toEqual(new Date(fakeUser(3).updated_at + 1));
  });

  it("never brings back a user deleted by a webhook, even though Clerk still lists it", async () => {
    fake.users.push(...fakeUsers(3));
    expect((await h.post(deletedEvent(fakeUser(1).id))).body.status).toBe("applied");
    const summary = await run();
    expect(summary).toMatchObject({ created: 2, tombstoned: 1 });
    expect(await ids()).toEqual(dev(fakeUser(0), fakeUser(2)));
    expect((await h.tombstones()).map((t) => t.clerk_user_id)).toEqual([fakeUser(1).id]);
  });

  it("--prune removes and tombstones the users Clerk no longer has, but not one created since the listing began", async () => {
    fake.users.push(...fakeUsers(20));
    await run();
    const gone = fake.users.splice(4, 2); // 2 of 20: exactly the 10 % allowed
    fake.beforePage = async (n) => {
      if (n === 1) await h.post(userEvent("user.created", { id: "user_created_during_listing" }));
    };
    const started = new Date();
    const summary = await run({ prune: true });
    expect(summary).toMatchObject({ done: 18, unchanged: 18, pruned: 2 });
    const left = await ids();
    expect(left).toHaveLength(19);
    expect(left).toContain("development:user_created_during_listing");
    expect(left).not.toContain(`development:${gone[0]?.id}`);
    const tombstones = await h.tombstones();
    expect(tombstones.map((t) => [t.environment, t.clerk_user_id])).toEqual(
      gone.map((u) => ["development", u.id]),
    );
    for (const t of tombstones)
      expect((t.deleted_at as Date).getTime()).toBeGreaterThan(started.getTime() - 60_000);
  });

  it("--prune refuses to remove more than 10 % without force (prune_refused), and does with it", async () => {
    fake.users.push(...fakeUsers(20));
    await run();
    fake.users.splice(0, 3);
    const error = await run({ prune: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PruneRefusedError);
    expect(error).toMatchObject({
      code: "prune_refused",
      refusal: { reason: "too_many", candidates: 3, local: 20 },
    });
    expect((error as Error).message).toMatch(/refusing to prune 3 of 20 local development users.*--force/);
    expect(await h.users()).toHaveLength(20);
    expect(await h.tombstones()).toEqual([]);

    expect(await run({ prune: true, force: true })).toMatchObject({ unchanged: 17, pruned: 3 });
    expect(await h.users()).toHaveLength(17);
    expect(await h.tombstones()).toHaveLength(3);
  });

  it("--dry-run writes nothing and reports what it would do", async () => {
    fake.users.push(...fakeUsers(6));
    await run();
    await h.post(userEvent("user.created", { id: "user_local_only" }));
    await h.post(deletedEvent(fakeUser(2).id));
    fake.users.push(...fakeUsers(4, 6));
    fake.users[1] = fakeUser(1, { first_name: "Renamed", updated_at: fakeUser(1).updated_at + 5000 });
    const tables = async () => [await h.users(), await h.tombstones(), await h.deliveries()];
    const before = await tables();
    const summary = await run({ dryRun: true, prune: true });
    expect(summary).toMatchObject({
      dryRun: true,
      done: 10,
      created: 4,
      updated: 1,
      unchanged: 4,
      stale: 0,
      tombstoned: 1,
      pruned: 1,
    });
    expect(await tables()).toEqual(before);
  });

  /** An instance with `orgs` organizations and, in each, a membership of each of the first three users. */
  function organizationsOf(orgs: number): { organizations: FakeObject[]; memberships: FakeObject[] } {
    const organizations = Array.from({ length: orgs }, (_, i) => fakeOrganization(i));
    const memberships = organizations.flatMap((org, i) =>
      fakeUsers(3).map((user, j) => fakeMembership(i * 3 + j, { org, user })),
    );
    fake.organizations.push(...organizations);
    fake.memberships.push(...memberships);
    return { organizations, memberships };
  }
  const orgIds = async () => (await h.rows("organizations")).map((r) => r.clerk_org_id);
  const membershipIds = async () =>
    (await h.rows("organization_memberships")).map((r) => r.clerk_membership_id);

  it("loads organizations and memberships over offset pages, oldest first, with the webhook's columns", async () => {
    const { organizations, memberships } = organizationsOf(3);
    const summary = await run({ pageSize: 2 });
    expect(summary.organizations).toMatchObject({
      state: "listed",
      done: 3,
      total: 3,
      pages: 2,
      created: 3,
      complete: true,
    });
    expect(summary.memberships).toMatchObject({
      state: "listed",
      done: 9,
      total: 9,
      pages: 5,
      created: 9,
      complete: true,
    });
    expect(await orgIds()).toEqual(organizations.map((o) => o.id));
    expect(await membershipIds()).toEqual(memberships.map((m) => m.id));
    const org = organizations[1] as FakeObject;
    expect((await h.rows("organizations"))[1]).toEqual({
      id: expect.any(String),
      clerk_org_id: org.id,
      environment: "development",
      name: org.name,
      slug: null,
      image_url: org.image_url,
      raw_payload: org,
      clerk_created_at: new Date(org.created_at),
      clerk_updated_at: new Date(org.updated_at),
      created_at: expect.any(Date),
      updated_at: expect.any(Date),
    });
    expect((await h.rows("organization_memberships"))[0]).toMatchObject({
      clerk_org_id: organizations[0]?.id,
      clerk_user_id: fakeUser(0).id,
      role: "org:member",
      raw_payload: memberships[0],
    });
    const offsets = fake.received.filter((r) => r.path === "/v1/organizations").map((r) => r.query);
    expect(offsets).toEqual([
      { limit: "2", offset: "0", order_by: "+created_at" },
      { limit: "2", offset: "2", order_by: "+created_at" },
    ]);
    // A second run changes nothing.
    const again = await run({ pageSize: 500 });
    expect(again.organizations).toMatchObject({ unchanged: 3, created: 0 });
    expect(again.memberships).toMatchObject({ unchanged: 9, created: 0 });
  });

  it("never brings back an organization or membership deleted by a webhook, nor one of a deleted user", async () => {
    const { organizations, memberships } = organizationsOf(2);
    const org0 = organizations[0] as FakeObject;
    await h.post(organizationEvent("organization.deleted", org0.id, { updatedAt: 1 }));
    await h.post(deletedEvent(fakeUser(2).id));
    const m4 = memberships[4] as FakeObject;
    const ids = { id: m4.id, org: (organizations[1] as FakeObject).id, user: fakeUser(1).id };
    await h.post(membershipEvent("organizationMembership.deleted", ids, { updatedAt: 1 }));
    const summary = await run({ only: ["organizations", "memberships"] });
    expect(summary.organizations).toMatchObject({ created: 1, tombstoned: 1 });
    // Org 0's three, user 2's in org 1, and the deleted membership.
    expect(summary.memberships).toMatchObject({ created: 1, tombstoned: 5 });
    expect(await orgIds()).toEqual([organizations[1]?.id]);
    expect(await membershipIds()).toEqual([memberships[3]?.id]);
    expect(await h.users()).toEqual([]);
  });

  it("waits out a 429 on an offset listing, then asks again for the same page", async () => {
    organizationsOf(1);
    fake.fail("/v1/organization_memberships", { status: 429, headers: { "retry-after": "3" } });
    const summary = await run({ only: ["memberships"] });
    expect(summary.memberships).toMatchObject({ done: 3, created: 3 });
    expect(time.slept).toEqual([3000]);
  });

  it("reports an instance without organizations in one line and goes on: not a failure", async () => {
    fake.users.push(...fakeUsers(2));
    fake.organizationsDisabled = true;
    const summary = await run();
    expect(summary).toMatchObject({
      created: 2,
      organizations: { state: "disabled" },
      memberships: { state: "disabled" },
    });
    expect(formatSummary(summary)).toContain(
      "  organizations: skipped, organizations are not enabled in this instance\n",
    );
  });

  it("--prune removes organizations and memberships Clerk no longer has, cascading, after a complete listing", async () => {
    const { organizations, memberships } = organizationsOf(10);
    await run();
    fake.organizations.splice(0, 1);
    fake.memberships.splice(fake.memberships.indexOf(memberships[29] as FakeObject), 1);
    fake.memberships.splice(0, 3);
    const summary = await run({ prune: true, pageSize: 4 });
    expect(summary.organizations).toMatchObject({ complete: true, pruned: 1 });
    expect(summary.memberships).toMatchObject({ complete: true, pruned: 1 });
    expect(await orgIds()).toEqual(organizations.slice(1).map((o) => o.id));
    expect(await membershipIds()).toEqual(memberships.slice(3, 29).map((m) => m.id));
    expect((await h.rows("organization_tombstones")).map((r) => r.clerk_org_id)).toEqual([
      organizations[0]?.id,
    ]);
    expect((await h.rows("organization_membership_tombstones")).map((r) => r.clerk_membership_id)).toEqual([
      memberships[29]?.id,
    ]);
  });

  it("refuses the prune when a row is deleted during the offset walk (rows may have been skipped), exit code prune_refused", async () => {
    const { organizations } = organizationsOf(6);
    await run();
    fake.organizations.splice(5, 1);
    let page = 0;
    fake.beforeOffsetPage = (path) => {
      // Deleted in Clerk between two pages: every later row shifts one place back, and one is never listed.
      if (path === "/v1/organizations" && ++page === 2) fake.organizations.splice(0, 1);
    };
    const refused = await run({ prune: true, pageSize: 2 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PruneRefusedError);
    expect(refused).toMatchObject({
      code: "prune_refused",
      refusal: { reason: "incomplete_listing", resource: "organizations", totalAtStart: 5, totalAtEnd: 4 },
    });
    expect(await orgIds()).toEqual(organizations.map((o) => o.id));
    expect(await h.rows("organization_tombstones")).toEqual([]);
  });

  it.each(["organizations", "users"] as const)(
    "stops with clerk_api_inconsistent when the API ignores the position of %s pages, and prunes nothing",
    async (what) => {
      fake.users.push(...fakeUsers(4));
      organizationsOf(4);
      await run();
      fake.users.splice(0, 1);
      fake.organizations.splice(0, 1);
      fake.ignoresPosition = true;
      const only = what === "users" ? (["users"] as const) : (["organizations"] as const);
      const error = await run({ prune: true, pageSize: 2, only: [...only] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClerkApiError);
      expect(error).toMatchObject({ code: "clerk_api_inconsistent" });
      expect(await ids()).toHaveLength(4);
      expect(await orgIds()).toHaveLength(4);
    },
  );

  it("the CLI: `backfill --env production --prune` against CLERK_API_URL, with progress lines and a summary", async () => {
    const db = await backend.create();
    try {
      const live = await startFakeClerk({
        secretKey: "sk_live_fakeProductionKey0123456789",
        users: fakeUsers(5),
      });
      const result = await cli(["backfill", "--env", "production", "--prune", "--page-size", "2"], {
        ...db.env,
        PROD_CLERK_SECRET_KEY: live.secretKey,
        CLERK_API_URL: live.url,
      }).finally(() => live.close());
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^backfill production: complete, 5 users listed \(Clerk counted 5\)/);
      expect(result.stdout).toContain(
        "created 5, updated 0, unchanged 0, skipped as stale 0, skipped as tombstoned 0, pruned 0",
      );
      expect(result.stderr.match(/^backfill production: page \d, /gm)).toHaveLength(3);
      expect(result.stdout).toContain(
        "  organizations: 0 listed (Clerk counted 0), created 0, updated 0, unchanged 0, skipped as stale 0, skipped as tombstoned 0, pruned 0\n",
      );
      expect(result.stdout).toContain("  memberships: 0 listed (Clerk counted 0), created 0,");
      for (const secretOrPersonal of [live.secretKey, "@example.org", "First", "Last"]) {
        expect(result.stdout + result.stderr).not.toContain(secretOrPersonal);
      }
      const database = await openDatabase(db.database, { dataDir: db.dataDir });
      const rows = await database
        .query<{ environment: string }>("select environment from users")
        .finally(() => database.close());
      expect(rows).toEqual(Array(5).fill({ environment: "production" }));
    } finally {
      await db.drop();
    }
  }, 60_000);

  it("the CLI: a refused key exits 1 with clerk_unauthorized, without printing the key, and writes nothing", async () => {
    const db = await backend.create();
    try {
      fake.users.push(...fakeUsers(3));
      const key = "sk_test_revokedKey0123456789";
      const result = await cli(["backfill", "--env", "development"], {
        ...db.env,
        DEV_CLERK_SECRET_KEY: key,
        CLERK_API_URL: fake.url,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/clerk-user-sync backfill: clerk_unauthorized: .*DEV_CLERK_SECRET_KEY/);
      expect(result.stdout + result.stderr).not.toContain(key);
      const database = await openDatabase(db.database, { dataDir: db.dataDir });
      const rows = await database.query("select 1 from users").finally(() => database.close());
      expect(rows).toEqual([]);
    } finally {
      await db.drop();
    }
  }, 60_000);
});

describe("the backfill command's configuration", () => {
  it.each<{ args: string[]; env: Record<string, string>; code: number; stderr: RegExp[] }>([
    {
      args: ["--env", "development"],
      env: { CLERK_API_URL: "ftp://example.org" },
      code: 78,
      stderr: [/DEV_CLERK_SECRET_KEY is not set/, /CLERK_API_URL="ftp:\/\/example.org" is invalid/],
    },
    {
      args: ["--env", "development"],
      env: { DEV_CLERK_SECRET_KEY: "sk_live_productionKey0123456789" },
      code: 78,
      stderr: [/DEV_CLERK_SECRET_KEY holds a sk_live_… key, which belongs to a production instance/],
    },
    { args: ["--env", "staging"], env: {}, code: 2, stderr: [/--env must be development or production/] },
    {
      args: ["--env", "production", "--only", "users,teams"],
      env: {},
      code: 2,
      stderr: [/--only takes a comma-separated list of users, organizations, memberships/],
    },
    {
      args: ["--env", "production", "--force"],
      env: {},
      code: 2,
      stderr: [/--force only applies to --prune/],
    },
  ])("$args with $env exits $code", async ({ args, env, code, stderr }) => {
    const result = await cli(["backfill", ...args], env);
    expect(result.code).toBe(code);
    for (const pattern of stderr) expect(result.stderr).toMatch(pattern);
    expect(result.stderr).not.toContain("productionKey0123456789");
  });
});
