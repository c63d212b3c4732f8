import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Delivery } from "../src/decode.js";
import { Writer } from "../src/store/writer.js";
import { backends } from "./support/backends.js";
import { type ClerkEvent, deletedEvent, userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { TOMBSTONES_AS_EXPECTED, USERS_AS_EXPECTED } from "./support/histories.js";
import { signedDelivery } from "./support/sign.js";

/** One delivery: an event, and the `svix-id` to send it under when it is a re-send. */
interface Send {
  event: ClerkEvent;
  id?: string;
}

/** Clerk's timestamps are Unix milliseconds; versions below are offsets from this instant. */
const T = 1_700_000_000_000;

/** A user event whose `updated_at` (its version) is `T + at`. */
const event = (
  type: "user.created" | "user.updated",
  id: string,
  at: number,
  data: Record<string, unknown>,
) => userEvent(type, { id, created_at: T, updated_at: T + at, ...data }, { timestamp: T + at });
const created = (id: string, at: number, data: Record<string, unknown> = {}) =>
  event("user.created", id, at, data);
const updated = (id: string, at: number, data: Record<string, unknown> = {}) =>
  event("user.updated", id, at, data);

const PRIMER: Send = { event: created("user_primer", 1000) };

/**
 * The group commit as its callers see it: deliveries that queue behind a transaction share the next one and are
 * decided exactly as if they had come one by one, a delivery the database refuses fails alone, and a lone
 * delivery that finds the writer idle is committed at once, alone.
 */
describe.each(await backends())("group commit on $name", (backend) => {
  let h: Harness;
  const writes: { size: number; ok: boolean }[] = [];
  beforeAll(async () => {
    h = await openHarness(backend, {
      observer: { write: (size, _seconds, ok) => writes.push({ size, ok }) },
    });
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    await h.reset();
    writes.length = 0;
  });

  const query = (sql: string) => h.sync.database.query<Record<string, unknown>>(sql);

  /** Signs every delivery, then hands them all to the core at once, in this order. */
  async function atOnce(sends: Send[]) {
    const requests = sends.map(({ event, id }) => signedDelivery(event, { id }));
    const responses = await Promise.all(requests.map((request) => h.sync.handle(request)));
    return responses.map((r) => ({ status: r.status, body: JSON.parse(r.body) as Record<string, unknown> }));
  }

  /** The same deliveries, each sent only once the previous one is answered. */
  async function oneByOne(sends: Send[]) {
    const answers = [];
    for (const send of sends) answers.push(...(await atOnce([send])));
    return answers;
  }

  // Two users whose events arrive out of order, with a re-send, a delete, and an update after the delete.
  const historyInOneBatch: Send[] = [
    PRIMER,
    { event: created("user_x", 1000), id: "msg_x_created" },
    { event: updated("user_x", 3000) },
    { event: updated("user_x", 2000) },
    { event: created("user_x", 1000), id: "msg_x_created" },
    { event: deletedEvent("user_x", T + 4000) },
    { event: updated("user_x", 5000) },
    { event: updated("user_y", 2000, { first_name: "Second" }) },
    { event: created("user_y", 1000, { first_name: "First" }) },
    { event: updated("user_y", 3000, { first_name: "Third" }) },
    { event: updated("user_y", 3000, { first_name: "Same version, other svix-id" }) },
  ];
  const outcomes = [
    ["user.created", "applied"],
    ["user.created", "applied"],
    ["user.updated", "applied"],
    ["user.updated", "stale"],
    ["user.created", "duplicate"],
    ["user.deleted", "applied"],
    ["user.updated", "stale"],
    ["user.updated", "applied"],
    ["user.created", "stale"],
    ["user.updated", "applied"],
    ["user.updated", "stale"],
  ].map(([type, status]) => ({ status: 200, body: { status, environment: "development", type } }));

  it("commits what arrives together in one transaction, deciding each event as if they came one by one", async () => {
    expect(await atOnce(historyInOneBatch)).toEqual(outcomes);
    // All were read in the same turn of the event loop, so they shared one transaction.
    expect(writes).toEqual([{ size: historyInOneBatch.length, ok: true }]);
    expect(await query("select clerk_user_id, first_name, clerk_updated_at from users order by 1")).toEqual([
      { clerk_user_id: "user_primer", first_name: "Example", clerk_updated_at: new Date(T + 1000) },
      { clerk_user_id: "user_y", first_name: "Third", clerk_updated_at: new Date(T + 3000) },
    ]);
    expect(await query("select clerk_user_id, deleted_at from user_tombstones")).toEqual([
      { clerk_user_id: "user_x", deleted_at: new Date(T + 4000) },
    ]);
    const batched = {
      users: await query(USERS_AS_EXPECTED),
      tombstones: await query(TOMBSTONES_AS_EXPECTED),
    };

    await h.reset();
    writes.length = 0;
    expect(await oneByOne(historyInOneBatch)).toEqual(outcomes);
    expect(writes.map((w) => w.size)).toEqual(historyInOneBatch.map(() => 1));
    expect({
      users: await query(USERS_AS_EXPECTED),
      tombstones: await query(TOMBSTONES_AS_EXPECTED),
    }).toEqual(batched);
  });

  it("queues what arrives while a transaction is in flight, and commits it together in the next one", async () => {
    // On PostgreSQL an advisory lock on the first delivery's user, taken here, holds its transaction in flight until
    // the others have queued: a commit can take less time than they need to be read. PGlite cannot be held so.
    const holder = h.db.database ? new pg.Client({ connectionString: h.db.database }) : undefined;
    const lock = ["development:user:user_primer"];
    await holder?.connect();
    try {
      await holder?.query("select pg_advisory_lock(hashtextextended($1, 0))", lock);
      const first = atOnce([PRIMER]);
      // Two turns of the event loop: the first delivery's transaction has been sent.
      for (let turn = 0; turn < 2; turn++) await nextTurn();
      const rest = atOnce(historyInOneBatch.slice(1));
      // While a transaction is in flight, one delivery is read per turn.
      for (let turn = 0; turn < 3 * historyInOneBatch.length; turn++) await nextTurn();
      await holder?.query("select pg_advisory_unlock(hashtextextended($1, 0))", lock);
      expect([...(await first), ...(await rest)]).toEqual(outcomes);
      expect(writes).toEqual([
        { size: 1, ok: true },
        { size: historyInOneBatch.length - 1, ok: true },
      ]);
    } finally {
      await holder?.end();
    }
  });

  it("fails only the delivery the database refuses (503); the rest of its batch commits (200)", async () => {
    const lift = await h.refuseUsers("user_refused%");
    try {
      const answers = await atOnce([
        PRIMER,
        { event: created("user_a", 1000) },
        { event: created("user_refused", 1000) },
        { event: created("user_b", 1000) },
      ]);
      expect(answers.map((a) => [a.status, a.body.status ?? a.body.code])).toEqual([
        [200, "applied"],
        [200, "applied"],
        [503, "storage_unavailable"],
        [200, "applied"],
      ]);
      expect(answers[2]?.body).toEqual({ code: "storage_unavailable", message: expect.any(String) });
      // The batch of four failed as a whole, then each delivery was retried on its own.
      expect(writes).toEqual([
        { size: 4, ok: false },
        { size: 1, ok: true },
        { size: 1, ok: true },
        { size: 1, ok: false },
        { size: 1, ok: true },
      ]);
      expect((await h.users()).map((u) => u.clerk_user_id)).toEqual(["user_a", "user_b", "user_primer"]);
      expect((await h.deliveries()).map((d) => d.clerk_user_id).sort()).toEqual([
        "user_a",
        "user_b",
        "user_primer",
      ]);
    } finally {
      await lift();
    }
    // Nothing of the refused delivery was kept, so Svix's retry is taken as new.
    const [retry] = await atOnce([{ event: created("user_refused", 1000) }]);
    expect(retry).toEqual({
      status: 200,
      body: { status: "applied", environment: "development", type: "user.created" },
    });
  });

  it("splits a queue of large bodies into transactions of at most maxBatchChars (one at least)", async () => {
    const small = await openHarness(backend, {
      writer: { maxBatchChars: 2 * JSON.stringify(created("user_e", 1000)).length },
      observer: { write: (size, _seconds, ok) => writes.push({ size, ok }) },
    });
    try {
      const sends = ["user_primer", "user_e", "user_f", "user_g", "user_h", "user_i"].map((id) => ({
        event: created(id, 1000),
      }));
      const requests = sends.map(({ event }) => signedDelivery(event));
      const answers = await Promise.all(requests.map((request) => small.sync.handle(request)));
      expect(answers.map((a) => a.status)).toEqual(sends.map(() => 200));
      expect(writes.map((w) => w.size)).toEqual([1, 2, 2, 1]);
      expect(await small.users()).toHaveLength(sends.length);
    } finally {
      await small.close();
    }
  });

  it("commits a lone delivery alone and at once when the writer is idle, and a burst together", async () => {
    const res = await h.post(created("user_lone", 1000));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "applied", environment: "development", type: "user.created" });
    expect(writes).toEqual([{ size: 1, ok: true }]);

    await atOnce([PRIMER, { event: created("user_c", 1000) }, { event: created("user_d", 1000) }]);
    expect((await h.post(updated("user_lone", 2000))).body.status).toBe("applied");
    expect(writes.map((w) => w.size)).toEqual([1, 3, 1]);
    expect(await query("select clerk_updated_at from users where clerk_user_id = 'user_lone'")).toEqual([
      { clerk_updated_at: new Date(T + 2000) },
    ]);
  });
});

