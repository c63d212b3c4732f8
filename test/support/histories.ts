import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { type ClerkEvent, clerkEvent, deletedEvent, userEvent } from "./fixtures.js";

export type Env = "development" | "production";

/** One delivery as Svix makes it: an event, the instance that signs it, and a `svix-id` kept on every re-send. */
export interface Delivery {
  event: ClerkEvent;
  env: Env;
  id: string;
}

/** Everything Clerk sent about one user, in the order Clerk produced it. */
export interface History {
  clerkUserId: string;
  env: Env;
  deliveries: Delivery[];
}

/** The `users` columns that come from Clerk (not `id`, `created_at`, `updated_at`), as both backends return them. */
export interface ExpectedUser {
  clerk_user_id: string;
  environment: Env;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  username: string | null;
  image_url: string | null;
  raw_payload: Record<string, unknown>;
  clerk_created_at: Date;
  clerk_updated_at: Date;
}

export interface ExpectedTombstone {
  clerk_user_id: string;
  environment: Env;
  deleted_at: Date;
}

const name = fc.option(fc.string({ unit: "grapheme", maxLength: 12 }), { nil: null });

const emails = fc
  .uniqueArray(fc.emailAddress(), { maxLength: 2 })
  .map((list) =>
    list.map((address, i) => ({ id: `idn_${i}`, email_address: address, object: "email_address" })),
  );

/** The User fields one event of the history sets; the rest comes from Clerk's published example. */
const state = fc.record({
  first_name: name,
  last_name: name,
  username: name,
  image_url: fc.constantFrom("https://img.clerk.com/a", "https://img.clerk.com/b"),
  email_addresses: emails,
  // The primary is picked by id: the first, the second, none, or an id that matches no address.
  primary: fc.constantFrom(0, 1, null, "missing"),
  public_metadata: fc.dictionary(
    fc.string({ maxLength: 6 }).map((k) => `k_${k}`),
    fc.oneof(fc.string({ unit: "grapheme", maxLength: 8 }), fc.integer(), fc.boolean()),
    { maxKeys: 3 },
  ),
  // Clerk documents milliseconds; its OpenAPI examples use seconds. Both must land as the same instant.
  envelopeInSeconds: fc.boolean(),
});

/** One user's history: a create, 0–4 updates with strictly increasing `updated_at`, maybe a delete last. */
function history(clerkUserId: string, env: Env): fc.Arbitrary<History> {
  return fc
    .record({
      createdAt: fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }),
      states: fc.array(state, { minLength: 1, maxLength: 5 }),
      steps: fc.array(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 5, maxLength: 5 }),
      deleted: fc.boolean(),
      deleteInSeconds: fc.boolean(),
    })
    .map(({ createdAt, states, steps, deleted, deleteInSeconds }) => {
      let updatedAt = createdAt;
      const deliveries: Delivery[] = states.map((s, i) => {
        if (i > 0) updatedAt += steps[i - 1] ?? 1;
        const { primary, envelopeInSeconds, ...fields } = s;
        const primaryId =
          typeof primary === "number" ? (fields.email_addresses[primary]?.id ?? null) : primary;
        const data = {
          ...fields,
          id: clerkUserId,
          primary_email_address_id: primaryId === "missing" ? "idn_missing" : primaryId,
          created_at: createdAt,
          updated_at: updatedAt,
        };
        const timestamp = envelopeInSeconds ? Math.floor(updatedAt / 1000) : updatedAt;
        return {
          event: userEvent(i === 0 ? "user.created" : "user.updated", data, { timestamp }),
          env,
          id: newSvixId(),
        };
      });
      if (deleted) {
        const at = updatedAt + (steps[4] ?? 1);
        const event = deletedEvent(clerkUserId, deleteInSeconds ? Math.floor(at / 1000) : at);
        deliveries.push({ event, env, id: newSvixId() });
      }
      return { clerkUserId, env, deliveries };
    });
}

/**
 * Histories of `min`–`max` distinct users, each in development or production; the same Clerk id may appear in
 * both instances (they are different rows).
 */
export function histories(min: number, max: number): fc.Arbitrary<History[]> {
  const key = fc.record({
    n: fc.integer({ min: 0, max: Math.max(max, 3) }),
    env: fc.constantFrom<Env>("development", "production"),
  });
  return fc
    .uniqueArray(key, { minLength: min, maxLength: max, selector: (k) => `${k.env}:${k.n}` })
    .chain((keys) => fc.tuple(...keys.map((k) => history(`user_prop${k.n}`, k.env))));
}

