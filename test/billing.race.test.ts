import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClerkUserSync, createClerkUserSync } from "../src/sync.js";
import { backends, type TestDatabase } from "./support/backends.js";
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

  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).create();
    instances = [];
    for (let i = 0; i < 2; i++)
      instances.push(
        await createClerkUserSync({
          database: db.database,
          secrets: SECRETS,
          logger: { debug() {}, info() {}, warn() {}, error() {} },
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
});
