import { and, asc, eq, gt, or } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { type UserRow, users } from "../db/schema.js";
import type { Environment } from "../verify.js";

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

/** Keyset pagination over users: stable under concurrent writes, no OFFSET. */
export async function listUsers(db: Database, options: ListUsersOptions = {}): Promise<UserPage> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 1), 1000);
  const after = options.cursor ? decodeCursor(options.cursor) : null;
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

type Position = [Environment, string];

function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify(position)).toString("base64url");
}

function decodeCursor(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      (value[0] === "development" || value[0] === "production") &&
      typeof value[1] === "string"
    ) {
      return value as Position;
    }
  } catch {}
  throw new TypeError("listUsers: invalid cursor");
}
