import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { StorageUnavailableError } from "../src/errors.js";
import { type Backend, backends, type TestDatabase } from "./support/backends.js";
import { type ClerkEvent, userEvent } from "./support/fixtures.js";
import { type Harness, openHarness, type Posted } from "./support/harness.js";
import { type LostReplyProxy, lostReplyProxy } from "./support/lost-reply.js";
import { type FaultyProxy, faultyProxy } from "./support/proxy.js";
import { signedDelivery } from "./support/sign.js";

const all = await backends();
const postgres = all.find((b) => b.name === "postgres");
const pglite = all.find((b) => b.name === "pglite") as Backend;

/** What a client sees for a delivery the database did not take: the catalogue's words, no driver text. */
const UNAVAILABLE = { code: "storage_unavailable", message: new StorageUnavailableError().message };

/** How long a test waits for a condition, checking it every few milliseconds. */
const WAIT = { timeout: 10_000, interval: 5 };

/** One message: a user.created of its own user, under a fixed svix-id. */
interface Message {
  id: string;
  event: ClerkEvent;
}
const messages = (prefix: string, n: number): Message[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `msg_${prefix}_${i}`,
    event: userEvent("user.created", { id: `user_${prefix}_${i}` }),
  }));

/**
 * A PostgreSQL backend whose service connects through a proxy; `direct` is the database itself, for checks that
 * must not depend on the proxy.
 */
function proxied<P extends { url: string; close(): Promise<void> }>(
  open: (url: string) => Promise<P>,
): { backend: Backend; proxy: () => P; direct: () => pg.Client } {
  let proxy: P | undefined;
  let client: pg.Client | undefined;
  const backend: Backend = {
    name: "postgres",
    async create(): Promise<TestDatabase> {
      const db = await (postgres as Backend).create();
      proxy = await open(db.database as string);
      client = new pg.Client({ connectionString: db.database });
      await client.connect();
      return {
        ...db,
        database: proxy.url,
        drop: async () => {
          await client?.end();
          await proxy?.close();
          await db.drop();
        },
      };
    },
  };
  return { backend, proxy: () => proxy as P, direct: () => client as pg.Client };
}

describe.runIf(postgres)("PostgreSQL failing under a stream of deliveries", () => {
  const setup = proxied(faultyProxy);
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness(setup.backend, {
      logLevel: "silent",
      observer: { write: (size, _seconds, ok) => writes.push([size, ok]) },
    });
  });
  afterAll(() => h.close());

  /** Each transaction the writer ran: how many deliveries, and whether it committed. */
  const writes: [number, boolean][] = [];
  const logged = async () =>
    new Set(
      (await setup.direct().query("select svix_id from webhook_deliveries")).rows.map((r) => r.svix_id),
    );
  const stored = async () =>
    new Set((await setup.direct().query("select clerk_user_id from users")).rows.map((r) => r.clerk_user_id));
  const post = (m: Message) => h.post(m.event, { id: m.id });

  it("acknowledges only what committed, and takes every refused delivery when it is sent again", async () => {
    const proxy: FaultyProxy = setup.proxy();
    const answered = new Map<Message, Posted>();
    const record = async (list: Message[], sent = list.map(post)) => {
      const responses = await Promise.all(sent);
      for (const [i, res] of responses.entries()) answered.set(list[i] as Message, res);
      return responses;
    };

    const healthy = messages("healthy", 15);
    expect((await record(healthy)).map((r) => r.status)).toEqual(healthy.map(() => 200));

    // Cut every connection while a batch is in flight. The first delivery's transaction waits for an advisory
    // lock held here while the others queue behind it; let go, it commits, the others go out together as the
    // next transaction, and the cut lands on that one.
    const cut = messages("cut", 15);
    const [first, ...rest] = cut as [Message, ...Message[]];
    const lock = [`development:user:${first.event.data.id}`];
    await setup.direct().query("select pg_advisory_lock(hashtextextended($1, 0))", lock);
    const sentFirst = post(first);
    const waiting = `select 1 from pg_locks where locktype = 'advisory' and not granted
      and database = (select oid from pg_database where datname = current_database())`;
    await vi.waitFor(async () => expect((await setup.direct().query(waiting)).rowCount).toBe(1), WAIT);
    // The others go to the core as requests that note when it reads their body: it reads it and queues the
    // delivery in the same synchronous step (verify, decode, write). All read, all wait in the writer's queue
    // behind the blocked transaction.
    const taken = new Set<string>();
    const sentRest = rest.map(async (m): Promise<Posted> => {
      const { body, headers, svixId } = signedDelivery(m.event, { id: m.id });
      const request = {
        headers,
        get body() {
          taken.add(svixId);
          return body;
        },
      };
      const res = await h.sync.handle(request);
      return { status: res.status, body: JSON.parse(res.body), headers: res.headers, svixId };
    });
    await vi.waitFor(() => expect(taken.size).toBe(rest.length), WAIT);
    const before = writes.length;
    await setup.direct().query("select pg_advisory_unlock(hashtextextended($1, 0))", lock);
    await sentFirst;
    proxy.cut("terminate");
    const cutAnswers = await record(cut, [sentFirst, ...sentRest]);
    expect(cutAnswers[0]?.status).toBe(200);
    // The first committed alone; the others went together, and the cut failed that transaction.
    expect(writes.slice(before, before + 2)).toEqual([
      [1, true],
      [rest.length, false],
    ]);

    const refused = messages("refused", 10);
    proxy.cut("refuse");
    const refusedAnswers = await record(refused);
    expect(refusedAnswers.map((r) => [r.status, r.body])).toEqual(refused.map(() => [503, UNAVAILABLE]));
    const beforeRestore = await logged();
    for (const m of refused) expect(beforeRestore.has(m.id)).toBe(false);

    proxy.restore();
    const after = messages("after", 10);
    expect((await record(after)).map((r) => r.body.status)).toEqual(after.map(() => "applied"));

    // Every answer was a 200 or the 503 of the catalogue; every 200 is stored.
    const committed = await logged();
    for (const [m, res] of answered) {
      if (res.status === 200) expect(committed.has(m.id)).toBe(true);
      else expect([res.status, res.body]).toEqual([503, UNAVAILABLE]);
    }

    // Re-sent, a refused delivery is applied, unless its COMMIT went through and only the answer was lost:
    // then it is a duplicate, which is right, since it is stored.
    const failed = [...answered].filter(([, res]) => res.status !== 200).map(([m]) => m);
    expect(failed.length).toBeGreaterThanOrEqual(refused.length);
    for (const m of failed) {
      const res = await post(m);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe(committed.has(m.id) ? "duplicate" : "applied");
    }

    const everything = [...healthy, ...cut, ...refused, ...after];
    expect([...(await logged())].sort()).toEqual(everything.map((m) => m.id).sort());
    expect([...(await stored())].sort()).toEqual(everything.map((m) => m.event.data.id).sort());
  });
});

