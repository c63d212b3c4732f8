import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Clerk's published examples and the Standard Webhooks vectors, copied verbatim into the project. */
export const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

export type ClerkEvent = { type: string; data: Record<string, unknown> } & Record<string, unknown>;

/** The organization and membership event types, each published in two styles. */
export const ORGANIZATION_TYPES = [
  "organization.created",
  "organization.updated",
  "organization.deleted",
  "organizationMembership.created",
  "organizationMembership.updated",
  "organizationMembership.deleted",
] as const;
export type OrganizationType = (typeof ORGANIZATION_TYPES)[number];

/** The Billing event types Clerk publishes an example of (OpenAPI webhook spec). */
export const BILLING_TYPES = [
  "subscription.created",
  "subscriptionItem.active",
  "subscriptionItem.canceled",
  "subscriptionItem.ended",
  "paymentAttempt.created",
] as const;
export type BillingType = (typeof BILLING_TYPES)[number];

/** Every event type `trigger` and the console can send an example of, in the order they offer them. */
export const EXAMPLE_TYPES = [
  "user.created",
  "user.updated",
  "user.deleted",
  ...ORGANIZATION_TYPES,
  ...BILLING_TYPES,
];

/** The names of the published examples under test/fixtures/clerk. */
export type FixtureName =
  | "user.created.docs"
  | "user.updated.openapi"
  | "user.deleted.catalog"
  | "user.deleted.openapi"
  | `${OrganizationType}.${"openapi" | "catalog"}`
  | `${BillingType}.openapi`;

/** One of Clerk's published example events, parsed (a fresh copy each call). */
export function clerkEvent(name: FixtureName): ClerkEvent {
  return JSON.parse(readFileSync(`${FIXTURES}clerk/${name}.json`, "utf8")) as ClerkEvent;
}

/** The published Standard Webhooks signature vectors. */
export function signatureVectors(): {
  vectors: { secret: string; id: string; timestamp: number; payload: string; signature: string }[];
  known_invalid_signature: string;
} {
  return JSON.parse(readFileSync(`${FIXTURES}standard-webhooks-vectors.json`, "utf8"));
}

/** A Clerk user event built on the published `user.created` example, with the given changes to `data`. */
export function userEvent(
  type: "user.created" | "user.updated",
  data: Record<string, unknown>,
  envelope: Record<string, unknown> = {},
): ClerkEvent {
  const base = clerkEvent("user.created.docs");
  return { ...base, ...envelope, type, data: { ...base.data, ...data } };
}

/** A `user.deleted` event in Clerk's shape. */
export function deletedEvent(id: string, timestamp = 1661861640000): ClerkEvent {
  const base = clerkEvent("user.deleted.catalog");
  return { ...base, timestamp, data: { deleted: true, id, object: "user" } };
}

/** A membership event built on a published example, for the given membership, organization, user and version. */
export function membershipEvent(
  type:
    | "organizationMembership.created"
    | "organizationMembership.updated"
    | "organizationMembership.deleted",
  ids: { id: string; org: string; user: string },
  { updatedAt, timestamp, role }: { updatedAt: number; timestamp?: number; role?: string },
): ClerkEvent {
  const base = clerkEvent(`${type}.openapi`);
  const data = base.data as Record<string, Record<string, unknown>>;
  return {
    ...base,
    timestamp: timestamp ?? updatedAt,
    data: {
      ...base.data,
      id: ids.id,
      role: role ?? base.data.role,
      organization: { ...data.organization, id: ids.org },
      public_user_data: { ...data.public_user_data, user_id: ids.user },
      created_at: updatedAt,
      updated_at: updatedAt,
    },
  };
}

/** An organization event built on a published example (`organization.deleted` is a DeletedObject). */
export function organizationEvent(
  type: "organization.created" | "organization.updated" | "organization.deleted",
  id: string,
  { updatedAt, timestamp, name }: { updatedAt: number; timestamp?: number; name?: string },
): ClerkEvent {
  const base = clerkEvent(`${type}.openapi`);
  if (type === "organization.deleted") {
    return { ...base, timestamp: timestamp ?? updatedAt, data: { ...base.data, id } };
  }
  return {
    ...base,
    timestamp: timestamp ?? updatedAt,
    data: { ...base.data, id, name: name ?? base.data.name, updated_at: updatedAt },
  };
}
