import { randomBytes } from "node:crypto";
import type { Environment } from "../src/verify.js";

/** One delivery as Svix would send it: the same `svixId` and body on every attempt. */
export interface BenchDelivery {
  environment: Environment;
  svixId: string;
  body: string;
}

/** The row a user must end up as. */
export interface ExpectedUser {
  environment: Environment;
  clerkUserId: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  username: string | null;
  imageUrl: string;
  createdAt: number;
  updatedAt: number;
  data: Record<string, unknown>;
}

/** The row an organization or membership must end up as: its latest `data`. */
export interface ExpectedObject {
  environment: Environment;
  id: string;
  data: Record<string, unknown>;
}

/** What to send, and what the tables must hold once it has all been answered, whatever the arrival order. */
export interface Workload {
  /** Live organizations and memberships by `environment:id`. */
  organizations: Map<string, ExpectedObject>;
  memberships: Map<string, ExpectedObject>;
  /** Deleted organizations, as `environment:id`. */
  organizationTombstones: Set<string>;
  /** Memberships deleted on their own (their organization and user live): each must leave a tombstone. */
  membershipTombstones: Set<string>;
  /** Memberships deleted with or after their organization or user: a tombstone is allowed, not required. */
  membershipTombstonesAllowed: Set<string>;
  deliveries: BenchDelivery[];
  /** Live users by `environment:clerkUserId`. */
  users: Map<string, ExpectedUser>;
  /** Deleted users, as `environment:clerkUserId`. */
  tombstones: Set<string>;
  /** How many answers must say `duplicate` (re-sends of a `svix-id`) and `ignored` (non-user events). */
  duplicates: number;
  ignored: number;
}

/** The shape of a workload: shares of each kind of delivery. */
export interface WorkloadOptions {
  deliveries: number;
  users: number;
  /** Seed of the pseudo-random choices: the same seed gives the same histories (ids aside). */
  seed?: number;
  /**
   * Organizations (users / 20 by default; 0 for a users-only workload). Their events and their memberships' (one
   * in two users joins one; some leave, some rejoin) are added to the deliveries, interleaved in their own order.
   */
  organizations?: number;
}

const DELETED_SHARE = 0.05;
const IGNORED_SHARE = 0.01;
const DUPLICATE_SHARE = 0.02;
/** Share of users two of whose consecutive events arrive swapped (update before create, update after delete…). */
const SWAPPED_SHARE = 0.05;

/**
 * Builds Clerk-like histories: every user is created, updated a random number of times, and 1 in 20 deleted; users
 * alternate between the two instances; events of all users interleave as a bulk import would. The delivery order
 * then departs from the true order: some users' consecutive events are swapped, some deliveries are re-sent (at
 * once, so that both copies can share a batch, or a little later), and 1% are non-user events.
 *
 * @example
 * ```ts
 * const { deliveries, users } = workload({ deliveries: 50_000, users: 10_000 });
 * ```
 */