/**
 * A delivery schedule: every delivery once, at least `minResends` of them again (the same message, as Svix
 * retries it), in any order.
 */
export function schedule(all: readonly Delivery[], minResends = 0): fc.Arbitrary<Delivery[]> {
  const indexes = all.map((_, i) => i);
  return fc
    .record({
      order: fc.shuffledSubarray(indexes, { minLength: all.length, maxLength: all.length }),
      resends: fc.array(fc.record({ which: fc.nat(all.length - 1), at: fc.nat() }), {
        minLength: minResends,
        maxLength: Math.max(minResends, all.length),
      }),
    })
    .map(({ order, resends }) => {
      const sends = order.map((i) => all[i] as Delivery);
      for (const { which, at } of resends) sends.splice(at % (sends.length + 1), 0, all[which] as Delivery);
      return sends;
    });
}

/** What the tables hold after applying each history in order: Clerk's latest state, or a tombstone. */
export function expectedState(list: readonly History[]): {
  users: ExpectedUser[];
  tombstones: ExpectedTombstone[];
} {
  const users: ExpectedUser[] = [];
  const tombstones: ExpectedTombstone[] = [];
  for (const h of list) {
    const last = h.deliveries.at(-1)?.event as ClerkEvent;
    if (last.type === "user.deleted") {
      tombstones.push({
        clerk_user_id: h.clerkUserId,
        environment: h.env,
        deleted_at: instant(last.timestamp),
      });
      continue;
    }
    users.push(expectedUser(last, h.env));
  }
  const order = (a: { environment: string; clerk_user_id: string }, b: typeof a) =>
    a.environment.localeCompare(b.environment) || (a.clerk_user_id < b.clerk_user_id ? -1 : 1);
  return { users: users.sort(order), tombstones: tombstones.sort(order) };
}

/** The row a user event leaves in `users` when it applies. */
export function expectedUser(event: ClerkEvent, env: Env): ExpectedUser {
  const d = event.data;
  const addresses = (d.email_addresses ?? []) as { id: string; email_address: string }[];
  return {
    clerk_user_id: d.id as string,
    environment: env,
    email: addresses.find((a) => a.id === d.primary_email_address_id)?.email_address ?? null,
    first_name: (d.first_name ?? null) as string | null,
    last_name: (d.last_name ?? null) as string | null,
    username: (d.username ?? null) as string | null,
    image_url: (d.image_url ?? null) as string | null,
    raw_payload: d,
    clerk_created_at: new Date(d.created_at as number),
    clerk_updated_at: new Date(d.updated_at as number),
  };
}

/** The query that reads `users` in the shape of {@link ExpectedUser} (ordered like {@link expectedState}). */
export const USERS_AS_EXPECTED = `select clerk_user_id, environment, email, first_name, last_name, username, image_url,
  raw_payload, clerk_created_at, clerk_updated_at from users order by environment, clerk_user_id collate "C"`;

/** The query that reads `user_tombstones` in the shape of {@link ExpectedTombstone}. */
export const TOMBSTONES_AS_EXPECTED = `select clerk_user_id, environment, deleted_at from user_tombstones
  order by environment, clerk_user_id collate "C"`;

/** An envelope `timestamp` (seconds or milliseconds) as the instant it names. */
export function instant(timestamp: unknown): Date {
  const n = timestamp as number;
  return new Date(n < 1e11 ? n * 1000 : n);
}

function newSvixId(): string {
  return `msg_${randomUUID().replaceAll("-", "")}`;
}

/** Everything Clerk sent about one organization, or one membership, in Clerk's order. */
export interface ObjectHistory {
  id: string;
  env: Env;
  /** A membership's organization and user. */
  org?: string;
  user?: string;
  deliveries: Delivery[];
}

/** Users, organizations and memberships of them: what one property run sends. */
export interface World {
  users: History[];
  organizations: ObjectHistory[];
  memberships: ObjectHistory[];
}

const orgBase = clerkEvent("organization.created.openapi");
const membershipBase = clerkEvent("organizationMembership.created.openapi");

