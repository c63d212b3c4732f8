import pg from "pg";
import type { Step } from "./statements.js";

/*
 * Why this module exists: the webhook's transaction used to travel as one SQL script (`begin; execute lock('…');
 * execute apply('…'); commit`), the batch a dollar-quoted literal inside it. PostgreSQL's SQL lexer then read every
 * byte of every body before the JSON parser read them again: 6% of PostgreSQL's CPU under `compare.sh`'s load. Here
 * the same statements go as the extended protocol's Bind and Execute messages, each batch a parameter the lexer never
 * sees, all of them before one Sync: still one round trip and one transaction (PostgreSQL commits at the Sync, or
 * rolls everything back at the first error). Measured (docs/performance.md, 2026-12-01, batches of 14 replayed
 * without the server): 1,290 → 1,175 µs of PostgreSQL's CPU a transaction, 1,890 → 1,660 µs from send to answer.
 * node-postgres sends one statement per Sync; this is its extension point for other message flows (`Submittable`,
 * the one pg-cursor is built on), with no change to node-postgres itself.
 */

/**
 * Runs `steps` on `client` in one transaction and one round trip: each statement is parsed first if `held` (the
 * names this connection has prepared) lacks it, then bound to its parameter, described and executed; one Sync ends
 * them. Resolves with each step's rows, parsed as node-postgres parses them; `held` then includes every statement.
 * On an error PostgreSQL has rolled back, and the caller discards the connection.
 */
export function runPipeline(
  client: pg.PoolClient,
  steps: readonly Step[],
  held: Set<string>,
): Promise<Record<string, unknown>[][]> {
  return new Promise((resolve, reject) => {
    client.query(new Pipeline(steps, held, resolve, reject));
  });
}

/** Parameter types by the name a `PreparedStatement` gives them; others are left to PostgreSQL to infer. */
const TYPE_OIDS: Record<string, number> = { jsonb: 3802, text: 25 };

/** node-postgres's `Connection` as it is (its type declarations lag): what a Submittable sends with. */
interface Wire {
  stream: { cork(): void; uncork(): void };
  parse(message: { name: string; text: string; types: number[] }): void;
  bind(message: { statement: string; values: string[] }): void;
  describe(message: { type: "P" }): void;
  execute(message: object): void;
  sync(): void;
}

class Pipeline implements pg.Submittable {
  readonly #steps: readonly Step[];
  readonly #held: Set<string>;
  readonly #resolve: (rows: Record<string, unknown>[][]) => void;
  readonly #reject: (error: unknown) => void;
  /** One list per statement: the last one fills until its CommandComplete opens the next. */
  readonly #rows: Record<string, unknown>[][] = [[]];
  #fields: { name: string; parse: (text: string) => unknown }[] = [];
  #error: unknown;
  #settled = false;

  constructor(
    steps: readonly Step[],
    held: Set<string>,
    resolve: (rows: Record<string, unknown>[][]) => void,
    reject: (error: unknown) => void,
  ) {
    this.#steps = steps;
    this.#held = held;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  submit(connection: pg.Connection): void {
    const wire = connection as unknown as Wire;
    // Each statement once, by name: a name the connection holds, or parses twice, is an error in PostgreSQL.
    const parsing = new Map(
      this.#steps
        .filter((s) => !this.#held.has(s.statement.name))
        .map((s) => [s.statement.name, s.statement]),
    );
    // One write for every message, as node-postgres's own queries do.
    wire.stream.cork();
    try {
      for (const { name, text, parameters } of parsing.values()) {
        wire.parse({ name, text, types: parameters.map((type) => TYPE_OIDS[type] ?? 0) });
      }
      for (const { statement, value } of this.#steps) {
        wire.bind({ statement: statement.name, values: [value] });
        wire.describe({ type: "P" });
        wire.execute({});
      }
      wire.sync();
    } finally {
      wire.stream.uncork();
    }
  }

  handleRowDescription(message: { fields: { name: string; dataTypeID: number }[] }): void {
    this.#fields = message.fields.map(({ name, dataTypeID }) => ({
      name,
      parse: pg.types.getTypeParser(dataTypeID, "text") as (text: string) => unknown,
    }));
  }

  handleDataRow(message: { fields: (string | null)[] }): void {
    const row: Record<string, unknown> = {};
    this.#fields.forEach(({ name, parse }, i) => {
      const text = message.fields[i];
      row[name] = text === null || text === undefined ? null : parse(text);
    });
    this.#rows.at(-1)?.push(row);
  }

  handleCommandComplete(): void {
    this.#fields = [];
    this.#rows.push([]);
  }

  handleEmptyQuery(): void {
    this.handleCommandComplete();
  }

  handlePortalSuspended(): void {}

  handleCopyInResponse(): void {}

  handleCopyData(): void {}

  /** node-postgres stops routing this flow's messages here after an error: the connection is then discarded. */
  handleError(error: unknown): void {
    this.#error = error;
    this.#settle();
  }

  handleReadyForQuery(): void {
    this.#settle();
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#error !== undefined) {
      this.#reject(this.#error);
    } else if (this.#rows.length !== this.#steps.length + 1) {
      // Every statement completes, and opens the list after its own.
      this.#reject(new Error("pipeline: unexpected result shape"));
    } else {
      for (const { statement } of this.#steps) this.#held.add(statement.name);
      this.#resolve(this.#rows.slice(0, -1));
    }
  }
}
