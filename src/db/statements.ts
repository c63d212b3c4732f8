import { createHash, randomBytes } from "node:crypto";

/**
 * What SQL is made of here: statements with one parameter each (a JSON document, or a text), run by
 * `Database.transaction`.
 */

/**
 * A statement and the types of its parameters. PostgreSQL parses it as the unnamed statement in every transaction
 * that runs it, so nothing outlives the transaction and a transaction pooler (PgBouncer, Supavisor) may hand each
 * transaction to another server connection. The name is unique to the text and the types: PGlite, one connection in
 * this process with no pooler in between, prepares it once under that name.
 *
 * @example
 * ```ts
 * const COUNT = statement("count", "select jsonb_array_length($1) as n");
 * const [[row]] = await db.transaction([{ statement: COUNT, value: "[1, 2]" }]);
 * ```
 */
export interface Statement {
  readonly name: string;
  /** The types of `$1`, `$2`, … */
  readonly parameters: readonly string[];
  readonly text: string;
}

/**
 * A step of `Database.transaction`: a statement and the text of its one parameter (none when it takes none).
 *
 * @example
 * ```ts
 * const step: Step = { statement: COUNT, value: "[1, 2]" };
 * ```
 */
export interface Step {
  readonly statement: Statement;
  readonly value?: string;
}

/**
 * A {@link Statement} whose name changes with its text and its parameters' types (one `jsonb` unless given), so that
 * a connection that prepared one version never runs another's plan.
 *
 * @example
 * ```ts
 * const COUNT = statement("count", "select jsonb_array_length($1)");
 * ```
 */
export function statement(name: string, text: string, parameters: readonly string[] = ["jsonb"]): Statement {
  const hash = createHash("sha256")
    .update(`${parameters.join(",")}:${text}`)
    .digest("hex")
    .slice(0, 12);
  return { name: `clerk_user_sync_${name}_${hash}`, parameters, text };
}

/**
 * Text as a dollar-quoted SQL literal, with a tag that cannot occur inside it: how PGlite's script passes a step's
 * parameter to `execute`.
 *
 * @example
 * ```ts
 * await pglite.exec(`execute count(${quoted("[1, 2]")})`);
 * ```
 */
export function quoted(text: string): string {
  let tag: string;
  do tag = `$j${TAG_PREFIX}${(tags++).toString(36)}$`;
  while (text.includes(tag));
  return `${tag}${text}${tag}`;
}

/** Random once per process: no text can be made to hold the tags in advance (and loop the search above). */
const TAG_PREFIX = randomBytes(6).toString("hex");
let tags = 0;
