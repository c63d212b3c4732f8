import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { clerkUserSyncRoute, closeClerkUserSyncRoutes, getCurrentPlan } from "../src/adapters/next.js";
import { backends } from "./support/backends.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

/** clerk-user-sync/next's getCurrentPlan: the route's instance answers from the rows its deliveries wrote. */
const ENV = { DEV_CLERK_WEBHOOK_SECRET: SECRETS.development, PROD_CLERK_WEBHOOK_SECRET: SECRETS.production };

afterEach(() => closeClerkUserSyncRoutes());

describe.each(await backends())("clerk-user-sync/next's getCurrentPlan on $name", (backend) => {
  it("answers the plan a signed subscription.created put in force, and null for a stranger", async () => {
    const db = await backend.create();
    try {
      const env = {
        ...ENV,
        ...(db.database === undefined ? { DATA_DIR: db.dataDir } : { DATABASE_URL: db.database }),
      };
      const event = JSON.parse(
        readFileSync(new URL("fixtures/clerk/subscription.created.openapi.json", import.meta.url), "utf8"),
      );
      const { body, headers } = signedDelivery(event, { secret: SECRETS.production });
      const { POST } = clerkUserSyncRoute({ env });
      const response = await POST(
        new Request("http://localhost/api/user/webhook/clerk", { method: "POST", body, headers }),
      );
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        status: "applied",
        environment: "production",
        type: "subscription.created",
      });
      expect(await getCurrentPlan({ userId: "user_34D368EufHwugfYh4yyGNEheM0S" }, { env })).toMatchObject({
        environment: "production",
        planSlug: "pro-plan",
        status: "active",
        clerkItemId: "csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      });
      expect(
        await getCurrentPlan(
          { userId: "user_34D368EufHwugfYh4yyGNEheM0S" },
          { env, environment: "development" },
        ),
      ).toBeNull();
      expect(await getCurrentPlan({ organizationId: "org_none" }, { env })).toBeNull();
    } finally {
      await closeClerkUserSyncRoutes();
      await db.drop();
    }
  });
});
