import { and, asc, eq, gt, or, sql } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { type UserRow, users, userTombstones } from "../db/schema.js";
import { ENVIRONMENTS, type Environment } from "../verify.js";
import { decodeCursor, encodeCursor } from "./cursor.js";

/** One user, or null. */
export async function getUser(
  db: Database,
  { clerkUserId, environment }: { clerkUserId: string; environment: Environment },
): Promise<UserRow | null> {
  const rows = await db.orm
    .select()
    .from(users)
    .where(and(eq(users.clerkUserId, clerkUserId), eq(users.environment, environment)))
    .limit(1);
  return rows[0] ?? null;
}

/**
 * Up to ten users of one environment whose Clerk id or email is `key` (an email as given or in lower case), in
 * Clerk id order: what the console's lookup shows.
 */
export async function findUsers(db: Database, environment: Environment, key: string): Promise<UserRow[]> {
  return db.orm
    .select()
    .from(users)
    .where(
      and(
        eq(users.environment, environment),
        or(eq(users.clerkUserId, key), eq(users.email, key), eq(users.email, sql`lower(${key})`)),
      ),
    )
    .orderBy(asc(users.clerkUserId))
    .limit(10);
}

/** When a deleted user was deleted (its tombstone), or null when it has none. */
export async function getUserTombstone(
  db: Database,
  { clerkUserId, environment }: { clerkUserId: string; environment: Environment },
): Promise<{ deletedAt: Date } | null> {
  const rows = await db.orm
    .select({ deletedAt: userTombstones.deletedAt })
    .from(userTombstones)
    .where(and(eq(userTombstones.clerkUserId, clerkUserId), eq(userTombstones.environment, environment)))
    .limit(1);
  return rows[0] ?? null;
}

/** Options of {@link listUsers}. */
export interface ListUsersOptions {
  environment?: Environment;
  /** 1 to 1000; 100 when omitted. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string | null;
}

/** A page of users, in (environment, clerk_user_id) order, and the cursor of the next page (null at the end). */
export interface UserPage {
  users: UserRow[];
  nextCursor: string | null;
}

/** Keyset pagination over users: stable under concurrent writes, no OFFSET. A cursor it did not make: `bad_request`. */
export async function listUsers(db: Database, options: ListUsersOptions = {}): Promise<UserPage> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 1), 1000);
  const after = options.cursor
    ? decodeCursor<[Environment, string]>(options.cursor, 2, ([environment]) =>
        (ENVIRONMENTS as readonly string[]).includes(environment as string),
      )
    : null;
  const [afterEnvironment, afterId] = after ?? [];
  const rows = await db.orm
    .select()
    .from(users)
    .where(
      and(
        options.environment ? eq(users.environment, options.environment) : undefined,
        afterEnvironment !== undefined && afterId !== undefined
          ? or(
              gt(users.environment, afterEnvironment),
              and(eq(users.environment, afterEnvironment), gt(users.clerkUserId, afterId)),
            )
          : undefined,
      ),
    )
    .orderBy(asc(users.environment), asc(users.clerkUserId))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    users: page,
    nextCursor: rows.length > limit && last ? encodeCursor([last.environment, last.clerkUserId]) : null,
  };
}
