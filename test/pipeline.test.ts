import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../src/db/database.js";
import { migrate } from "../src/db/migrate.js";
import { lockedTransaction } from "../src/db/sql.js";
import { statement } from "../src/db/statements.js";
import { backends, type TestDatabase } from "./support/backends.js";

/*
 * The seam every writer's transaction goes through (Database.transaction, lockedTransaction), on every backend: on
 * PostgreSQL its own wire flow (src/db/pipeline.ts), on PGlite a script. Both must be one transaction.
 */

const WRITE = statement(
  "test_write",
  "insert into pipeline_test (n) select value::int from jsonb_array_elements_text($1) returning n, 'kept' as note",
);
const COUNT = statement("test_count", "select count(*)::int as n, $1::text as asked from pipeline_test", [
  "text",
]);
/** The same statement made twice. */
const COUNT_AGAIN = statement(
  "test_count",
  "select count(*)::int as n, $1::text as asked from pipeline_test",
  ["text"],
);
const FAIL = statement("test_fail", "select 1 / (jsonb_array_length($1) - jsonb_array_length($1)) as never");
const HELD = statement(
  "test_held",
  "select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and granted and $1 is not null",
);
const SLEEP = statement("test_sleep", "select pg_sleep((($1 ->> 0)::int) / 1000.0)::text as slept");

describe.each(await backends())("the pipeline on $name", (backend) => {
  let test: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    test = await backend.create();
    db = await openDatabase(test.database, { dataDir: test.dataDir });
    // The lock is a stored statement: migrate creates it.
    await migrate(db);
    await db.query("create table pipeline_test (n int not null)");
  });
  afterAll(async () => {
    await db.close();
    await test.drop();
  });

  it("runs the steps in order, each seeing the ones before it, and answers each one's rows as typed values", async () => {
    await db.query("truncate pipeline_test");
    const rows = await db.transaction([
      { statement: WRITE, values: ["[1, 2]"] },
      { statement: COUNT, values: ["after two"] },
      { statement: WRITE, values: ["[3]"] },
      { statement: COUNT_AGAIN, values: ["after three"] },
    ]);
    expect(rows).toEqual([
      [
        { n: 1, note: "kept" },
        { n: 2, note: "kept" },
      ],
      [{ n: 2, asked: "after two" }],
      [{ n: 3, note: "kept" }],
      [{ n: 3, asked: "after three" }],
    ]);
  });

  it("is one transaction: a failing step fails the call, with PostgreSQL's code, and undoes the steps before it", async () => {
    await db.query("truncate pipeline_test");
    const failed = db.transaction([
      { statement: WRITE, values: ["[1, 2]"] },
      { statement: FAIL, values: ["[]"] },
      { statement: WRITE, values: ["[3]"] },
    ]);
    await expect(failed).rejects.toMatchObject({ code: "22012" });
    expect(await db.query("select n from pipeline_test")).toEqual([]);
    // The connection that failed is not handed out inside its broken transaction.
    expect(await db.transaction([{ statement: COUNT, values: ["again"] }])).toEqual([
      [{ n: 0, asked: "again" }],
    ]);
  });

  it("holds the advisory locks of lockedTransaction until its last step", async () => {
    const rows = await lockedTransaction(db, ["a", "b", "a"], [{ statement: HELD, values: ["[]"] }]);
    expect(rows).toEqual([{ n: 2 }]);
    // This database's locks only: pg_locks lists the whole server's, and other test files run alongside.
    const held = await db.query(
      "select count(*)::int as n from pg_locks where locktype = 'advisory' and database = " +
        "(select oid from pg_database where datname = current_database())",
    );
    expect(held).toEqual([{ n: 0 }]);
  });

  it.runIf(backend.name === "postgres")(
    "cancels a step that outlives lockedTransaction's timeout (SQLSTATE 57014); one within it commits",
    async () => {
      await expect(
        lockedTransaction(db, ["t"], [{ statement: SLEEP, values: ["[2000]"] }], { timeoutMs: 100 }),
      ).rejects.toMatchObject({ code: "57014" });
      expect(
        await lockedTransaction(db, ["t"], [{ statement: SLEEP, values: ["[1]"] }], { timeoutMs: 1000 }),
      ).toEqual([{ slept: "" }]);
    },
  );

  it("rolls everything back when asked (a backfill's dry run), answering the rows as if committed", async () => {
    await db.query("truncate pipeline_test");
    const rows = await lockedTransaction(db, ["a"], [{ statement: WRITE, values: ["[7]"] }], {
      rollback: true,
    });
    expect(rows).toEqual([{ n: 7, note: "kept" }]);
    expect(await db.query("select n from pipeline_test")).toEqual([]);
  });

  it.runIf(backend.name === "postgres")(
    "leaves nothing on its connection after the transaction: no prepared statement, no lock, no setting (a transaction pooler may hand the connection to anyone)",
    async () => {
      // One connection, so that the checks below run on the one the transactions ran on.
      const single = await openDatabase(test.database, { pool: { max: 1 } });
      try {
        await lockedTransaction(single, ["a", "b"], [{ statement: COUNT, values: ["x"] }], {
          timeoutMs: 1234,
        });
        await lockedTransaction(single, ["c"], [{ statement: WRITE, values: ["[1]"] }], { rollback: true });
        await single.transaction([{ statement: FAIL, values: ["[]"] }]).catch(() => {});
        expect(
          await single.query(
            `select (select count(*)::int from pg_prepared_statements) as statements,
              (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as locks,
              current_setting('statement_timeout') as timeout`,
          ),
        ).toEqual([{ statements: 0, locks: 0, timeout: "0" }]);
      } finally {
        await single.close();
      }
    },
  );
});
