import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../src/db/database.js";
import { decode } from "../src/decode.js";
import { applyBatch, queued } from "../src/store/apply.js";
import { type ClerkUserSync, createClerkUserSync, type SyncEvent } from "../src/sync.js";
import { backends, type TestDatabase } from "./support/backends.js";
import { userEvent } from "./support/fixtures.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

/**
 * Two instances of the library on one PostgreSQL database, each with its own pool, as two processes behind a load
 * balancer: the same Billing histories sent to both at once, every message to each. The advisory
 * locks and the statement's judgement must leave each object at its newest state and each message applied once.
 */
const postgres = (await backends()).find((b) => b.name === "postgres");
const T = 1_700_000_000_000;
const STATUSES = ["active", "canceled", "ended", "upcoming", "active", "past_due"];

/** A history of one item: one event per status, versions rising, ties on every other step broken by the envelope. */
function history(itemId: string) {
  return STATUSES.map((status, i) => ({
    id: `msg_${itemId}_${i}`,
    event: {
      type: `subscriptionItem.${status === "past_due" ? "pastDue" : status}`,
      timestamp: T + i,
      data: {
        id: itemId,
        status,
        updated_at: T + Math.floor(i / 2) * 1000,
        plan: { id: "cplan_pro", slug: "pro" },
        payer: { id: "cpayer_race", user_id: "user_race", organization_id: "" },
        subscription_id: "csub_race",
      },
    },
  }));
}