/** One organization's history: a create, 0–2 updates, maybe a delete (a DeletedObject, ordered by the envelope). */
function organizationHistory(id: string, env: Env): fc.Arbitrary<ObjectHistory> {
  return fc
    .record({
      createdAt: fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }),
      names: fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 3 }),
      slugs: fc.array(fc.option(fc.constantFrom("acme", "acme"), { nil: null }), {
        minLength: 3,
        maxLength: 3,
      }),
      steps: fc.array(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 3, maxLength: 3 }),
      deleted: fc.boolean(),
      inSeconds: fc.boolean(),
    })
    .map(({ createdAt, names, slugs, steps, deleted, inSeconds }) => {
      let updatedAt = createdAt;
      const stamp = (ms: number) => (inSeconds ? Math.floor(ms / 1000) : ms);
      const deliveries: Delivery[] = names.map((name, i) => {
        if (i > 0) updatedAt += steps[i - 1] ?? 1;
        const data = {
          ...orgBase.data,
          id,
          name,
          slug: slugs[i] ?? null,
          created_at: createdAt,
          updated_at: updatedAt,
        };
        const type = i === 0 ? "organization.created" : "organization.updated";
        return { event: { ...orgBase, type, timestamp: stamp(updatedAt), data }, env, id: newSvixId() };
      });
      if (deleted) {
        const at = updatedAt + (steps[2] ?? 1);
        const event = {
          ...orgBase,
          type: "organization.deleted",
          timestamp: stamp(at),
          data: { object: "organization", id, deleted: true },
        };
        deliveries.push({ event, env, id: newSvixId() });
      }
      return { id, env, deliveries };
    });
}

/**
 * One membership's history: a create, 0–2 role changes, maybe a delete whose `updated_at` is not bumped (as in
 * Clerk's examples: only the envelope says when it went). `ends` forces a delete (a rejoin follows).
 */
function membershipHistory(
  id: string,
  env: Env,
  org: string,
  user: string,
  ends: boolean,
  after: number,
): fc.Arbitrary<ObjectHistory & { end: number }> {
  return fc
    .record({
      createdAt: fc.integer({ min: after + 1, max: after + 100_000_000 }),
      roles: fc.array(fc.constantFrom("org:member", "org:admin", "admin", "basic_member"), {
        minLength: 1,
        maxLength: 3,
      }),
      steps: fc.array(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 3, maxLength: 3 }),
      deleted: fc.boolean(),
    })
    .map(({ createdAt, roles, steps, deleted }) => {
      let updatedAt = createdAt;
      const nested = { organization: { ...(membershipBase.data.organization as object), id: org } };
      const member = {
        public_user_data: { ...(membershipBase.data.public_user_data as object), user_id: user },
      };
      const dataAt = (role: string, at: number) => ({
        ...membershipBase.data,
        ...nested,
        ...member,
        id,
        role,
        created_at: createdAt,
        updated_at: at,
      });
      const deliveries: Delivery[] = roles.map((role, i) => {
        if (i > 0) updatedAt += steps[i - 1] ?? 1;
        const type = i === 0 ? "organizationMembership.created" : "organizationMembership.updated";
        return {
          event: { ...membershipBase, type, timestamp: updatedAt, data: dataAt(role, updatedAt) },
          env,
          id: newSvixId(),
        };
      });
      let end = updatedAt;
      if (deleted || ends) {
        end = updatedAt + (steps[2] ?? 1);
        const data = dataAt(roles.at(-1) ?? "org:member", createdAt);
        const event = { ...membershipBase, type: "organizationMembership.deleted", timestamp: end, data };
        deliveries.push({ event, env, id: newSvixId() });
      }
      return { id, env, org, user, deliveries, end };
    });
}

/**
 * Users (as {@link histories}), 1–2 organizations, and memberships of 1–4 (organization, user) pairs, some of a
 * user without a history or of an organization never described, some left and rejoined (a new membership id,
 * created after the old one's delete).
 */
export function worlds(): fc.Arbitrary<World> {
  return fc
    .record({
      users: histories(1, 3),
      orgs: fc.uniqueArray(
        fc.record({
          n: fc.integer({ min: 0, max: 2 }),
          env: fc.constantFrom<Env>("development", "production"),
        }),
        {
          minLength: 1,
          maxLength: 2,
          selector: (k) => `${k.env}:${k.n}`,
        },
      ),
      pairs: fc.uniqueArray(
        fc.record({
          org: fc.integer({ min: 0, max: 2 }),
          user: fc.integer({ min: 0, max: 3 }),
          rejoin: fc.boolean(),
        }),
        {
          minLength: 1,
          maxLength: 4,
          selector: (p) => `${p.org}:${p.user}`,
        },
      ),
    })
    .chain(({ users, orgs, pairs }) => {
      const organizations = fc.tuple(...orgs.map((k) => organizationHistory(`org_prop${k.n}`, k.env)));
      const memberships = fc.tuple(
        ...pairs.map((p, i) => {
          // The pair's organization: one of those described, or (index 2) one never described, in its instance.
          const described = orgs[p.org];
          const env = described?.env ?? orgs[0]?.env ?? "development";
          const org = described ? `org_prop${described.n}` : "org_ghost";
          const user = `user_prop${p.user}`;
          const first = membershipHistory(`orgmem_${i}_a`, env, org, user, p.rejoin, 1_600_000_000_000);
          return p.rejoin
            ? first.chain((a) =>
                membershipHistory(`orgmem_${i}_b`, env, org, user, false, a.end).map((b) => [a, b]),
              )
            : first.map((a) => [a]);
        }),
      );
      return fc.record({
        users: fc.constant(users),
        organizations,
        memberships: memberships.map((m) => m.flat()),
      });
    });
}

