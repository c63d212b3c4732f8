import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BadRequestError } from "../src/errors.js";
import type { Outcome } from "../src/store/apply.js";
import type { SyncEvent } from "../src/sync.js";
import { backends } from "./support/backends.js";
import {
  type ClerkEvent,
  clerkEvent,
  deletedEvent,
  membershipEvent,
  ORGANIZATION_TYPES,
  organizationEvent,
  userEvent,
} from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { instant } from "./support/histories.js";

const T = 1_700_000_000_000;
const ORG = "org_test";
const USER = "user_member";
const A = { id: "orgmem_a", org: ORG, user: USER };
const B = { id: "orgmem_b", org: ORG, user: USER };

const orgCreated = organizationEvent("organization.created", ORG, { updatedAt: T, name: "One" });
const orgUpdated = organizationEvent("organization.updated", ORG, { updatedAt: T + 1000, name: "Two" });
const orgDeleted = organizationEvent("organization.deleted", ORG, { updatedAt: T + 5000 });
const aCreated = membershipEvent("organizationMembership.created", A, { updatedAt: T, role: "org:member" });
const aUpdated = membershipEvent("organizationMembership.updated", A, {
  updatedAt: T + 1000,
  role: "org:admin",
});
// A deleted membership's updated_at is not bumped: only the envelope says when it went.
const aDeleted = membershipEvent("organizationMembership.deleted", A, { updatedAt: T, timestamp: T + 2000 });
const bCreated = membershipEvent("organizationMembership.created", B, {
  updatedAt: T + 3000,
  role: "org:member",
});
const userDeleted = deletedEvent(USER, T + 4000);
const user = userEvent("user.created", { id: USER, created_at: T, updated_at: T });

type Step = [ClerkEvent, Outcome, string?];

/** [what it shows, the deliveries in arrival order, organizations left, memberships left (id: role)] */
const CASES: [string, Step[], Record<string, string>, Record<string, string | null>][] = [
  [
    "a re-sent organization event is a duplicate",
    [
      [orgCreated, "applied", "m1"],
      [orgCreated, "duplicate", "m1"],
    ],
    { [ORG]: "One" },
    {},
  ],
  [
    "an older organization update is stale",
    [
      [orgUpdated, "applied"],
      [orgCreated, "stale"],
    ],
    { [ORG]: "Two" },
    {},
  ],
  [
    "a late create never resurrects a deleted organization",
    [
      [orgCreated, "applied"],
      [orgDeleted, "applied"],
      [orgUpdated, "stale"],
    ],
    {},
    {},
  ],
  [
    "an organization deleted before it was ever seen stays deleted",
    [
      [orgDeleted, "applied"],
      [orgCreated, "stale"],
    ],
    {},
    {},
  ],
  [
    "a membership arrives before its organization: stored, no organization row made up",
    [[aCreated, "applied"]],
    {},
    { orgmem_a: "org:member" },
  ],
  [
    "an older membership update is stale",
    [
      [aUpdated, "applied"],
      [aCreated, "stale"],
    ],
    {},
    { orgmem_a: "org:admin" },
  ],
  [
    "a membership delete applies though its updated_at is older than the stored one",
    [
      [aUpdated, "applied"],
      [aDeleted, "applied"],
      [aCreated, "stale"],
    ],
    {},
    {},
  ],
  [
    "organization.deleted removes its memberships; later membership events are stale",
    [
      [orgCreated, "applied"],
      [aCreated, "applied"],
      [orgDeleted, "applied"],
      [aUpdated, "stale"],
      [bCreated, "stale"],
    ],
    {},
    {},
  ],
  [
    "user.deleted removes the user's memberships; later membership events are stale",
    [
      [user, "applied"],
      [aCreated, "applied"],
      [userDeleted, "applied"],
      [bCreated, "stale"],
    ],
    {},
    {},
  ],
  [
    "a rejoin survives the late delete of the old membership",
    [
      [aCreated, "applied"],
      [bCreated, "applied"],
      [aDeleted, "applied"],
    ],
    {},
    { orgmem_b: "org:member" },
  ],
  [
    "a membership delete after its organization's delete is stale",
    [
      [aCreated, "applied"],
      [orgDeleted, "applied"],
      [aDeleted, "stale"],
    ],
    {},
    {},
  ],
  [
    "an invitation event is ignored",
    [[{ ...clerkEvent("organization.created.openapi"), type: "organizationInvitation.created" }, "ignored"]],
    {},
    {},
  ],
];