export function workload({
  deliveries: total,
  users: userCount,
  seed = 1,
  organizations: orgCount = Math.floor(userCount / 20),
}: WorkloadOptions): Workload {
  const random = mulberry32(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const deleted = Math.round(userCount * DELETED_SHARE);
  const ignored = Math.round(total * IGNORED_SHARE);
  const duplicates = Math.round(total * DUPLICATE_SHARE);
  const updates = total - userCount - deleted - ignored - duplicates;
  if (userCount < 1 || updates < 0) {
    throw new Error(
      `${total} deliveries are too few for ${userCount} users: give at least ${userCount * 1.1}`,
    );
  }

  // The true order: each user's share of the event slots, shuffled; a user's first slot creates it, its last one
  // deletes it when it is one of the deleted.
  const owners: number[] = [];
  for (let u = 0; u < userCount; u++) owners.push(u);
  for (let i = 0; i < deleted; i++) owners.push(i);
  for (let i = 0; i < updates; i++) owners.push(pick(userCount));
  shuffle(owners, pick);
  const remaining = new Map<number, number>();
  for (const u of owners) remaining.set(u, (remaining.get(u) ?? 0) + 1);

  const run = randomBytes(4).toString("hex");
  const t0 = Date.now() - 86_400_000;
  const users = new Map<string, ExpectedUser>();
  const tombstones = new Set<string>();
  const seen = new Set<number>();
  const byUser = new Map<number, number[]>();
  const stream: BenchDelivery[] = [];
  owners.forEach((u, position) => {
    const environment: Environment = u % 2 === 0 ? "development" : "production";
    const clerkUserId = `user_${run}${String(u).padStart(8, "0")}`;
    const key = `${environment}:${clerkUserId}`;
    const left = (remaining.get(u) ?? 0) - 1;
    remaining.set(u, left);
    const at = t0 + position;
    const svixId = `msg_${run}${String(position).padStart(10, "0")}`;
    let type: string;
    let data: Record<string, unknown>;
    if (left === 0 && u < deleted && seen.has(u)) {
      type = "user.deleted";
      data = { deleted: true, id: clerkUserId, object: "user" };
      users.delete(key);
      tombstones.add(key);
    } else {
      type = seen.has(u) ? "user.updated" : "user.created";
      const expected = clerkUser(u, clerkUserId, environment, position, t0, at);
      data = expected.data;
      users.set(key, expected);
    }
    seen.add(u);
    const positions = byUser.get(u);
    if (positions) positions.push(stream.length);
    else byUser.set(u, [stream.length]);
    stream.push({ environment, svixId, body: envelope(type, data, environment, at) });
  });

  for (const [, positions] of byUser) {
    if (positions.length < 2 || random() >= SWAPPED_SHARE) continue;
    const k = pick(positions.length - 1);
    const [a, b] = [positions[k] as number, positions[k + 1] as number];
    [stream[a], stream[b]] = [stream[b] as BenchDelivery, stream[a] as BenchDelivery];
  }

  const orgs = organizationStreams({
    orgCount,
    userCount,
    run,
    t0: t0 + owners.length + 1,
    random,
    tombstones,
  });
  // Interleaved at random, each stream in its own order.
  if (orgs.stream.length > 0) {
    const merged: BenchDelivery[] = [];
    let a = 0;
    let b = 0;
    while (a < stream.length || b < orgs.stream.length) {
      const takeOrg =
        b < orgs.stream.length &&
        (a >= stream.length || random() < orgs.stream.length / (stream.length + orgs.stream.length));
      merged.push((takeOrg ? orgs.stream[b++] : stream[a++]) as BenchDelivery);
    }
    stream.splice(0, stream.length, ...merged);
  }

  const extras = new Map<number, BenchDelivery[]>();
  const addAfter = (position: number, delivery: BenchDelivery) => {
    const after = extras.get(position);
    if (after) after.push(delivery);
    else extras.set(position, [delivery]);
  };
  for (let i = 0; i < duplicates; i++) {
    const from = pick(stream.length);
    const original = stream[from] as BenchDelivery;
    addAfter(Math.min(stream.length - 1, from + (random() < 0.5 ? 0 : pick(200))), original);
  }
  for (let i = 0; i < ignored; i++) {
    const environment: Environment = i % 2 === 0 ? "development" : "production";
    const at = t0 + pick(owners.length);
    const data = { id: `sess_${run}${i}`, object: "session", status: "active", user_id: `user_${run}${i}` };
    const svixId = `msg_${run}s${String(i).padStart(9, "0")}`;
    addAfter(pick(stream.length), {
      environment,
      svixId,
      body: envelope("session.created", data, environment, at),
    });
  }
  const deliveries = stream.flatMap((d, i) => [d, ...(extras.get(i) ?? [])]);
  const { stream: _, ...expectedOrgs } = orgs;
  return { deliveries, users, tombstones, duplicates, ignored, ...expectedOrgs };
}

const DELETED_ORG_SHARE = 0.05;
const LEFT_SHARE = 0.1;

/**
 * Organizations (created, updated 0–2 times, 1 in 20 deleted) and memberships (one in two users joins an
 * organization of its instance; its role changes or not; 1 in 10 leaves, and half of those rejoin with a new
 * membership id), as one stream in Clerk's order, with the state it must leave.
 */
function organizationStreams({
  orgCount,
  userCount,
  run,
  t0,
  random,
  tombstones,
}: {
  orgCount: number;
  userCount: number;
  run: string;
  t0: number;
  random: () => number;
  tombstones: Set<string>;
}) {
  const organizations = new Map<string, ExpectedObject>();
  const memberships = new Map<string, ExpectedObject>();
  const organizationTombstones = new Set<string>();
  const membershipTombstones = new Set<string>();
  const membershipTombstonesAllowed = new Set<string>();
  const stream: BenchDelivery[] = [];
  let clock = t0;
  const send = (environment: Environment, type: string, data: object, at = clock) =>
    stream.push({
      environment,
      svixId: `msg_${run}o${String(stream.length).padStart(9, "0")}`,
      body: envelope(type, data, environment, at),
    });
  const orgOf = (i: number) => ({
    environment: (i % 2 === 0 ? "development" : "production") as Environment,
    id: `org_${run}${String(i).padStart(8, "0")}`,
  });
  for (let i = 0; i < orgCount; i++) {
    const { environment, id } = orgOf(i);
    const created = ++clock;
    const versions = 1 + Math.floor(random() * 3);
    let data: Record<string, unknown> = {};
    for (let v = 0; v < versions; v++) {
      data = {
        object: "organization",
        id,
        name: `Org ${i} v${v}`,
        slug: i % 3 === 0 ? null : `org-${i}`,
        image_url: `https://img.clerk.com/org${i}`,
        has_image: false,
        max_allowed_memberships: 0,
        admin_delete_enabled: true,
        public_metadata: { v },
        private_metadata: {},
        created_by: null,
        created_at: created,
        updated_at: v === 0 ? created : ++clock,
      };
      send(environment, v === 0 ? "organization.created" : "organization.updated", data);
    }
    const key = `${environment}:${id}`;
    if (i < orgCount * DELETED_ORG_SHARE) {
      send(environment, "organization.deleted", { object: "organization", id, deleted: true }, ++clock);
      organizationTombstones.add(key);
    } else organizations.set(key, { environment, id, data });
  }
  if (orgCount === 0)
    return {
      stream,
      organizations,
      memberships,
      organizationTombstones,
      membershipTombstones,
      membershipTombstonesAllowed,
    };

  for (let u = 0; u < userCount; u += 2) {
    // An organization of the user's instance (both alternate by parity), when there is one.
    const pickOrg = Math.floor(random() * Math.ceil(orgCount / 2)) * 2 + (u % 2);
    const org = orgOf(pickOrg < orgCount ? pickOrg : 0);
    const userId = `user_${run}${String(u).padStart(8, "0")}`;
    const environment = org.environment;
    const parentGone =
      organizationTombstones.has(`${environment}:${org.id}`) || tombstones.has(`${environment}:${userId}`);
    const leaves = random() < LEFT_SHARE;
    const rejoins = leaves && random() < 0.5;
    for (let k = 0; k < (rejoins ? 2 : 1); k++) {
      const id = `orgmem_${run}${String(u).padStart(8, "0")}${k}`;
      const created = ++clock;
      const data = (role: string, updated: number) => ({
        object: "organization_membership",
        id,
        role,
        role_name: role === "org:admin" ? "Admin" : "Member",
        permissions: [],
        public_metadata: {},
        private_metadata: {},
        organization: { object: "organization", id: org.id, name: "nested", created_at: 0, updated_at: 0 },
        public_user_data: {
          user_id: userId,
          first_name: null,
          last_name: null,
          identifier: "x",
          has_image: false,
        },
        created_at: created,
        updated_at: updated,
      });
      let last = data("org:member", created);
      send(environment, "organizationMembership.created", last);
      if (random() < 0.5) {
        last = data("org:admin", ++clock);
        send(environment, "organizationMembership.updated", last);
      }
      const key = `${environment}:${id}`;
      if (leaves && k === 0) {
        // A deleted membership's updated_at is not bumped: only the envelope says when it went.
        send(environment, "organizationMembership.deleted", data(last.role, created), ++clock);
        membershipTombstonesAllowed.add(key);
        if (!parentGone) membershipTombstones.add(key);
      } else if (!parentGone) memberships.set(key, { environment, id, data: last });
    }
  }
  return {
    stream,
    organizations,
    memberships,
    organizationTombstones,
    membershipTombstones,
    membershipTombstonesAllowed,
  };
}

/** A Clerk User object of realistic size (about 1.5 kB of JSON), changing with each version. */
function clerkUser(
  u: number,
  id: string,
  environment: Environment,
  version: number,
  t0: number,
  at: number,
): ExpectedUser {
  const emailId = `idn_${id.slice(5)}`;
  const email = `person${u}.v${version % 3}@example.org`;
  const username = version % 4 === 0 ? null : `person${u}_${version}`;
  const imageUrl = `https://img.clerk.com/eyJ0eXBlIjoicHJveHkiLCJzcmMiOiJodHRwczovL2ltYWdlcy5jbGVyay5kZXYv${u}`;
  const data = {
    backup_code_enabled: false,
    banned: false,
    create_organization_enabled: true,
    created_at: t0,
    delete_self_enabled: true,
    email_addresses: [
      {
        created_at: t0,
        email_address: `old${u}@example.org`,
        id: `${emailId}x`,
        linked_to: [],
        object: "email_address",
        reserved: false,
        updated_at: t0,
        verification: null,
      },
      {
        created_at: t0,
        email_address: email,
        id: emailId,
        linked_to: [],
        object: "email_address",
        reserved: false,
        updated_at: at,
        verification: { attempts: null, expire_at: null, status: "verified", strategy: "email_code" },
      },
    ],
    external_accounts: [],
    external_id: null,
    first_name: `First${u}`,
    has_image: true,
    id,
    image_url: imageUrl,
    last_active_at: at,
    last_name: `Last${u}v${version}`,
    last_sign_in_at: at,
    locked: false,
    lockout_expires_in_seconds: null,
    object: "user",
    passkeys: [],
    password_enabled: true,
    phone_numbers: [],
    primary_email_address_id: emailId,
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    private_metadata: {},
    profile_image_url: "https://www.gravatar.com/avatar?d=mp",
    public_metadata: { plan: version % 2 === 0 ? "free" : "pro", version },
    saml_accounts: [],
    totp_enabled: false,
    two_factor_enabled: false,
    unsafe_metadata: {},
    updated_at: at,
    username,
    verification_attempts_remaining: 100,
    web3_wallets: [],
  };
  return {
    environment,
    clerkUserId: id,
    email,
    firstName: `First${u}`,
    lastName: `Last${u}v${version}`,
    username,
    imageUrl,
    createdAt: t0,
    updatedAt: at,
    data,
  };
}

function envelope(type: string, data: object, environment: Environment, at: number): string {
  return JSON.stringify({
    data,
    event_attributes: {
      http_request: { client_ip: "192.0.2.1", user_agent: "Mozilla/5.0 (X11; Linux x86_64)" },
    },
    instance_id: `ins_${environment}`,
    object: "event",
    timestamp: at,
    type,
  });
}

function shuffle<T>(items: T[], pick: (n: number) => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = pick(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

/** A small seeded PRNG: the same workload for the same seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
