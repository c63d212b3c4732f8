import { isUtf8 } from "node:buffer";
import { storable } from "./clean.js";
import { type BillingObjects, billingObjects, isBillingType, payerOf } from "./decode-billing.js";
import { InvalidPayloadError } from "./errors.js";
import { isObject, text } from "./fields.js";
import { millis } from "./time.js";
import type { Environment, VerifiedDelivery } from "./verify.js";

/** The Clerk user event types this package writes. */
export const USER_EVENT_TYPES = ["user.created", "user.updated", "user.deleted"] as const;

/** The Clerk organization event types this package writes. */
export const ORGANIZATION_EVENT_TYPES = [
  "organization.created",
  "organization.updated",
  "organization.deleted",
] as const;

/** The Clerk membership event types this package writes. */
export const MEMBERSHIP_EVENT_TYPES = [
  "organizationMembership.created",
  "organizationMembership.updated",
  "organizationMembership.deleted",
] as const;

/**
 * The Clerk Billing event types Clerk documents, with the `past_due` spellings of its launch. Any other
 * `subscription.*`, `subscriptionItem.*` or `paymentAttempt.*` type is stored too, by its object's `status`.
 */
export const BILLING_EVENT_TYPES = [
  "subscription.created",
  "subscription.updated",
  "subscription.active",
  "subscription.pastDue",
  "subscription.past_due",
  "subscriptionItem.created",
  "subscriptionItem.updated",
  "subscriptionItem.active",
  "subscriptionItem.canceled",
  "subscriptionItem.upcoming",
  "subscriptionItem.ended",
  "subscriptionItem.abandoned",
  "subscriptionItem.incomplete",
  "subscriptionItem.pastDue",
  "subscriptionItem.past_due",
  "subscriptionItem.freeTrialEnding",
  "paymentAttempt.created",
  "paymentAttempt.updated",
] as const;

/** Every event type this package writes; every other type is acknowledged and ignored. */
export const EVENT_TYPES: readonly string[] = [
  ...USER_EVENT_TYPES,
  ...ORGANIZATION_EVENT_TYPES,
  ...MEMBERSHIP_EVENT_TYPES,
  ...BILLING_EVENT_TYPES,
];

/** What a delivery is about: the table it writes, or null for an ignored type. */
export type Resource = "user" | "organization" | "membership";

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

/** The columns of an `organizations` row that come from a Clerk Organization object. */
export interface OrganizationFields {
  name: string | null;
  slug: string | null;
  /** `image_url`, or the deprecated `logo_url` of older payloads. */
  imageUrl: string | null;
  /** Unix milliseconds. */
  clerkCreatedAt: number | null;
  /** Unix milliseconds: the version of this state. */
  clerkUpdatedAt: number;
}

/** The columns of an `organization_memberships` row that come from a Clerk OrganizationMembership object. */
export interface MembershipFields {
  role: string | null;
  /** Unix milliseconds. */
  clerkCreatedAt: number | null;
  /** Unix milliseconds: the version of this state. */
  clerkUpdatedAt: number;
}

interface DeliveryBase {
  environment: Environment;
  svixId: string;
  type: string;
  /** The envelope's `timestamp`, normalised to Unix milliseconds; null when absent. */
  eventTime: number | null;
}

/** The ids a membership event names: the membership, its organization and its user. */
interface MembershipIds {
  clerkMembershipId: string;
  clerkOrgId: string;
  clerkUserId: string;
}

/**
 * A verified, decoded delivery: what the store applies. `resource` says which table it writes (absent for user
 * events, for compatibility: a user delivery is one without `resource`, or with `resource: "user"`).
 */
export type Delivery =
  | (DeliveryBase & {
      resource?: "user";
      kind: "upsert";
      clerkUserId: string;
      user: UserFields;
      data: Record<string, unknown>;
    })
  | (DeliveryBase & { resource?: "user"; kind: "delete"; clerkUserId: string })
  | (DeliveryBase & {
      resource: "organization";
      kind: "upsert";
      clerkOrgId: string;
      clerkUserId: null;
      organization: OrganizationFields;
      data: Record<string, unknown>;
    })
  | (DeliveryBase & { resource: "organization"; kind: "delete"; clerkOrgId: string; clerkUserId: null })
  | (DeliveryBase &
      MembershipIds & {
        resource: "membership";
        kind: "upsert";
        membership: MembershipFields;
        data: Record<string, unknown>;
      })
  | (DeliveryBase & MembershipIds & { resource: "membership"; kind: "delete" })
  | (DeliveryBase & {
      resource: "billing";
      kind: "upsert";
      /** The payer's user or organization, when the event names it. */
      clerkUserId: string | null;
      clerkOrgId: string | null;
      billing: BillingObjects;
      data: Record<string, unknown>;
    })
  | (DeliveryBase & { resource?: undefined; kind: "ignore"; clerkUserId: null });

