import { storable } from "./clean.js";
import { InvalidPayloadError } from "./errors.js";
import type { Environment, VerifiedDelivery } from "./verify.js";

/** The Clerk event types this package writes; every other type is acknowledged and ignored. */
export const USER_EVENT_TYPES = ["user.created", "user.updated", "user.deleted"] as const;

/** The columns of a `users` row that come from a Clerk User object. */
export interface UserFields {
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  username: string | null;
  imageUrl: string | null;
  /** Unix milliseconds. */
  clerkCreatedAt: number | null;
  /** Unix milliseconds: the version of this state, used to order updates. */
  clerkUpdatedAt: number;
}

interface DeliveryBase {
  environment: Environment;
  svixId: string;
  type: string;
  /** The envelope's `timestamp`, normalised to Unix milliseconds; null when absent. */
  eventTime: number | null;
}

/** A verified, decoded delivery: what the store applies. */
export type Delivery =
  | (DeliveryBase & { kind: "upsert"; clerkUserId: string; user: UserFields; data: Record<string, unknown> })
  | (DeliveryBase & { kind: "delete"; clerkUserId: string })
  | (DeliveryBase & { kind: "ignore"; clerkUserId: null });

/**
 * Turns a verified body into a {@link Delivery}. Throws {@link InvalidPayloadError} for a body that is not a JSON
 * object with a string `type`, or a user event without `data.id`.
 */
export function decode({ environment, svixId, body }: VerifiedDelivery): Delivery {
  let envelope: unknown;
  try {
    envelope = JSON.parse(body);
  } catch {
    throw new InvalidPayloadError("the body is not JSON");
  }
  if (!storableAsIs(body)) envelope = storable(envelope);
  if (!isObject(envelope) || typeof envelope.type !== "string" || envelope.type === "") {
    throw new InvalidPayloadError("the body is not a Clerk event: expected an object with a string `type`");
  }
  const { type, data } = envelope;
  const base = { environment, svixId, type, eventTime: millis(envelope.timestamp) };
  if (!(USER_EVENT_TYPES as readonly string[]).includes(type)) {
    return { ...base, kind: "ignore", clerkUserId: null };
  }
  if (!isObject(data) || typeof data.id !== "string" || data.id === "") {
    throw new InvalidPayloadError(`a ${type} event needs \`data.id\``);
  }
  if (type === "user.deleted") return { ...base, kind: "delete", clerkUserId: data.id };
  const clerkUpdatedAt = millis(data.updated_at) ?? base.eventTime;
  if (clerkUpdatedAt === null) {
    throw new InvalidPayloadError(
      `a ${type} event needs \`data.updated_at\` (or the envelope's \`timestamp\`)`,
    );
  }
  return { ...base, kind: "upsert", clerkUserId: data.id, user: userFields(data, clerkUpdatedAt), data };
}

/**
 * The columns kept from a Clerk User object. The primary email is the entry of `email_addresses` whose `id` is
 * `primary_email_address_id`, never simply the first; null when none matches.
 *
 * @example
 * ```ts
 * userFields({ id: "user_1", email_addresses: [], first_name: null, updated_at: 1 }, 1).email // null
 * ```
 */
export function userFields(data: Record<string, unknown>, clerkUpdatedAt: number): UserFields {
  const addresses = Array.isArray(data.email_addresses) ? data.email_addresses : [];
  const primary = addresses.find(
    (entry): entry is Record<string, unknown> =>
      isObject(entry) && entry.id === data.primary_email_address_id,
  );
  return {
    email: text(primary?.email_address),
    firstName: text(data.first_name),
    lastName: text(data.last_name),
    username: text(data.username),
    imageUrl: text(data.image_url),
    clerkCreatedAt: millis(data.created_at),
    clerkUpdatedAt,
  };
}

/**
 * Clerk's timestamps are Unix milliseconds, but its OpenAPI examples give the envelope's in seconds: a value
 * below 10^11 (year 5138 in seconds, 1973 in milliseconds) is read as seconds.
 */
export function millis(value: unknown): number | null {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return null;
  const ms = Math.trunc(value < 1e11 ? value * 1000 : value);
  // Past JavaScript's Date range (PostgreSQL's timestamptz ends soon after) a value can only be garbage, and
  // stored it would fail on every retry.
  return ms <= MAX_DATE_MS ? ms : null;
}

const MAX_DATE_MS = 8.64e15;

/**
 * Whether JSON text can go to PostgreSQL verbatim. PostgreSQL refuses `\u0000` and an unpaired surrogate escape;
 * this looks for any `\u0000` or surrogate escape, so it is false for some text that would have been fine.
 *
 * @example
 * ```ts
 * storableAsIs('{"a":"\\u0000"}') // false
 * ```
 */
export function storableAsIs(json: string): boolean {
  return !UNSTORABLE_ESCAPE.test(json);
}

const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

export { storable };

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
