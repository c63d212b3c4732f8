import { afterEach, describe, expect, it } from "vitest";
import {
  clerkUserSyncRoute,
  closeClerkUserSyncRoutes,
  ensureOrganization,
  ensureUser,
} from "../src/adapters/next.js";
import { openDatabase } from "../src/db/database.js";
import { readThroughFromEnv } from "../src/service/config.js";
import { backends, type TestDatabase } from "./support/backends.js";
import { fakeOrganization, fakeUser, startFakeClerk } from "./support/fake-clerk.js";
import { userEvent } from "./support/fixtures.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

const ENV = { DEV_CLERK_WEBHOOK_SECRET: SECRETS.development, PROD_CLERK_WEBHOOK_SECRET: SECRETS.production };

afterEach(() => closeClerkUserSyncRoutes());

describe("readThroughFromEnv: which instance ensureUser asks", () => {
  it.each([
    ["nothing set: read only", {}, undefined],
    [
      "the app's CLERK_SECRET_KEY alone picks its instance",
      { CLERK_SECRET_KEY: "sk_live_app12345678" },
      { secretKeys: { production: "sk_live_app12345678" }, environment: "production" },
    ],
    [
      "one instance's key: that instance (no default needed)",
      { DEV_CLERK_SECRET_KEY: "sk_test_dev12345678" },
      { secretKeys: { development: "sk_test_dev12345678" } },
    ],
    [
      "both keys and CLERK_SECRET_KEY: the app's instance, with its own variable's key",
      {
        DEV_CLERK_SECRET_KEY: "sk_test_dev12345678",
        PROD_CLERK_SECRET_KEY: "sk_live_prod1234567",
        CLERK_SECRET_KEY: "sk_test_dev12345678",
      },
      {
        secretKeys: { development: "sk_test_dev12345678", production: "sk_live_prod1234567" },
        environment: "development",
      },
    ],
    [
      "both keys alone: no default (each call names one)",
      { DEV_CLERK_SECRET_KEY: "sk_test_dev12345678", PROD_CLERK_SECRET_KEY: "sk_live_prod1234567" },
      { secretKeys: { development: "sk_test_dev12345678", production: "sk_live_prod1234567" } },
    ],
  ])("%s", (_, env, expected) => {
    const options = readThroughFromEnv(env);
    if (expected === undefined) expect(options).toBeUndefined();
    else expect(options).toMatchObject(expected);
    if (expected && !("environment" in expected)) expect(options?.environment).toBeUndefined();
  });
});

describe.each(await backends())("clerk-user-sync/next's ensureUser on $name", (backend) => {
  const withDatabase = (db: TestDatabase) =>
    db.database === undefined ? { DATA_DIR: db.dataDir } : { DATABASE_URL: db.database };

  it("fetches the signed-in user with CLERK_SECRET_KEY's instance, in the route's own instance", async () => {
    const db = await backend.create();
    const fake = await startFakeClerk({ secretKey: "sk_test_appKeyForNext123" });
    try {
      const user = fakeUser(1);
      const org = fakeOrganization(1);
      fake.users.push(user);
      fake.organizations.push(org);
      const env = { ...ENV, ...withDatabase(db), CLERK_SECRET_KEY: fake.secretKey, CLERK_API_URL: fake.url };
      expect(await ensureUser(user.id, { env })).toMatchObject({
        clerkUserId: user.id,
        environment: "development",
      });
      expect(await ensureOrganization(org.id, { env })).toMatchObject({ clerkOrgId: org.id });
      expect(await ensureUser("user_nobody", { env })).toBeNull();
      // The webhook's late user.created lands in the same database, through the same instance: one row.
      const { POST } = clerkUserSyncRoute({ env });
      const { body, headers } = signedDelivery(userEvent("user.created", user));
      const response = await POST(new Request("http://localhost/x", { method: "POST", body, headers }));
      expect(response.status).toBe(200);
      expect(await ensureUser(user.id, { env })).toMatchObject({ clerkUserId: user.id });
      expect(fake.received.map((r) => r.path)).toEqual([
        `/v1/users/${user.id}`,
        `/v1/organizations/${org.id}`,
        "/v1/users/user_nobody",
      ]);
      await closeClerkUserSyncRoutes();
      const handle = await openDatabase(db.database, { dataDir: db.dataDir });
      try {
        expect(await handle.query("select clerk_user_id, environment from users")).toEqual([
          { clerk_user_id: user.id, environment: "development" },
        ]);
      } finally {
        await handle.close();
      }
    } finally {
      await fake.close();
      await db.drop();
    }
  });

  it("throws invalid_config when the environment has no key and the row is missing", async () => {
    const db = await backend.create();
    try {
      const error = await ensureUser("user_1", { env: { ...ENV, ...withDatabase(db) } }).catch((e) => e);
      expect(error).toMatchObject({ code: "invalid_config" });
      expect((error as Error).message).toMatch(/CLERK_SECRET_KEY/);
    } finally {
      await closeClerkUserSyncRoutes();
      await db.drop();
    }
  });
});