/** What the organization tables hold after applying each history in Clerk's order. */
export function expectedOrganizations(world: World) {
  const deletedOrgs = new Set<string>();
  const organizations: Record<string, unknown>[] = [];
  const tombstones: Record<string, unknown>[] = [];
  for (const h of world.organizations) {
    const last = h.deliveries.at(-1)?.event as ClerkEvent;
    if (last.type === "organization.deleted") {
      deletedOrgs.add(`${h.env}:${h.id}`);
      tombstones.push({ clerk_org_id: h.id, environment: h.env, deleted_at: instant(last.timestamp) });
      continue;
    }
    const d = last.data;
    organizations.push({
      clerk_org_id: h.id,
      environment: h.env,
      name: d.name,
      slug: d.slug,
      image_url: d.image_url,
      raw_payload: d,
      clerk_created_at: new Date(d.created_at as number),
      clerk_updated_at: new Date(d.updated_at as number),
    });
  }
  const deletedUsers = new Set(
    world.users
      .filter((h) => h.deliveries.at(-1)?.event.type === "user.deleted")
      .map((h) => `${h.env}:${h.clerkUserId}`),
  );
  const memberships: Record<string, unknown>[] = [];
  /** Deleted explicitly: each may have a tombstone (not when its organization's or user's delete came first). */
  const mayBeTombstoned = new Set<string>();
  /** Deleted explicitly, of an organization and a user never deleted: each must have a tombstone. */
  const mustBeTombstoned = new Set<string>();
  for (const h of world.memberships) {
    const last = h.deliveries.at(-1)?.event as ClerkEvent;
    const parentGone = deletedOrgs.has(`${h.env}:${h.org}`) || deletedUsers.has(`${h.env}:${h.user}`);
    if (last.type === "organizationMembership.deleted") {
      mayBeTombstoned.add(`${h.env}:${h.id}`);
      if (!parentGone) mustBeTombstoned.add(`${h.env}:${h.id}`);
      continue;
    }
    if (parentGone) continue;
    const d = last.data;
    memberships.push({
      clerk_membership_id: h.id,
      environment: h.env,
      clerk_org_id: h.org,
      clerk_user_id: h.user,
      role: d.role,
      raw_payload: d,
      clerk_created_at: new Date(d.created_at as number),
      clerk_updated_at: new Date(d.updated_at as number),
    });
  }
  const order = (a: Record<string, unknown>, b: Record<string, unknown>, key: string) =>
    String(a.environment).localeCompare(String(b.environment)) || (String(a[key]) < String(b[key]) ? -1 : 1);
  return {
    organizations: organizations.sort((a, b) => order(a, b, "clerk_org_id")),
    tombstones: tombstones.sort((a, b) => order(a, b, "clerk_org_id")),
    memberships: memberships.sort((a, b) => order(a, b, "clerk_membership_id")),
    mayBeTombstoned,
    mustBeTombstoned,
  };
}

export const ORGANIZATIONS_AS_EXPECTED = `select clerk_org_id, environment, name, slug, image_url, raw_payload,
  clerk_created_at, clerk_updated_at from organizations order by environment, clerk_org_id collate "C"`;
export const ORGANIZATION_TOMBSTONES_AS_EXPECTED = `select clerk_org_id, environment, deleted_at
  from organization_tombstones order by environment, clerk_org_id collate "C"`;
export const MEMBERSHIPS_AS_EXPECTED = `select clerk_membership_id, environment, clerk_org_id, clerk_user_id, role,
  raw_payload, clerk_created_at, clerk_updated_at from organization_memberships
  order by environment, clerk_membership_id collate "C"`;
