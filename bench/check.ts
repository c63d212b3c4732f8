import { isDeepStrictEqual } from "node:util";
import type { Database } from "../src/db/database.js";
import type { ExpectedObject, ExpectedUser, Workload } from "./histories.js";
import type { LoadResult } from "./load.js";

interface Row {
  clerk_user_id: string;
  environment: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  username: string | null;
  image_url: string | null;
  raw_payload: unknown;
  clerk_created_at: Date | null;
  clerk_updated_at: Date | null;
}

/** What the check found: counts for the report, and every problem (empty: the run is correct). */
export interface CheckResult {
  users: number;
  tombstones: number;
  organizations: number;
  memberships: number;
  deliveries: number;
  problems: string[];
}

/**
 * Compares the tables with the state the histories must end in, whatever order the deliveries arrived in: each live
 * user's row equals its latest version, column by column and the whole payload; every deleted user has a tombstone
 * and no row; no row is missing or extra; each `svix-id` is logged once; every delivery was answered 200, re-sends
 * as `duplicate` and non-user events as `ignored`.
 *
 * @example
 * ```ts
 * const { problems } = await check(db, expected, load);
 * if (problems.length > 0) process.exitCode = 1;
 * ```
 */
export async function check(db: Database, expected: Workload, load: LoadResult): Promise<CheckResult> {
  const problems: string[] = [];
  const answered = (answer: string) => load.answers.get(answer) ?? 0;
  const ok = [...load.answers].filter(([answer]) => answer.startsWith("200 ")).reduce((n, [, c]) => n + c, 0);
  if (ok !== expected.deliveries.length) {
    problems.push(`${expected.deliveries.length - ok} deliveries not answered 200: ${answersText(load)}`);
  }
  if (answered("200 duplicate") !== expected.duplicates) {
    problems.push(`${answered("200 duplicate")} answered duplicate, expected ${expected.duplicates}`);
  }
  if (answered("200 ignored") !== expected.ignored) {
    problems.push(`${answered("200 ignored")} answered ignored, expected ${expected.ignored}`);
  }

  const rows = await db.query<Row>(
    `select clerk_user_id, environment, email, first_name, last_name, username, image_url, raw_payload,
       clerk_created_at, clerk_updated_at from users`,
  );
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.environment}:${row.clerk_user_id}`;
    seen.add(key);
    const want = expected.users.get(key);
    if (!want) problems.push(`extra row ${key}${expected.tombstones.has(key) ? " (deleted user)" : ""}`);
    else problems.push(...differences(key, row, want));
  }
  for (const key of expected.users.keys()) if (!seen.has(key)) problems.push(`missing row ${key}`);

  const tombstones = await db.query<{ key: string }>(
    "select environment || ':' || clerk_user_id as key from user_tombstones",
  );
  const stones = new Set(tombstones.map((t) => t.key));
  for (const key of expected.tombstones) if (!stones.has(key)) problems.push(`missing tombstone ${key}`);
  for (const key of stones) if (!expected.tombstones.has(key)) problems.push(`extra tombstone ${key}`);

  const organizations = await objects(db, problems, "organizations", "clerk_org_id", expected.organizations);
  const memberships = await objects(
    db,
    problems,
    "organization_memberships",
    "clerk_membership_id",
    expected.memberships,
  );
  const orgStones = new Set(
    (
      await db.query<{ key: string }>(
        "select environment || ':' || clerk_org_id as key from organization_tombstones",
      )
    ).map((t) => t.key),
  );
  for (const key of expected.organizationTombstones)
    if (!orgStones.has(key)) problems.push(`missing organization tombstone ${key}`);
  for (const key of orgStones)
    if (!expected.organizationTombstones.has(key)) problems.push(`extra organization tombstone ${key}`);
  const membershipStones = new Set(
    (
      await db.query<{ key: string }>(
        "select environment || ':' || clerk_membership_id as key from organization_membership_tombstones",
      )
    ).map((t) => t.key),
  );
  for (const key of expected.membershipTombstones)
    if (!membershipStones.has(key)) problems.push(`missing membership tombstone ${key}`);
  for (const key of membershipStones) {
    if (!expected.membershipTombstonesAllowed.has(key)) problems.push(`extra membership tombstone ${key}`);
  }

  const [logged] = await db.query<{ n: number; distinct: number }>(
    "select count(*)::int as n, count(distinct (environment, svix_id))::int as distinct from webhook_deliveries",
  );
  const unique = expected.deliveries.length - expected.duplicates;
  if (logged?.n !== unique || logged.distinct !== unique) {
    problems.push(`delivery log holds ${logged?.n} rows (${logged?.distinct} distinct), expected ${unique}`);
  }
  return {
    users: rows.length,
    tombstones: stones.size,
    organizations,
    memberships,
    deliveries: logged?.n ?? 0,
    problems,
  };
}

/** Organizations or memberships: each live one's row holds its latest payload; none missing, none extra. */
async function objects(
  db: Database,
  problems: string[],
  table: string,
  id: string,
  expected: Map<string, ExpectedObject>,
): Promise<number> {
  const rows = await db.query<{ key: string; raw_payload: unknown; clerk_updated_at: Date | null }>(
    `select environment || ':' || ${id} as key, raw_payload, clerk_updated_at from ${table}`,
  );
  const seen = new Set<string>();
  for (const row of rows) {
    seen.add(row.key);
    const want = expected.get(row.key);
    if (!want) problems.push(`extra ${table} row ${row.key}`);
    else if (
      !isDeepStrictEqual(row.raw_payload, want.data) ||
      row.clerk_updated_at?.getTime() !== want.data.updated_at
    ) {
      problems.push(`${table} ${row.key}: raw_payload or clerk_updated_at differ`);
    }
  }
  for (const key of expected.keys()) if (!seen.has(key)) problems.push(`missing ${table} row ${key}`);
  return rows.length;
}

/** The answers as `count × answer`, most frequent first. */
export function answersText(load: LoadResult): string {
  return [...load.answers]
    .sort((a, b) => b[1] - a[1])
    .map(([answer, count]) => `${count} × ${answer}`)
    .join(", ");
}

function differences(key: string, row: Row, want: ExpectedUser): string[] {
  const columns: [string, unknown, unknown][] = [
    ["email", row.email, want.email],
    ["first_name", row.first_name, want.firstName],
    ["last_name", row.last_name, want.lastName],
    ["username", row.username, want.username],
    ["image_url", row.image_url, want.imageUrl],
    ["clerk_created_at", row.clerk_created_at?.getTime(), want.createdAt],
    ["clerk_updated_at", row.clerk_updated_at?.getTime(), want.updatedAt],
  ];
  const wrong = columns.filter(([, got, expected]) => got !== expected).map(([name]) => name);
  if (!isDeepStrictEqual(row.raw_payload, want.data)) wrong.push("raw_payload");
  return wrong.length > 0 ? [`${key}: ${wrong.join(", ")} differ`] : [];
}
