import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { type ClerkEvent, deletedEvent, userEvent } from "./fixtures.js";

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
