import { and, asc, eq, gt } from "drizzle-orm";
import type { Database } from "../db/database.js";
import {
  type MembershipRow,
  type OrganizationRow,
  organizationMemberships,
  organizations,
  organizationTombstones,
} from "../db/schema.js";
import type { Environment } from "../verify.js";
import { decodeCursor, encodeCursor } from "./cursor.js";

/** One organization, or null. */
export async function getOrganization(
  db: Database,
  { clerkOrgId, environment }: { clerkOrgId: string; environment: Environment },
): Promise<OrganizationRow | null> {
  const rows = await db.orm
    .select()
    .from(organizations)
    .where(and(eq(organizations.clerkOrgId, clerkOrgId), eq(organizations.environment, environment)))
    .limit(1);
  return rows[0] ?? null;
}

/** When a deleted organization was deleted (its tombstone), or null when it has none. */
export async function getOrganizationTombstone(
  db: Database,
  { clerkOrgId, environment }: { clerkOrgId: string; environment: Environment },
): Promise<{ deletedAt: Date } | null> {
  const t = organizationTombstones;
  const rows = await db.orm
    .select({ deletedAt: t.deletedAt })
    .from(t)
    .where(and(eq(t.clerkOrgId, clerkOrgId), eq(t.environment, environment)))
    .limit(1);
  return rows[0] ?? null;
}

/** One membership, or null. */
export async function getMembership(
  db: Database,
  { clerkMembershipId, environment }: { clerkMembershipId: string; environment: Environment },
): Promise<MembershipRow | null> {
  const rows = await db.orm
    .select()
    .from(organizationMemberships)
    .where(
      and(
        eq(organizationMemberships.clerkMembershipId, clerkMembershipId),
        eq(organizationMemberships.environment, environment),
      ),
    )
    .limit(1);
  return rows[0] ?? null;
}

/** Options of {@link listOrganizations}. */
export interface ListOrganizationsOptions {
  environment: Environment;
  /** 1 to 1000; 100 when omitted. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string | null;
}

/** A page of organizations, in `clerk_org_id` order, and the cursor of the next page (null at the end). */
export interface OrganizationPage {
  organizations: OrganizationRow[];
  nextCursor: string | null;
}

/**
 * Keyset pagination over one environment's organizations: stable under concurrent writes, no OFFSET.
 *
 * @example
 * ```ts
 * let page = await listOrganizations(db, { environment: "production" });
 * while (page.nextCursor) page = await listOrganizations(db, { environment: "production", cursor: page.nextCursor });
 * ```
 */
export async function listOrganizations(
  db: Database,
  options: ListOrganizationsOptions,
): Promise<OrganizationPage> {
  const limit = pageLimit(options.limit);
  const after = options.cursor ? decodeCursor<[string]>(options.cursor, 1)[0] : null;
  const rows = await db.orm
    .select()
    .from(organizations)
    .where(
      and(
        eq(organizations.environment, options.environment),
        after === null ? undefined : gt(organizations.clerkOrgId, after),
      ),
    )
    .orderBy(asc(organizations.clerkOrgId))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    organizations: page,
    nextCursor: rows.length > limit && last ? encodeCursor([last.clerkOrgId]) : null,
  };
}

/** Options of {@link listMemberships}: one environment, narrowed to an organization and/or a user. */
export interface ListMembershipsOptions {
  environment: Environment;
  clerkOrgId?: string;
  clerkUserId?: string;
  /** 1 to 1000; 100 when omitted. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string | null;
}

/** A page of memberships, in `clerk_membership_id` order, and the cursor of the next page (null at the end). */
export interface MembershipPage {
  memberships: MembershipRow[];
  nextCursor: string | null;
}

/**
 * Keyset pagination over memberships, optionally of one organization or one user (indexed both ways).
 *
 * @example
 * ```ts
 * const { memberships } = await listMemberships(db, { environment: "production", clerkOrgId: "org_123" });
 * ```
 */
export async function listMemberships(
  db: Database,
  options: ListMembershipsOptions,
): Promise<MembershipPage> {
  const limit = pageLimit(options.limit);
  const after = options.cursor ? decodeCursor<[string]>(options.cursor, 1)[0] : null;
  const m = organizationMemberships;
  const rows = await db.orm
    .select()
    .from(m)
    .where(
      and(
        eq(m.environment, options.environment),
        options.clerkOrgId === undefined ? undefined : eq(m.clerkOrgId, options.clerkOrgId),
        options.clerkUserId === undefined ? undefined : eq(m.clerkUserId, options.clerkUserId),
        after === null ? undefined : gt(m.clerkMembershipId, after),
      ),
    )
    .orderBy(asc(m.clerkMembershipId))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    memberships: page,
    nextCursor: rows.length > limit && last ? encodeCursor([last.clerkMembershipId]) : null,
  };
}

function pageLimit(limit: number | undefined): number {
  return Math.min(Math.max(Math.trunc(limit ?? 100), 1), 1000);
}
