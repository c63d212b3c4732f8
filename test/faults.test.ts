import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { StorageUnavailableError } from "../src/errors.js";
import { type Backend, backends, type TestDatabase } from "./support/backends.js";
import { type ClerkEvent, userEvent } from "./support/fixtures.js";
import { type Harness, openHarness, type Posted } from "./support/harness.js";
import { type LostReplyProxy, lostReplyProxy } from "./support/lost-reply.js";
import { type FaultyProxy, faultyProxy } from "./support/proxy.js";

const all = await backends();
const postgres = all.find((b) => b.name === "postgres");
const pglite = all.find((b) => b.name === "pglite") as Backend;

/** What a client sees for a delivery the database did not take: the catalogue's words, no driver text. */
const UNAVAILABLE = { code: "storage_unavailable", message: new StorageUnavailableError().message };

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
    h = await openHarness(setup.backend, { logLevel: "silent" });
  });
  afterAll(() => h.close());

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

    // Cut every connection while a batch is in flight: the first answer comes back alone, the rest were
    // queued behind it and are being committed together when the cut lands.
    const cut = messages("cut", 15);
    const sent = cut.map(post);
    await Promise.race(sent);
    proxy.cut("terminate");
    await record(cut, sent);

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
