import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createClerkUserSync } from "../src/index.js";
import { createReadThrough, type ReadThroughOptions } from "../src/read-through/read-through.js";
import { backends } from "./support/backends.js";
import { type FakeClerk, fakeOrganization, fakeUser, startFakeClerk } from "./support/fake-clerk.js";
import { deletedEvent, organizationEvent, userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { SECRETS } from "./support/sign.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe.each(await backends())("ensureUser and ensureOrganization on $name", (backend) => {
  let h: Harness;
  let fake: FakeClerk;
  const slept: number[] = [];
  const clerk = (): ReadThroughOptions => ({
    secretKeys: { development: fake.secretKey },
    apiUrl: fake.url,
    sleep: async (ms) => void slept.push(ms),
  });
  beforeAll(async () => {
    fake = await startFakeClerk();
    h = await openHarness(backend, { clerk: clerk() });
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });
  beforeEach(async () => {
    await h.reset();
    fake.users.length = 0;
    fake.organizations.length = 0;
    fake.received.length = 0;
    fake.beforeObject = undefined;
    slept.length = 0;
  });

  const calls = () => fake.received.filter((r) => /^\/v1\/(users|organizations)\/[^/]+$/.test(r.path));
  /** The webhook a sign-up sends, for this fake user's state. */
  const created = (user: Record<string, unknown>) => userEvent("user.created", user);
  const columns = async () =>
    (await h.users()).map((r) => ({ id: r.clerk_user_id, env: r.environment, first: r.first_name }));

  it("returns the stored row without asking Clerk", async () => {
    const user = fakeUser(1);
    expect((await h.post(created(user))).status).toBe(200);
    const row = await h.sync.ensureUser(user.id);
    expect(row).toMatchObject({ clerkUserId: user.id, environment: "development", firstName: "First1" });
    expect(calls()).toEqual([]);
  });

  it("fetches a missing user with the instance's key, stores it like a webhook, and returns the row", async () => {
    const user = fakeUser(2);
    fake.users.push(user);
    const row = await h.sync.ensureUser(user.id);
    expect(row).toMatchObject({
      clerkUserId: user.id,
      environment: "development",
      email: "person2@example.org",
      firstName: "First2",
      rawPayload: user,
    });
    expect(row?.clerkUpdatedAt?.getTime()).toBe(user.updated_at);
    expect(calls()).toEqual([{ path: `/v1/users/${user.id}`, query: {}, authorized: true }]);
    expect(await columns()).toEqual([{ id: user.id, env: "development", first: "First2" }]);
  });

  describe("a sign-up whose user.created arrives after ensureUser: one row, the newer state wins", () => {
    it("the webhook's older state leaves the fetched newer one", async () => {
      const older = fakeUser(3);
      const newer = { ...older, first_name: "Renamed", updated_at: older.updated_at + 5000 };
      fake.users.push(newer);
      expect((await h.sync.ensureUser(older.id))?.firstName).toBe("Renamed");
      const answer = await h.post(created(older));
      expect(answer.status).toBe(200);
      expect(await columns()).toEqual([{ id: older.id, env: "development", first: "Renamed" }]);
    });

    it("the webhook's newer state replaces the fetched older one", async () => {
      const older = fakeUser(4);
      fake.users.push(older);
      expect((await h.sync.ensureUser(older.id))?.firstName).toBe("First4");
      const newer = { ...older, first_name: "Renamed", updated_at: older.updated_at + 5000 };
      expect((await h.post(userEvent("user.updated", newer))).body).toMatchObject({ status: "applied" });
      expect(await columns()).toEqual([{ id: older.id, env: "development", first: "Renamed" }]);
    });

    it("a webhook committed while Clerk's older answer is in flight wins, and ensureUser returns its row", async () => {
      const older = fakeUser(5);
      const newer = { ...older, first_name: "Renamed", updated_at: older.updated_at + 5000 };
      fake.users.push(older);
      fake.beforeObject = async () => {
        expect((await h.post(created(newer))).body).toMatchObject({ status: "applied" });
      };
      expect((await h.sync.ensureUser(older.id))?.firstName).toBe("Renamed");
      expect(await columns()).toEqual([{ id: older.id, env: "development", first: "Renamed" }]);
    });
  });

  describe("never resurrects a deleted user", () => {
    it("returns null for a tombstoned user without asking Clerk", async () => {
      const user = fakeUser(6);
      fake.users.push(user);
      await h.post(created(user));
      expect((await h.post(deletedEvent(user.id, user.updated_at + 1000))).status).toBe(200);
      expect(await h.sync.ensureUser(user.id)).toBeNull();
      expect(calls()).toEqual([]);
      expect(await h.users()).toEqual([]);
    });

    it("a delete committed while Clerk's (older) answer is in flight wins: null, no row", async () => {
      const user = fakeUser(7);
      fake.users.push(user);
      fake.beforeObject = async () => {
        // Clerk's answer below is older than this tombstone.
        expect((await h.post(deletedEvent(user.id, user.updated_at + 1000))).status).toBe(200);
      };
      expect(await h.sync.ensureUser(user.id)).toBeNull();
      expect(calls()).toHaveLength(1);
      expect(await h.users()).toEqual([]);
      expect((await h.tombstones()).map((t) => t.clerk_user_id)).toEqual([user.id]);
    });
  });

  it("makes one API call for 50 concurrent ensureUser of one id", async () => {
    const user = fakeUser(8);
    fake.users.push(user);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    fake.beforeObject = () => held;
    const all = Promise.all(Array.from({ length: 50 }, () => h.sync.ensureUser(user.id)));
    // Every call is waiting on the one request before Clerk answers it.
    while (calls().length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    release();
    const rows = await all;
    expect(calls()).toHaveLength(1);
    expect(new Set(rows.map((r) => r?.id)).size).toBe(1);
    expect(rows[0]).toMatchObject({ clerkUserId: user.id });
    expect(await h.users()).toHaveLength(1);
  });

  it("returns null and writes nothing for a user Clerk does not have (404)", async () => {
    expect(await h.sync.ensureUser("user_nobody")).toBeNull();
    expect(calls().map((c) => c.path)).toEqual(["/v1/users/user_nobody"]);
    expect(await h.users()).toEqual([]);
    expect(await h.tombstones()).toEqual([]);
  });

  it("returns null without asking Clerk for what cannot be an id (a path, `..`)", async () => {
    for (const id of ["..", "user_1/../x", "", "a b"]) expect(await h.sync.ensureUser(id)).toBeNull();
    expect(calls()).toEqual([]);
  });

  it("waits out a 429's Retry-After, then stores the user", async () => {
    const user = fakeUser(9);
    fake.users.push(user);
    fake.fail(`/v1/users/${user.id}`, { status: 429, headers: { "retry-after": "2" } });
    expect(await h.sync.ensureUser(user.id)).toMatchObject({ clerkUserId: user.id });
    expect(slept).toEqual([2000]);
    expect(calls()).toHaveLength(2);
  });

  it("fails at once with clerk_unavailable when Retry-After is past its time budget, writing nothing", async () => {
    const user = fakeUser(10);
    fake.users.push(user);
    fake.fail(`/v1/users/${user.id}`, { status: 429, headers: { "retry-after": "60" } });
    const error = await h.sync.ensureUser(user.id).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "clerk_unavailable", status: 429 });
    expect(slept).toEqual([]);
    expect(calls()).toHaveLength(1);
    expect(await h.users()).toEqual([]);
  });

  it("fails with clerk_unavailable after its attempts when Clerk is down (5xx, dropped connections)", async () => {
    const user = fakeUser(11);
    fake.users.push(user);
    fake.fail(`/v1/users/${user.id}`, { status: 503 }, "reset", { status: 502 });
    const error = await h.sync.ensureUser(user.id).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "clerk_unavailable", status: 502 });
    expect((error as Error).message).toMatch(/after 3 attempts \(last: HTTP 502\)/);
    expect(slept).toEqual([250, 500]);
    expect(await h.users()).toEqual([]);
    // Nothing is remembered of the failure: the next call asks again and succeeds.
    expect(await h.sync.ensureUser(user.id)).toMatchObject({ clerkUserId: user.id });
  });

  it("fails with clerk_unavailable within its budget when Clerk never answers (a hang)", async () => {
    const user = fakeUser(12);
    fake.users.push(user);
    let release = () => {};
    fake.beforeObject = () =>
      new Promise<void>((resolve) => {
        release = resolve;
      });
    const readThrough = createReadThrough(
      h.sync.database,
      { ...clerk(), sleep: undefined, budgetMs: 600, attemptTimeoutMs: 200 },
      quiet,
    );
    const started = performance.now();
    const error = await readThrough.ensureUser(user.id).catch((e: unknown) => e);
    release();
    expect(error).toMatchObject({ code: "clerk_unavailable" });
    expect((error as Error).message).toMatch(/last: timeout/);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(await h.users()).toEqual([]);
  });

  it("fails with clerk_unauthorized on a refused key, without retrying or echoing the key", async () => {
    const key = "sk_test_notTheRightKey123456";
    const readThrough = createReadThrough(
      h.sync.database,
      { ...clerk(), secretKeys: { development: key }, keyNames: { development: "DEV_CLERK_SECRET_KEY" } },
      quiet,
    );
    const error = await readThrough.ensureUser("user_x").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "clerk_unauthorized", status: 401 });
    expect((error as Error).message).toMatch(/DEV_CLERK_SECRET_KEY/);
    expect((error as Error).message).not.toContain(key);
    expect(calls()).toHaveLength(1);
  });

  it("stores under the instance whose key fetched it, chosen by `environment` when both keys are given", async () => {
    const user = fakeUser(13);
    fake.users.push(user);
    const both = { development: "sk_test_otherInstanceKey1234", production: fake.secretKey };
    const undecided = createReadThrough(h.sync.database, { ...clerk(), secretKeys: both }, quiet);
    await expect(undecided.ensureUser(user.id)).rejects.toMatchObject({ code: "invalid_config" });
    expect(calls()).toEqual([]);
    const production = createReadThrough(
      h.sync.database,
      { ...clerk(), secretKeys: both, environment: "production" },
      quiet,
    );
    expect(await production.ensureUser(user.id)).toMatchObject({ environment: "production" });
    expect(await undecided.ensureUser(user.id, { environment: "production" })).toMatchObject({
      environment: "production",
    });
    expect(await columns()).toEqual([{ id: user.id, env: "production", first: "First13" }]);
  });

  it("refuses at creation a key of the wrong instance, never echoing it", async () => {
    const error = await createClerkUserSync({
      database: h.db.database ?? "postgres://unused",
      secrets: SECRETS,
      migrate: false,
      clerk: { secretKeys: { production: "sk_test_wrongInstance123" } },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "invalid_config" });
    expect((error as Error).message).toMatch(/clerk\.secretKeys\.production is not a production secret key/);
    expect((error as Error).message).not.toContain("wrongInstance");
  });

  it("ensureOrganization fetches a missing organization, and never asks for a deleted one", async () => {
    const org = fakeOrganization(1);
    fake.organizations.push(org);
    expect(await h.sync.ensureOrganization(org.id)).toMatchObject({ clerkOrgId: org.id, name: "Org 1" });
    expect(await h.rows("organizations")).toHaveLength(1);
    const gone = fakeOrganization(2);
    fake.organizations.push(gone);
    const deleted = organizationEvent("organization.deleted", gone.id, { updatedAt: gone.updated_at + 1000 });
    expect((await h.post(deleted)).status).toBe(200);
    fake.received.length = 0;
    expect(await h.sync.ensureOrganization(gone.id)).toBeNull();
    expect(calls()).toEqual([]);
    expect(await h.sync.ensureOrganization("org_nobody")).toBeNull();
    expect(await h.rows("organizations")).toHaveLength(1);
  });
});