describe.runIf(postgres)("a COMMIT whose answer is lost", () => {
  const setup = proxied(lostReplyProxy);
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness(setup.backend, { logLevel: "silent" });
  });
  afterAll(() => h.close());

  it("is answered 503, is stored, and its re-send is a duplicate", async () => {
    const proxy: LostReplyProxy = setup.proxy();
    const [m] = messages("lost", 1) as [Message];
    proxy.loseNextCommit();
    const first = await h.post(m.event, { id: m.id });
    expect(proxy.lost).toBe(1);
    expect([first.status, first.body]).toEqual([503, UNAVAILABLE]);
    const rows = async () => (await setup.direct().query("select clerk_user_id from users")).rows;
    expect(await rows()).toEqual([{ clerk_user_id: m.event.data.id }]);

    const again = await h.post(m.event, { id: m.id });
    expect([again.status, again.body]).toEqual([
      200,
      { status: "duplicate", environment: "development", type: "user.created" },
    ]);
    expect(await rows()).toEqual([{ clerk_user_id: m.event.data.id }]);
    const log = await setup.direct().query("select svix_id, outcome from webhook_deliveries");
    expect(log.rows).toEqual([{ svix_id: m.id, outcome: "applied" }]);
  });
});

describe.runIf(postgres)("a users row the application keeps locked", () => {
  // No proxy in between: `direct` is the application's own connection.
  const setup = proxied(async (url) => ({ url, close: async () => {} }));
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness(setup.backend, { logLevel: "silent", statementTimeout: 300 });
  });
  afterAll(() => h.close());

  it("fails only the delivery that waits for it, 503 after the statement timeout; the rest of its batch commits", async () => {
    const app = setup.direct();
    const T = 1_700_000_000_000;
    const updated = (version: number) =>
      userEvent("user.updated", { id: "user_locked", updated_at: T + version });
    expect((await h.post(updated(1))).status).toBe(200);
    await app.query("begin");
    await app.query("select * from users where clerk_user_id = 'user_locked' for update");
    try {
      // Read in the same turn, the two share a transaction, which waits for the lock until the timeout.
      const [blocked, free] = await Promise.all([
        h.post(updated(2)),
        h.post(userEvent("user.created", { id: "user_free" })),
      ]);
      expect([blocked?.status, blocked?.body]).toEqual([503, UNAVAILABLE]);
      expect(free?.body).toEqual({ status: "applied", environment: "development", type: "user.created" });
    } finally {
      await app.query("rollback");
    }
    const versions = async () =>
      (await app.query("select clerk_user_id, clerk_updated_at from users order by 1")).rows.map((u) => [
        u.clerk_user_id,
        u.clerk_updated_at.getTime(),
      ]);
    expect(await versions()).toEqual([
      ["user_free", expect.any(Number)],
      ["user_locked", T + 1],
    ]);

    // Once the application lets go, Svix's retry applies.
    expect((await h.post(updated(2))).body).toMatchObject({ status: "applied" });
    expect(await versions()).toEqual([
      ["user_free", expect.any(Number)],
      ["user_locked", T + 2],
    ]);
  });
});

describe("PGlite closed under the running service", () => {
  let h: Harness;
  let reopened: PGlite | undefined;
  beforeAll(async () => {
    h = await openHarness(pglite, { logLevel: "silent" });
  });
  afterEach(async () => {
    await reopened?.close();
  });
  afterAll(() => h.close());

  it("answers 503 storage_unavailable and writes nothing", async () => {
    const [kept, lost] = messages("pglite", 2) as [Message, Message];
    expect((await h.post(kept.event, { id: kept.id })).body.status).toBe("applied");
    await h.sync.database.close();
    for (const m of [lost, kept]) {
      const res = await h.post(m.event, { id: m.id });
      expect([res.status, res.body]).toEqual([503, UNAVAILABLE]);
    }

    reopened = new PGlite(h.db.dataDir);
    expect((await reopened.query("select clerk_user_id from users")).rows).toEqual([
      { clerk_user_id: kept.event.data.id },
    ]);
    expect((await reopened.query("select svix_id, outcome from webhook_deliveries")).rows).toEqual([
      { svix_id: kept.id, outcome: "applied" },
    ]);
    expect((await reopened.query("select * from user_tombstones")).rows).toEqual([]);
  });
});