/** What a delivery writes: a resource's table, or the Billing tables (`billing`). */
export type WriteTarget = Resource | "billing";

/** What a delivery writes; null for an ignored one. */
export function resourceOf(delivery: Delivery): WriteTarget | null {
  return delivery.kind === "ignore" ? null : (delivery.resource ?? "user");
}

/**
 * A verified body as text. JSON between systems is UTF-8 (RFC 8259, section 8.1), and bytes that are not UTF-8
 * would be decoded with U+FFFD in their place: the ids stored would then not be the ones signed. So such a body,
 * or a string that has no UTF-8 encoding (an unpaired surrogate), is refused with {@link InvalidPayloadError}.
 *
 * @example
 * ```ts
 * bodyText(Buffer.from([0x7b, 0xff, 0x7d])) // throws InvalidPayloadError("the body is not UTF-8 …")
 * ```
 */
export function bodyText(body: string | Uint8Array): string {
  if (typeof body === "string") {
    if (LONE_SURROGATE.test(body)) throw notUtf8();
    return body;
  }
  if (!isUtf8(body)) throw notUtf8();
  // Decoded in place: `Buffer.from(buffer)` would copy the bytes first.
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return bytes.toString("utf8");
}

/** In a `u` pattern a surrogate pair is one code point, so this matches only a surrogate without its pair. */
const LONE_SURROGATE = /\p{Cs}/u;

function notUtf8(): InvalidPayloadError {
  return new InvalidPayloadError("the body is not UTF-8: JSON between systems must be (RFC 8259)");
}

/**
 * Turns a verified body into a {@link Delivery}. Throws {@link InvalidPayloadError} for a body that is not a JSON
 * object with a string `type`, or a user event without `data.id`.
 */
export function decode({ environment, svixId, body }: VerifiedDelivery): Delivery {
  const { type, data, eventTime } = envelopeOf(body);
  const at: Envelope = { environment, svixId, type, eventTime };
  if (isBillingType(type)) return billingDelivery(at, objectWithId(type, data));
  if (!EVENT_TYPES.includes(type)) {
    return { environment, svixId, type, eventTime, kind: "ignore", clerkUserId: null };
  }
  const object = objectWithId(type, data);
  if (type.startsWith("organizationMembership.")) return membershipDelivery(at, object);
  if (type.startsWith("organization.")) return organizationDelivery(at, object);
  return userDelivery(at, object);
}

/** What every delivery carries from its verification and its envelope. */
type Envelope = Pick<DeliveryBase, "environment" | "svixId" | "type" | "eventTime">;

/** A Clerk object as an event carries it in `data`: with its id. */
type ClerkObject = Record<string, unknown> & { id: string };

/** The parsed body's `type`, `data` and `timestamp` (as Unix milliseconds), or the refusal of a body that is no event. */
function envelopeOf(body: string): { type: string; data: unknown; eventTime: number | null } {
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
  return { type: envelope.type, data: envelope.data, eventTime: millis(envelope.timestamp) };
}

/** An event's `data`, refused unless it is an object with a string `id`. */
function objectWithId(type: string, data: unknown): ClerkObject {
  if (!isObject(data) || typeof data.id !== "string" || data.id === "") {
    throw new InvalidPayloadError(`a ${type} event needs \`data.id\``);
  }
  return data as ClerkObject;
}

// Each shape below is written out, with no `{ ...common, more }`: spreading an object and adding properties to the
// copy is slow on some Node.js versions, a large share of decoding (docs/performance.md).

function billingDelivery({ environment, svixId, type, eventTime }: Envelope, data: ClerkObject): Delivery {
  const billing = billingObjects(type, data, eventTime);
  const { clerkUserId, clerkOrgId } = payerOf(data);
  return {
    environment,
    svixId,
    type,
    eventTime,
    resource: "billing",
    kind: "upsert",
    clerkUserId,
    clerkOrgId,
    billing,
    data,
  };
}

