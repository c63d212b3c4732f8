import { createHash } from "node:crypto";

/** What SQL is made of here: statements whose parameters are JSON documents or texts. */

/**
 * A statement and the types of its parameters. Nothing of it outlives the transaction that runs it, so that a
 * transaction pooler (PgBouncer, Supavisor, Neon's) may hand each transaction to another server connection:
 * - a plain statement is parsed and planned in every transaction that runs it, as the unnamed statement;
 * - a statement with `returns` is stored in the database as a function under its name (created by `migrate`), and a
 *   transaction calls it: PL/pgSQL plans its query once per server connection and keeps the plan there, which is
 *   safe whichever client the pooler pairs that connection with. The webhook's, the backfill's and the prune's
 *   statements are stored: planning one costs PostgreSQL about as much as running it for a batch.
 *
 * @example
 * ```ts
 * const COUNT = statement("count", "select jsonb_array_length($1) as n");
 * const [[row]] = await db.transaction([{ statement: COUNT, values: ["[1, 2]"] }]);
 * ```
 */
export interface Statement {
  /** Unique to the text, the types and the result: a function of this name is this statement. */
  readonly name: string;
  /** The types of `$1`, `$2`, … */
  readonly parameters: readonly string[];
  readonly text: string;
  /** The columns it returns (`o int, outcome text`), for a stored statement. */
  readonly returns?: string;
}

/**
 * A step of `Database.transaction`: a statement and the texts of its parameters (none when it takes none).
 *
 * @example
 * ```ts
 * const step: Step = { statement: COUNT, values: ["[1, 2]"] };
 * ```
 */
export interface Step {
  readonly statement: Statement;
  readonly values?: readonly string[];
}

/**
 * A {@link Statement} whose name changes with its text, its parameters' types (one `jsonb` unless given) and its
 * result: two versions of the package running side by side (a rolling deploy) each call their own function.
 *
 * @example
 * ```ts
 * const COUNT = statement("count", "select jsonb_array_length($1)");
 * const APPLY = statement("apply", "with … select o, outcome from …", ["jsonb"], "o int, outcome text");
 * ```
 */
export function statement(
  name: string,
  text: string,
  parameters: readonly string[] = ["jsonb"],
  returns?: string,
): Statement {
  const hash = createHash("sha256")
    .update(`${parameters.join(",")}:${returns ?? ""}:${text}`)
    .digest("hex")
    .slice(0, 12);
  const named = { name: `clerk_user_sync_${name}_${hash}`, parameters, text };
  return returns === undefined ? named : { ...named, returns };
}

/**
 * What a transaction sends to run `statement`: its text, or, for a stored one, the call of its function.
 *
 * @example
 * ```ts
 * sqlOf(APPLY); // "select * from clerk_user_sync_apply_…($1::jsonb)"
 * ```
 */
export function sqlOf({ name, parameters, text, returns }: Statement): string {
  if (returns === undefined) return text;
  return `select * from ${name}(${parameters.map((type, i) => `$${i + 1}::${type}`).join(", ")})`;
}

/** The type oids of a statement's parameters, as the protocol's Parse sends them (0: PostgreSQL infers it). */
export function typeOids({ parameters }: Statement): number[] {
  return parameters.map((type) => TYPE_OIDS[type] ?? 0);
}

const TYPE_OIDS: Record<string, number> = { json: 114, jsonb: 3802, text: 25 };

/**
 * The definition of a stored statement's function. PL/pgSQL reads `$1` as the first argument; where a returned
 * column's name is also a column of the query, the query's column is meant.
 *
 * @example
 * ```ts
 * await db.query(definitionOf(APPLY));
 * ```
 */
export function definitionOf({ name, parameters, text, returns }: Statement): string {
  return `create or replace function ${name}(${parameters.join(", ")}) returns table (${returns ?? ""})
language plpgsql as $clerk_user_sync$
#variable_conflict use_column
begin
  return query ${text};
end
$clerk_user_sync$`;
}
