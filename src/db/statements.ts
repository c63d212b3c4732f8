import { createHash, randomBytes } from "node:crypto";

/**
 * What SQL is made of here: statements prepared once per connection, and JSON as dollar-quoted literals (the
 * webhook's transaction, the backfill, prune).
 */

/**
 * A statement for `Database.script` and `Database.pipeline` to prepare once per connection.
 *
 * @example
 * ```ts
 * const count: PreparedStatement = { name: "count_of", parameters: ["jsonb"], text: "select jsonb_array_length($1)" };
 * await db.script("execute count_of('[1, 2]')", [count]);
 * ```
 */
export interface PreparedStatement {
  /** Unique to its text and parameter types: a connection that holds this name holds this statement. */
  name: string;
  /** The types of `$1`, `$2`, … */
  parameters: readonly string[];
  text: string;
}

/**
 * A step of `Database.pipeline`: a prepared statement and the text of its one parameter.
 *
 * @example
 * ```ts
 * const [[{ n }]] = await db.pipeline([{ statement: count, value: "[1, 2]" }]);
 * ```
 */
export interface Step {
  statement: PreparedStatement;
  value: string;
}

/**
 * A dollar-quoted SQL literal of a JSON value, with a tag that cannot occur inside it (also used by the backfill).
 *
 * @example
 * ```ts
 * await db.script(`select * from jsonb_array_elements(${literal([1, 2])}::jsonb)`);
 * ```
 */
export function literal(value: unknown): string {
  return quoted(JSON.stringify(value));
}

/** JSON text as a dollar-quoted literal, with a tag that cannot occur inside it. */
export function quoted(json: string): string {
  let tag: string;
  do tag = `$j${TAG_PREFIX}${(tags++).toString(36)}$`;
  while (json.includes(tag));
  return `${tag}${json}${tag}`;
}

/** Random once per process: no text can be made to hold the tags in advance (and loop the search above). */
const TAG_PREFIX = randomBytes(6).toString("hex");
let tags = 0;

/**
 * A statement prepared once per connection, under a name that changes with its text and its parameters' types
 * (one `jsonb` unless given), so a connection never runs another version's plan.
 *
 * @example
 * ```ts
 * const COUNT = prepared("count", "select jsonb_array_length($1)");
 * ```
 */
export function prepared(
  name: string,
  text: string,
  parameters: readonly string[] = ["jsonb"],
): PreparedStatement {
  const hash = createHash("sha256")
    .update(`${parameters.join(",")}:${text}`)
    .digest("hex")
    .slice(0, 12);
  return { name: `clerk_user_sync_${name}_${hash}`, parameters, text };
}