describe("the writer's hand-over between transactions", () => {
  it("sends the next batch before it answers the callers of the last one, even through a next-tick hand-off", async () => {
    const log: string[] = [];
    let release: (() => void) | undefined;
    const writer = new Writer<Delivery>(async (batch) => {
      // pg-pool hands out its connection on the next tick, after the promise reactions queued before it.
      await new Promise((resolve) => process.nextTick(resolve));
      log.push(`sent ${batch.map((d) => d.svixId).join(",")}`);
      if (batch[0]?.svixId === "a") await new Promise<void>((resolve) => (release = resolve));
      return batch.map(() => "applied" as const);
    });
    const first = writer.write(delivery("a")).then(() => log.push("answered a"));
    await until(() => release !== undefined);
    const queued = writer.write(delivery("b")).then(() => log.push("answered b"));
    release?.();
    await Promise.all([first, queued]);
    expect(log).toEqual(["sent a", "sent b", "answered a", "answered b"]);
  });

  it("is drained only once a delivery queued while the last callers were still to be answered has committed", async () => {
    const log: string[] = [];
    const writer = new Writer<Delivery>(async (batch) => {
      if (batch[0]?.svixId === "a") {
        // Arrives after the transaction of "a" has finished, before its caller is answered.
        setImmediate(() => void writer.write(delivery("c")).then(() => log.push("answered c")));
      }
      return batch.map(() => "applied" as const);
    });
    const first = writer.write(delivery("a"));
    await writer.drained();
    log.push("drained");
    await first;
    expect(log).toEqual(["answered c", "drained"]);
  });
});

function delivery(svixId: string): Delivery {
  return {
    environment: "development",
    svixId,
    type: "user.deleted",
    eventTime: null,
    kind: "delete",
    clerkUserId: "user_1",
  };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await nextTurn();
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