describe.each(await backends())("organizations and memberships on $name", (backend) => {
  let h: Harness;
  const seen: SyncEvent[] = [];
  beforeAll(async () => {
    h = await openHarness(backend, { writer: { concurrency: 1 }, onEvent: (event) => void seen.push(event) });
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    seen.length = 0;
    await h.reset();
  });

  const state = async () => ({
    organizations: Object.fromEntries((await h.rows("organizations")).map((r) => [r.clerk_org_id, r.name])),
    memberships: Object.fromEntries(
      (await h.rows("organization_memberships")).map((r) => [r.clerk_membership_id, r.role]),
    ),
  });

  it.each(CASES)("%s", async (_title, steps, organizations, memberships) => {
    for (const [event, outcome, id] of steps) {
      const res = await h.post(event, id ? { id } : {});
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: outcome, environment: "development", type: event.type });
    }
    expect(await state()).toEqual({ organizations, memberships });
  });

  it.each(CASES)(
    "%s, also when they all commit in one transaction",
    async (_title, steps, organizations, memberships) => {
      const answers = await Promise.all(steps.map(([event, , id]) => h.post(event, id ? { id } : {})));
      expect(answers.map((a) => a.body.status)).toEqual(steps.map(([, outcome]) => outcome));
      expect(await state()).toEqual({ organizations, memberships });
    },
  );

  it.each(["openapi", "catalog"] as const)(
    "applies Clerk's published %s examples, rows and log",
    async (style) => {
      const events = ORGANIZATION_TYPES.map((type) => clerkEvent(`${type}.${style}`));
      const [created, updated, deleted, mCreated, mUpdated, mDeleted] = events as [
        ClerkEvent,
        ClerkEvent,
        ClerkEvent,
        ClerkEvent,
        ClerkEvent,
        ClerkEvent,
      ];
      const org = created.data;
      const membership = mCreated.data as Record<string, Record<string, unknown>>;
      const expectations: [ClerkEvent, () => Promise<void>][] = [
        [
          created,
          async () =>
            expect(await h.rows("organizations")).toEqual([
              {
                id: expect.any(String),
                clerk_org_id: org.id,
                environment: "production",
                name: org.name,
                slug: org.slug,
                image_url: org.image_url ?? org.logo_url ?? null,
                raw_payload: org,
                clerk_created_at: new Date(org.created_at as number),
                clerk_updated_at: new Date(org.updated_at as number),
                created_at: expect.any(Date),
                updated_at: expect.any(Date),
              },
            ]),
        ],
        [
          updated,
          async () =>
            expect(await h.rows("organizations")).toMatchObject([
              { name: updated.data.name, raw_payload: updated.data },
            ]),
        ],
        [
          mCreated,
          async () =>
            expect(await h.rows("organization_memberships")).toEqual([
              {
                id: expect.any(String),
                clerk_membership_id: mCreated.data.id,
                environment: "production",
                clerk_org_id: membership.organization?.id,
                clerk_user_id: membership.public_user_data?.user_id,
                role: mCreated.data.role,
                raw_payload: mCreated.data,
                clerk_created_at: new Date(mCreated.data.created_at as number),
                clerk_updated_at: new Date(mCreated.data.updated_at as number),
                created_at: expect.any(Date),
                updated_at: expect.any(Date),
              },
            ]),
        ],
        [mUpdated, async () => {}],
        [
          mDeleted,
          async () => {
            // The catalog examples delete another membership than they created.
            expect(
              (await h.rows("organization_memberships")).map((r) => r.clerk_membership_id),
            ).not.toContain(mDeleted.data.id);
            expect(await h.rows("organization_membership_tombstones")).toEqual([
              {
                clerk_membership_id: mDeleted.data.id,
                environment: "production",
                deleted_at: instant(mDeleted.timestamp),
              },
            ]);
          },
        ],
        [
          deleted,
          async () => {
            expect(await h.rows("organizations")).toEqual([]);
            expect(await h.rows("organization_memberships")).toEqual([]);
            expect(await h.rows("organization_tombstones")).toEqual([
              { clerk_org_id: org.id, environment: "production", deleted_at: instant(deleted.timestamp) },
            ]);
          },
        ],
      ];
      for (const [event, check] of expectations) {
        const res = await h.post(event, { env: "production" });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ status: "applied", environment: "production", type: event.type });
        await check();
      }
      const log = await h.deliveries();
      expect(log.map((d) => [d.event_type, d.clerk_org_id, d.clerk_membership_id, d.clerk_user_id])).toEqual(
        expectations.map(([event]) => {
          const data = event.data as Record<string, Record<string, unknown>>;
          return event.type.startsWith("organization.")
            ? [event.type, event.data.id, null, null]
            : [event.type, data.organization?.id, event.data.id, data.public_user_data?.user_id];
        }),
      );
      expect(log.every((d) => d.outcome === "applied")).toBe(true);
    },
  );

  it.each([
    ["without public_user_data.user_id", { public_user_data: {} }],
    ["without organization", { organization: null }],
    ["without an id", { id: undefined }],
  ])("refuses a membership event %s with 422 invalid_payload, writing nothing", async (_title, change) => {
    const event = clerkEvent("organizationMembership.created.openapi");
    const res = await h.post({ ...event, data: { ...event.data, ...change } });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ code: "invalid_payload", message: expect.any(String) });
    expect(await h.rows("organization_memberships")).toEqual([]);
    expect(await h.deliveries()).toEqual([]);
  });

  it("onEvent gets the committed row of the organization or membership the event was about", async () => {
    await h.post(orgCreated);
    await h.post(aCreated);
    await h.post(aDeleted);
    expect(seen.map((e) => [e.type, e.clerkOrgId, e.clerkMembershipId, e.clerkUserId])).toEqual([
      ["organization.created", ORG, null, null],
      ["organizationMembership.created", ORG, "orgmem_a", USER],
      ["organizationMembership.deleted", ORG, "orgmem_a", USER],
    ]);
    expect(seen[0]?.organization).toMatchObject({ clerkOrgId: ORG, name: "One", environment: "development" });
    expect(seen[1]?.membership).toMatchObject({ clerkMembershipId: "orgmem_a", role: "org:member" });
    expect(seen[2]?.membership).toBeNull();
    expect(seen.every((e) => e.user === null)).toBe(true);
  });

  it("lists organizations and memberships by keyset pages, narrowed by organization or user", async () => {
    for (let i = 0; i < 5; i++) {
      await h.post(organizationEvent("organization.created", `org_${i}`, { updatedAt: T }));
      await h.post(
        membershipEvent(
          "organizationMembership.created",
          { id: `orgmem_${i}`, org: `org_${i % 2}`, user: `user_${i % 3}` },
          { updatedAt: T },
        ),
      );
    }
    const environment = "development" as const;
    const first = await h.sync.listOrganizations({ environment, limit: 3 });
    const second = await h.sync.listOrganizations({ environment, limit: 3, cursor: first.nextCursor });
    expect([...first.organizations, ...second.organizations].map((o) => o.clerkOrgId)).toEqual([
      "org_0",
      "org_1",
      "org_2",
      "org_3",
      "org_4",
    ]);
    expect(second.nextCursor).toBeNull();
    expect(await h.sync.listOrganizations({ environment: "production" })).toEqual({
      organizations: [],
      nextCursor: null,
    });
    expect(await h.sync.getOrganization({ clerkOrgId: "org_3", environment })).toMatchObject({
      clerkOrgId: "org_3",
    });
    const ids = async (options: { clerkOrgId?: string; clerkUserId?: string }) => {
      const out: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await h.sync.listMemberships({ environment, limit: 1, cursor, ...options });
        out.push(...page.memberships.map((m) => m.clerkMembershipId));
        cursor = page.nextCursor;
      } while (cursor);
      return out;
    };
    expect(await ids({ clerkOrgId: "org_0" })).toEqual(["orgmem_0", "orgmem_2", "orgmem_4"]);
    expect(await ids({ clerkUserId: "user_0" })).toEqual(["orgmem_0", "orgmem_3"]);
    expect(await ids({ clerkOrgId: "org_1", clerkUserId: "user_0" })).toEqual(["orgmem_3"]);
    // A cursor they did not make (or another list's) is the catalogue's bad_request, never a bare error.
    const usersCursor = Buffer.from(JSON.stringify(["development", "user_0"])).toString("base64url");
    for (const cursor of ["nope", usersCursor]) {
      for (const list of [
        () => h.sync.listMemberships({ environment, cursor }),
        () => h.sync.listOrganizations({ environment, cursor }),
      ]) {
        const refused = await list().catch((error: unknown) => error);
        expect(refused, cursor).toBeInstanceOf(BadRequestError);
        expect((refused as BadRequestError).code).toBe("bad_request");
      }
    }
  });
});
