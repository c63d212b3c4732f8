import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFreshness } from "../src/freshness.js";
import { backends } from "./support/backends.js";
import { fakeUser } from "./support/fake-clerk.js";
import { userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";

const HOURS = 60 * 60_000;

describe.each(await backends())("the console's freshness per instance on $name", (backend) => {
  let h: Harness;
  let offsetMs = 0;
  beforeAll(async () => {
    h = await openHarness(backend, {
      console: {
        access: { mode: "local" },
        host: "127.0.0.1",
        // The console's clock, moved forward to see the same rows later.
        clock: () => new Date(Date.now() + offsetMs),
      },
    });
  });
  afterAll(() => h.close());

  const summary = async () => {
    const res = await h.app.inject({
      method: "GET",
      url: "/console/api/summary",
      headers: { host: "127.0.0.1" },
    });
    expect(res.statusCode).toBe(200);
    return res.json().freshness;
  };

  it("shows when the last delivery came, and warns past the threshold while the instance has users", async () => {
    offsetMs = 0;
    const empty = await summary();
    expect(empty.staleAfterMs).toBe(6 * HOURS);
    expect(empty.instances.production).toEqual({
      lastDelivery: null,
      users: 0,
      lastReconcile: null,
      lastSucceededReconcile: null,
      stale: false,
    });

    const before = Date.now();
    expect((await h.post(userEvent("user.created", fakeUser(1)))).status).toBe(200);
    await h.sync.database.query(
      `insert into reconcile_runs (environment, finished_at, outcome, listed, created, updated, deleted)
       values ('development', now(), 'succeeded', 10, 2, 1, null)`,
    );
    const fresh = await summary();
    expect(Date.parse(fresh.instances.development.lastDelivery)).toBeGreaterThanOrEqual(before - 1000);
    expect(fresh.instances.development).toMatchObject({
      users: 1,
      stale: false,
      lastReconcile: {
        outcome: "succeeded",
        listed: 10,
        created: 2,
        updated: 1,
        deleted: null,
        errorCode: null,
      },
    });
    // Production has no users: silence there is no warning.
    expect(fresh.instances.production).toMatchObject({ lastDelivery: null, stale: false });

    offsetMs = 7 * HOURS;
    const later = await summary();
    expect(later.instances.development).toMatchObject({ users: 1, stale: true });
    expect(later.instances.development.lastDelivery).toBe(fresh.instances.development.lastDelivery);
    expect(later.instances.production.stale).toBe(false);
  });

  it("counts the users unless the caller has (the summary passes its own counts: one count per request)", async () => {
    const counted = await readFreshness(h.sync.database);
    expect(counted.development.users).toBe(1);
    // Numbers the table cannot hold: only the caller's counts can answer them.
    const given = await readFreshness(h.sync.database, { development: 41, production: 42 });
    expect(given.development).toEqual({ ...counted.development, users: 41 });
    expect(given.production.users).toBe(42);
    const res = await h.app.inject({
      method: "GET",
      url: "/console/api/summary",
      headers: { host: "127.0.0.1" },
    });
    const { counts, freshness } = res.json();
    expect(freshness.instances.development.users).toBe(counts.development.users);
  });
});
