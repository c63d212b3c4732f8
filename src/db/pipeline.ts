import pg from "pg";
import { type Step, sqlOf, typeOids } from "./statements.js";

/*
 * Why this module exists: a transaction's statements go as the extended protocol's messages (Parse, Bind, Describe,
 * Execute for each, then one Sync), so that a batch travels as a parameter PostgreSQL's SQL lexer never reads, and
 * the whole transaction is one round trip: PostgreSQL runs the statements in one implicit transaction and commits at
 * the Sync, or rolls everything back at the first error. Every statement is the unnamed one, parsed in the
 * transaction that runs it: a named statement would outlive the transaction on its server connection, and behind a
 * transaction pooler the next transaction may find another connection (42P05 "already exists", 26000 "does not
 * exist"). What is worth planning once is a stored statement, a function call here (see `Statement`).
 * node-postgres sends one statement per Sync; this is its extension point for other message flows (`Submittable`,
 * the one pg-cursor is built on), with no change to node-postgres itself.
 */

/**
 * Runs `steps` on `client` in one transaction and one round trip. Resolves with each step's rows, parsed as
 * node-postgres parses them. On an error PostgreSQL has rolled back, and the caller discards the connection.
 */
export function runPipeline(
  client: pg.PoolClient,
  steps: readonly Step[],
): Promise<Record<string, unknown>[][]> {
  return new Promise((resolve, reject) => {
    client.query(new Pipeline(steps, resolve, reject));
  });
}

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
  readonly #resolve: (rows: Record<string, unknown>[][]) => void;
  readonly #reject: (error: unknown) => void;
  /** One list per statement: the last one fills until its CommandComplete opens the next. */
  readonly #rows: Record<string, unknown>[][] = [[]];
  #fields: { name: string; parse: (text: string) => unknown }[] = [];
  #error: unknown;
  #settled = false;

  constructor(
    steps: readonly Step[],
    resolve: (rows: Record<string, unknown>[][]) => void,
    reject: (error: unknown) => void,
  ) {
    this.#steps = steps;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  submit(connection: pg.Connection): void {
    const wire = connection as unknown as Wire;
    // One write for every message, as node-postgres's own queries do.
    wire.stream.cork();
    try {
      for (const { statement, values = [] } of this.#steps) {
        wire.parse({ name: "", text: sqlOf(statement), types: typeOids(statement) });
        wire.bind({ statement: "", values: [...values] });
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
      this.#resolve(this.#rows.slice(0, -1));
    }
  }
}
