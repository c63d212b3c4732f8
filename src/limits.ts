import type { Delivery } from "./decode.js";
import { FieldTooLongError } from "./errors.js";

/**
 * The longest identifiers a delivery may carry, in UTF-8 bytes. Each is stored in an indexed column, and a
 * PostgreSQL B-tree index takes at most about 2.7 kB per row: a longer, incompressible value would fail on every
 * retry ("index row size exceeds maximum"). Clerk's own are far shorter (`msg_` or `user_` and 27 characters; an
 * email address is at most 320 bytes by RFC 5321), so a longer one is refused up front, before the database is
 * touched, with 422 `field_too_long`.
 */
export const LIMITS = {
  /** The `svix-id` header. */
  svixId: 256,
  /** The envelope's `type`. */
  type: 256,
  /** A Clerk id: a user's, an organization's or a membership's (`data.id`, and a membership's org and user). */
  clerkId: 256,
  /** The primary email address. */
  email: 320,
} as const;

/**
 * Throws {@link FieldTooLongError} naming the first field of a decoded delivery over its limit in {@link LIMITS}.
 *
 * @example
 * ```ts
 * assertLimits(delivery); // throws FieldTooLongError("data.id exceeds 256 bytes") for a 10 kB id
 * ```
 */
export function assertLimits(delivery: Delivery): void {
  check("svix-id", delivery.svixId, LIMITS.svixId);
  check("type", delivery.type, LIMITS.type);
  // Named by where they are in the event, so that the sender can find them.
  if (delivery.resource === "membership") {
    check("data.id", delivery.clerkMembershipId, LIMITS.clerkId);
    check("data.organization.id", delivery.clerkOrgId, LIMITS.clerkId);
    check("data.public_user_data.user_id", delivery.clerkUserId, LIMITS.clerkId);
  } else if (delivery.resource === "organization") {
    check("data.id", delivery.clerkOrgId, LIMITS.clerkId);
  } else if (delivery.clerkUserId !== null) {
    check("data.id", delivery.clerkUserId, LIMITS.clerkId);
  }
  if (delivery.kind === "upsert" && "user" in delivery && delivery.user.email !== null) {
    check("the primary email address", delivery.user.email, LIMITS.email);
  }
}

function check(name: string, value: string, limit: number): void {
  // A string of n UTF-16 units takes at most 3n bytes in UTF-8: most values need no count.
  if (value.length * 3 > limit && Buffer.byteLength(value) > limit) {
    throw new FieldTooLongError(`${name} exceeds ${limit} bytes`);
  }
}