function membershipDelivery({ environment, svixId, type, eventTime }: Envelope, data: ClerkObject): Delivery {
  const { clerkMembershipId, clerkOrgId, clerkUserId } = membershipIds(type, data.id, data);
  if (type.endsWith(".deleted")) {
    return {
      environment,
      svixId,
      type,
      eventTime,
      resource: "membership",
      kind: "delete",
      clerkMembershipId,
      clerkOrgId,
      clerkUserId,
    };
  }
  const membership = {
    role: text(data.role),
    clerkCreatedAt: millis(data.created_at),
    clerkUpdatedAt: versionOf(type, data, eventTime),
  };
  return {
    environment,
    svixId,
    type,
    eventTime,
    resource: "membership",
    kind: "upsert",
    clerkMembershipId,
    clerkOrgId,
    clerkUserId,
    membership,
    data,
  };
}

function organizationDelivery(
  { environment, svixId, type, eventTime }: Envelope,
  data: ClerkObject,
): Delivery {
  const clerkOrgId = data.id;
  // A deleted organization is a DeletedObject, without `updated_at`: deletes are ordered by the envelope.
  if (type.endsWith(".deleted")) {
    return {
      environment,
      svixId,
      type,
      eventTime,
      resource: "organization",
      kind: "delete",
      clerkOrgId,
      clerkUserId: null,
    };
  }
  const organization = organizationFields(data, versionOf(type, data, eventTime));
  return {
    environment,
    svixId,
    type,
    eventTime,
    resource: "organization",
    kind: "upsert",
    clerkOrgId,
    clerkUserId: null,
    organization,
    data,
  };
}

function userDelivery({ environment, svixId, type, eventTime }: Envelope, data: ClerkObject): Delivery {
  const clerkUserId = data.id;
  if (type.endsWith(".deleted")) return { environment, svixId, type, eventTime, kind: "delete", clerkUserId };
  const user = userFields(data, versionOf(type, data, eventTime));
  return { environment, svixId, type, eventTime, kind: "upsert", clerkUserId, user, data };
}

/** `data.updated_at`, or else the envelope's timestamp: the version an upsert is ordered by. */
function versionOf(type: string, data: Record<string, unknown>, eventTime: number | null): number {
  const version = millis(data.updated_at) ?? eventTime;
  if (version === null) {
    throw new InvalidPayloadError(
      `a ${type} event needs \`data.updated_at\` (or the envelope's \`timestamp\`)`,
    );
  }
  return version;
}

/**
 * A membership names its organization and user only inside nested objects (`organization.id`,
 * `public_user_data.user_id`); without them it cannot be checked against deletes, so it is refused.
 */
function membershipIds(type: string, id: string, data: Record<string, unknown>): MembershipIds {
  const org = isObject(data.organization) ? data.organization.id : undefined;
  const user = isObject(data.public_user_data) ? data.public_user_data.user_id : undefined;
  if (typeof org !== "string" || org === "" || typeof user !== "string" || user === "") {
    throw new InvalidPayloadError(
      `a ${type} event needs \`data.organization.id\` and \`data.public_user_data.user_id\``,
    );
  }
  return { clerkMembershipId: id, clerkOrgId: org, clerkUserId: user };
}

/**
 * The columns kept from a Clerk Organization object; `logo_url` (older payloads) stands in for `image_url`.
 *
 * @example
 * ```ts
 * organizationFields({ id: "org_1", name: "Acme", slug: null, updated_at: 1 }, 1).name // "Acme"
 * ```
 */
export function organizationFields(
  data: Record<string, unknown>,
  clerkUpdatedAt: number,
): OrganizationFields {
  return {
    name: text(data.name),
    slug: text(data.slug),
    imageUrl: text(data.image_url) ?? text(data.logo_url),
    clerkCreatedAt: millis(data.created_at),
    clerkUpdatedAt,
  };
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

export { millis };

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
  // Most deliveries have no `\u` escape at all, and a native search says so at a fraction of the pattern's cost.
  return !json.includes("\\u") || !UNSTORABLE_ESCAPE.test(json);
}

const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

export type { BillingObjects } from "./decode-billing.js";
export { storable };