function shuffled<T>(list: T[]): T[] {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

describe.runIf(postgres)("Billing deliveries raced across two instances", () => {
  let db: TestDatabase;
  let instances: ClerkUserSync[];
  /** What each instance's `onEvent` received, in order. */
  const notified: SyncEvent[] = [];

  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).create();
    instances = [];
    for (let i = 0; i < 2; i++)
      instances.push(
        await createClerkUserSync({
          database: db.database,
          secrets: SECRETS,
          logger: { debug() {}, info() {}, warn() {}, error() {} },
          onEvent: (event) => {
            notified.push(event);
          },
        }),
      );
  });
  afterAll(async () => {
    for (const sync of instances) await sync.close();
    await db.drop();
  });

  it("leaves every item at its newest state, each message applied once", async () => {
    const items = Array.from({ length: 8 }, (_, i) => `csub_item_race_${i}`);
    const messages = items.flatMap(history);
    // Each instance takes every message once, three at a time in its own random order: small transactions that
    // interleave with the other instance's.
    const answers = (
      await Promise.all(
        (instances as ClerkUserSync[]).map(async (sync) => {
          const mine: { id: string; status: string }[] = [];
          const order = shuffled(messages);
          for (let i = 0; i < order.length; i += 3) {
            await Promise.all(
              order.slice(i, i + 3).map(async ({ id, event }) => {
                const { body, headers } = signedDelivery(event, { id });
                const res = await sync.handle({ body, headers });
                expect(res.status).toBe(200);
                mine.push({ id, status: (JSON.parse(res.body) as { status: string }).status });
              }),
            );
          }
          return mine;
        }),
      )
    ).flat();
    for (const { id } of messages) {
      const outcomes = answers.filter((a) => a.id === id).map((a) => a.status);
      expect(outcomes.filter((o) => o === "duplicate")).toHaveLength(1);
    }
    const [sync] = instances as [ClerkUserSync];
    const rows = await sync.database.query<{ clerk_item_id: string; status: string }>(
      "select clerk_item_id, status from billing_subscription_items order by clerk_item_id",
    );
    // The last step of each history is the newest: past_due (version T + 2000, envelope T + 5).
    expect(rows).toEqual([...items].sort().map((clerk_item_id) => ({ clerk_item_id, status: "past_due" })));
    const [{ n }] = (await sync.database.query<{ n: number }>(
      "select count(*)::int as n from webhook_deliveries",
    )) as [{ n: number }];
    expect(n).toBe(messages.length);
  });

  /**
   * What the object locks are for. The row itself needs none: the upsert's own guard (`where` stored < new) is
   * judged on the newest committed row. The answer does: `applied` or `stale` is decided from the statement's
   * snapshot, and under READ COMMITTED a statement that started before a newer event of the same object committed
   * would see the older row, answer `applied`, and tell `onEvent` so, for a state that is never stored. The lock,
   * taken in a statement of its own, makes the later transaction wait and take its snapshot after that commit.
   *
   * The interleaving is forced: a third connection holds the item's row, so that the newer event (ended) waits
   * inside its statement; then the older one (canceled) starts on the other instance, and the row is let go.
   */
  it("answers stale, and tells onEvent so, for an older event that raced a newer one of the same item", async () => {
    const [a, b] = instances as [ClerkUserSync, ClerkUserSync];
    const deliver = async (sync: ClerkUserSync, event: unknown, id: string) => {
      const res = await sync.handle(signedDelivery(event, { id }));
      expect(res.status).toBe(200);
      return (JSON.parse(res.body) as { status: string }).status;
    };
    expect(await deliver(a, itemEvent("active", T), "msg_lock_active")).toBe("applied");

    // The holder's transaction, and a watcher outside it: a transaction sees pg_stat_activity as at its first look.
    const holder = new pg.Client({ connectionString: db.database });
    const watcher = new pg.Client({ connectionString: db.database });
    await Promise.all([holder.connect(), watcher.connect()]);
    try {
      await holder.query("begin");
      await holder.query(
        "select 1 from billing_subscription_items where clerk_item_id = 'csub_item_lock' for update",
      );
      const waiting = (n: number) => waitFor(watcher, n);
      const ended = deliver(a, itemEvent("ended", T + 3000), "msg_lock_ended");
      await waiting(1);
      const canceled = deliver(b, itemEvent("canceled", T + 2000), "msg_lock_canceled");
      await waiting(2);
      await holder.query("commit");
      expect(await ended).toBe("applied");
      expect(await canceled).toBe("stale");
    } finally {
      await Promise.all([holder.end(), watcher.end()]);
    }
    const rows = await a.database.query<Record<string, unknown>>(
      "select status, clerk_updated_at from billing_subscription_items where clerk_item_id = 'csub_item_lock'",
    );
    expect(rows).toEqual([{ status: "ended", clerk_updated_at: new Date(T + 3000) }]);
    const logged = await a.database.query<Record<string, unknown>>(
      "select svix_id, outcome from webhook_deliveries where svix_id like 'msg_lock_%' order by svix_id",
    );
    expect(logged).toEqual([
      { svix_id: "msg_lock_active", outcome: "applied" },
      { svix_id: "msg_lock_canceled", outcome: "stale" },
      { svix_id: "msg_lock_ended", outcome: "applied" },
    ]);
    // Each instance tells its own onEvent after its commit: the two hooks of the race may run in either order.
    const told = notified.filter((e) => e.svixId.startsWith("msg_lock_"));
    expect(told.map((e) => [e.svixId, e.outcome]).sort()).toEqual([
      ["msg_lock_active", "applied"],
      ["msg_lock_canceled", "stale"],
      ["msg_lock_ended", "applied"],
    ]);
  });

  /**
   * The object locks also keep two transactions from deadlocking. The writer puts the deliveries queued together in
   * one transaction, one statement per run of a resource: a batch with Billing, then a user, then Billing again writes
   * its items in two statements. Two such batches over the same items in opposite orders would each hold the item the
   * other writes next (a deadlock: one fails, its deliveries are answered 503 and come back later); the locks, all
   * taken sorted before the first statement, queue the second batch behind the first instead.
   *
   * Forced as above: a third connection holds both users' rows, so that each batch stops after its first statement.
   */
  it("commits two batches that write the same items in opposite orders, one after the other", async () => {
    const [a, b] = instances as [ClerkUserSync, ClerkUserSync];
    const post = (event: unknown, id: string) => a.handle(signedDelivery(event, { id }));
    const user = (id: string, at: number) => userEvent("user.updated", { id, created_at: T, updated_at: at });
    for (const [i, event] of [
      itemEvent("active", T, "csub_item_one"),
      itemEvent("active", T, "csub_item_two"),
      user("user_one", T),
      user("user_two", T),
    ].entries())
      expect((await post(event, `msg_order_setup_${i}`)).status).toBe(200);

    const batch = (db: Database, name: string, events: unknown[]) =>
      applyBatch(
        db,
        events.map((event, i) => {
          const body = JSON.stringify(event);
          return queued({
            ...decode({ environment: "development", svixId: `msg_${name}_${i}`, body }),
            body,
          });
        }),
      );
    const holder = new pg.Client({ connectionString: db.database });
    const watcher = new pg.Client({ connectionString: db.database });
    await Promise.all([holder.connect(), watcher.connect()]);
    try {
      await holder.query("begin");
      await holder.query("select 1 from users where clerk_user_id in ('user_one', 'user_two') for update");
      const first = batch(a.database, "first", [
        itemEvent("canceled", T + 1000, "csub_item_two"),
        user("user_one", T + 1000),
        itemEvent("canceled", T + 1000, "csub_item_one"),
      ]);
      await waitFor(watcher, 1);
      const second = batch(b.database, "second", [
        itemEvent("ended", T + 2000, "csub_item_one"),
        user("user_two", T + 2000),
        itemEvent("ended", T + 2000, "csub_item_two"),
      ]);
      await waitFor(watcher, 2);
      await holder.query("commit");
      expect(await Promise.allSettled([first, second])).toEqual([
        { status: "fulfilled", value: ["applied", "applied", "applied"] },
        { status: "fulfilled", value: ["applied", "applied", "applied"] },
      ]);
    } finally {
      await Promise.all([holder.end(), watcher.end()]);
    }
    const rows = await a.database.query<Record<string, unknown>>(
      `select clerk_item_id, status from billing_subscription_items
      where clerk_item_id in ('csub_item_one', 'csub_item_two') order by clerk_item_id`,
    );
    expect(rows).toEqual([
      { clerk_item_id: "csub_item_one", status: "ended" },
      { clerk_item_id: "csub_item_two", status: "ended" },
    ]);
  });
});

/** A standalone event of the item `id` at `status` and version `updatedAt`, its envelope a second later. */
function itemEvent(status: string, updatedAt: number, id = "csub_item_lock") {
  return {
    type: `subscriptionItem.${status}`,
    timestamp: updatedAt + 1000,
    data: {
      id,
      status,
      updated_at: updatedAt,
      plan: { id: "cplan_pro", slug: "pro", is_recurring: true },
      payer: { id: "cpayer_lock", user_id: "user_lock", organization_id: "" },
      subscription_id: "csub_lock",
      period_end: Date.now() + 30 * 86_400_000,
    },
  };
}

/** Resolves when `n` sessions of the database wait for a lock (a row's or an advisory one). */
async function waitFor(client: pg.Client, n: number): Promise<void> {
  for (let tries = 0; tries < 500; tries++) {
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock'`,
    );
    if ((rows[0]?.n ?? 0) >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`waitFor: fewer than ${n} sessions wait for a lock`);
}
