import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClerkUserSync, createClerkUserSync } from "../../src/sync.js";
import { type Backend, backends } from "./backends.js";
import {
  BILLING_AS_EXPECTED,
  billingWorlds,
  type ExpectedPlan,
  expectedBilling,
  PLANS_AS_EXPECTED,
} from "./billing-histories.js";
import { type Harness, openHarness } from "./harness.js";
import { type Delivery, schedule } from "./histories.js";
import { SECRETS, signedDelivery } from "./sign.js";

/** What a run writes, emptied before the next: a delete writes only its tombstone. */
const BILLING_TABLES =
  "billing_subscriptions, billing_subscription_items, billing_plans, billing_payment_attempts";

/** One way to deliver: through the harness's HTTP server, or straight to another instance's handler. */
type Send = (d: Delivery) => Promise<{ status: number; body: Record<string, unknown> }>;

/** The instances a run delivers through, over one fresh database. */
interface Instances {
  h: Harness;
  sends: Send[];
  close(): Promise<void>;
}

/**
 * The harness's instance, each writing up to four transactions at once, and on PostgreSQL a second one on the same
 * database with its own pool, as a second process would be; `batches` receives each transaction's size.
 */
async function openInstances(backend: Backend, batches: number[]): Promise<Instances> {
  const writer = { concurrency: 4 };
  const h = await openHarness(backend, {
    logLevel: "warn",
    writer,
    observer: { write: (n) => batches.push(n) },
  });
  const sends: Send[] = [(d) => h.post(d.event, { env: d.env, id: d.id })];
  let second: ClerkUserSync | undefined;
  if (backend.name === "postgres") {
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const other = await createClerkUserSync({ database: h.db.database, secrets: SECRETS, logger, writer });
    second = other;
    sends.push(async (d) => {
      const res = await other.handle(signedDelivery(d.event, { env: d.env, id: d.id }));
      return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
    });
  }
  return {
    h,
    sends,
    async close() {
      await second?.close();
      await h.close();
    },
  };
}

/**
 * Delivers `sends` in order, `chunks[i]` at a time at once, each through the instance `via` names; checks that each
 * is answered 200 and returns every answer's status by svix-id.
 */
async function deliver(
  instances: readonly Send[],
  { sends, chunks, via }: { sends: readonly Delivery[]; chunks: readonly number[]; via: readonly number[] },
): Promise<Map<string, string[]>> {
  const answers = new Map<string, string[]>();
  for (let at = 0, c = 0; at < sends.length; c++) {
    const chunk = sends.slice(at, at + (chunks[c % chunks.length] ?? 1));
    const responses = await Promise.all(
      chunk.map((d, i) => (instances[(via[(at + i) % via.length] ?? 0) % instances.length] as Send)(d)),
    );
    for (const [i, res] of responses.entries()) {
      const d = chunk[i] as Delivery;
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: expect.any(String), environment: d.env, type: d.event.type });
      answers.set(d.id, [...(answers.get(d.id) ?? []), res.body.status as string]);
    }
    at += chunk.length;
  }
  return answers;
}

/** A run: a world, its schedule (redeliveries included), how many go at once, and through which instance. */
const scenario = (maxPayers: number) =>
  billingWorlds(1, maxPayers).chain((world) =>
    fc.record({
      world: fc.constant(world),
      sends: schedule(world.deliveries),
      chunks: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 10 }),
      via: fc.array(fc.nat(1), { minLength: 1, maxLength: 16 }),
    }),
  );

/**
 * The Billing property, run by test/billing.property.test.ts (many runs, `npm run test:slow`) and
 * test/billing.histories.test.ts (a few, `npm test`): whatever the order, the redeliveries and the concurrency, the
 * Billing tables and `billing_current_plans` end as the model says (test/support/billing-histories.ts). On
 * PostgreSQL two instances of the library share the database, each writing several transactions at once; on
 * PGlite the one instance groups concurrent deliveries into shared transactions.
 */
export async function describeBillingProperty(options: {
  seed: number;
  numRuns: number;
  maxPayers: number;
  /** Whether the runs must have put several deliveries in one transaction at least once. */
  expectGroupCommit: boolean;
}): Promise<void> {
  describe.each(await backends())("Billing histories on $name", (backend) => {
    let instances: Instances;
    const batches: number[] = [];
    beforeAll(async () => {
      instances = await openInstances(backend, batches);
    });
    afterAll(() => instances.close());

    it("converges to each object's newest event and the model's plan in force, whatever the delivery", async () => {
      const query = (sql: string) => instances.h.sync.database.query<Record<string, unknown>>(sql);
      await fc.assert(
        fc.asyncProperty(scenario(options.maxPayers), async (run) => {
          await query(
            `truncate webhook_deliveries, user_tombstones, organization_tombstones, ${BILLING_TABLES}`,
          );
          const answers = await deliver(instances.sends, run);
          const expected = expectedBilling(run.world);
          expect(await query(BILLING_AS_EXPECTED.subscriptions)).toEqual(expected.subscriptions);
          expect(await query(BILLING_AS_EXPECTED.items)).toEqual(expected.items);
          expect(await query(BILLING_AS_EXPECTED.attempts)).toEqual(expected.attempts);
          expectPlans((await query(PLANS_AS_EXPECTED)) as unknown as ExpectedPlan[], expected.plans);

          // Each message was decided once, every other send of it a duplicate; the log holds that decision, and an
          // event whose state is stored was applied.
          const logged = await query("select svix_id, outcome from webhook_deliveries");
          expect(logged).toHaveLength(answers.size);
          for (const { svix_id, outcome } of logged) {
            const statuses = answers.get(svix_id as string) ?? [];
            expect(statuses.filter((s) => s !== "duplicate")).toEqual([outcome]);
            if (expected.mustBeApplied.has(svix_id as string)) expect(outcome).toBe("applied");
          }
        }),
        { seed: options.seed, numRuns: options.numRuns },
      );
      if (options.expectGroupCommit) expect(Math.max(...batches)).toBeGreaterThan(1);
    });
  });
}

/** The view holds one row per payer the model gives a plan to, one of the items that rank first, and no other. */
function expectPlans(
  rows: ExpectedPlan[],
  expected: { payer: { env: string; clerkId: string }; candidates: ExpectedPlan[] }[],
): void {
  const payerOf = (r: ExpectedPlan) => `${r.environment}:${r.clerk_user_id ?? r.clerk_org_id}`;
  expect(rows.map(payerOf).sort()).toEqual(expected.map((e) => `${e.payer.env}:${e.payer.clerkId}`).sort());
  for (const { payer, candidates } of expected) {
    const row = rows.find((r) => payerOf(r) === `${payer.env}:${payer.clerkId}`);
    expect(candidates).toContainEqual(row);
  }
}
