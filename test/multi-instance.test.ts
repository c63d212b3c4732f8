import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WEBHOOK_PATH } from "../src/sync.js";
import { backends, type TestDatabase } from "./support/backends.js";
import { BIN } from "./support/cli.js";
import { deletedEvent, membershipEvent, organizationEvent } from "./support/fixtures.js";
import {
  type Delivery,
  expectedOrganizations,
  expectedState,
  histories,
  MEMBERSHIPS_AS_EXPECTED,
  ORGANIZATION_TOMBSTONES_AS_EXPECTED,
  ORGANIZATIONS_AS_EXPECTED,
  schedule,
  TOMBSTONES_AS_EXPECTED,
  USERS_AS_EXPECTED,
  worlds,
} from "./support/histories.js";
import { killStarted, LISTENING, type Program, start, terminate } from "./support/program.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

const postgres = (await backends()).find((b) => b.name === "postgres");

/** A `clerk-user-sync serve` process and the address it listens on. */
interface Instance {
  program: Program;
  url: string;
}

/** Starts the real service the way an operator does; resolves once it listens (PORT=0: any free port). */
async function serve(db: TestDatabase): Promise<Instance> {
  const program = start(process.execPath, [BIN, "serve"], {
    ...db.env,
    DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
    PROD_CLERK_WEBHOOK_SECRET: SECRETS.production,
    HOST: "127.0.0.1",
    PORT: "0",
    PRUNE_INTERVAL: "off",
  });
  const [, port] = await program.waitFor(LISTENING);
  return { program, url: `http://127.0.0.1:${port}` };
}

async function send(
  instance: Instance,
  d: Delivery,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { body, headers } = signedDelivery(d.event, { env: d.env, id: d.id });
  const res = await fetch(`${instance.url}${WEBHOOK_PATH}`, { method: "POST", headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe.runIf(postgres)("two instances on one PostgreSQL database", () => {
  let db: TestDatabase;
  let instances: Instance[] = [];
  let client: pg.Client;

  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).create();
    // Started together: they also race to migrate the fresh database.
    instances = await Promise.all([serve(db), serve(db)]);
    client = new pg.Client({ connectionString: db.database });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await Promise.all(instances.map(({ program }) => terminate(program)));
    killStarted();
    await db?.drop();
  });

  it("converges to Clerk's latest state when both receive every delivery at once, in any order", async () => {
    const [list] = fc.sample(histories(40, 40), { seed: 20240527, numRuns: 1 });
    const messages = (list ?? []).flatMap((h) => h.deliveries);
    const [sends = []] = fc.sample(schedule(messages, Math.floor(messages.length / 2)), {
      seed: 20240527,
      numRuns: 1,
    });
    const answers = new Map<string, string[]>();
    for (let at = 0; at < sends.length; at += 12) {
      const chunk = sends.slice(at, at + 12);
      const responses = await Promise.all(
        chunk.flatMap((d) => instances.map(async (instance) => [d, await send(instance, d)] as const)),
      );
      for (const [d, res] of responses) {
        expect(res.status).toBe(200);
        answers.set(d.id, [...(answers.get(d.id) ?? []), res.body.status as string]);
      }
    }
    expect(sends.length * instances.length).toBeGreaterThan(300);

    const expected = expectedState(list ?? []);
    expect((await client.query(USERS_AS_EXPECTED)).rows).toEqual(expected.users);
    expect((await client.query(TOMBSTONES_AS_EXPECTED)).rows).toEqual(expected.tombstones);

    // Every svix-id logged exactly once, and decided exactly once across both instances.
    const logged = (await client.query("select svix_id, outcome from webhook_deliveries")).rows;
    expect(logged).toHaveLength(messages.length);
    expect(new Set(logged.map((r) => r.svix_id)).size).toBe(messages.length);
    for (const { svix_id, outcome } of logged) {
      expect((answers.get(svix_id) ?? []).filter((s) => s !== "duplicate")).toEqual([outcome]);
    }
  });

  it("a membership created on one instance while its organization or user is deleted on the other never survives", async () => {
    await client.query(
      "truncate organizations, organization_memberships, organization_tombstones, user_tombstones",
    );
    const T = 1_700_000_000_000;
    const delivery = (event: Delivery["event"]): Delivery => ({
      event,
      env: "production",
      id: `msg_${crypto.randomUUID()}`,
    });
    const races = Array.from({ length: 40 }, async (_, i) => {
      const ids = { id: `orgmem_race${i}`, org: `org_race${i}`, user: `user_race${i}` };
      const created = await send(
        instances[0] as Instance,
        delivery(organizationEvent("organization.created", ids.org, { updatedAt: T })),
      );
      expect(created.body.status).toBe("applied");
      const gone =
        i % 2 === 0
          ? organizationEvent("organization.deleted", ids.org, { updatedAt: T + 2 })
          : deletedEvent(ids.user, T + 2);
      const answers = await Promise.all([
        send(
          instances[0] as Instance,
          delivery(membershipEvent("organizationMembership.created", ids, { updatedAt: T + 1 })),
        ),
        send(instances[1] as Instance, delivery(gone)),
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
      expect(answers[1]?.body.status).toBe("applied");
    });
    await Promise.all(races);
    expect((await client.query("select clerk_membership_id from organization_memberships")).rows).toEqual([]);
  });

  it("converges for users, organizations and memberships when both instances receive every delivery", async () => {
    await client.query(
      "truncate users, user_tombstones, organizations, organization_memberships, organization_tombstones, organization_membership_tombstones, webhook_deliveries",
    );
    const [world] = fc.sample(worlds(), { seed: 20261129, numRuns: 1 });
    if (!world) throw new Error("no sample");
    const messages = [world.users, world.organizations, world.memberships]
      .flat()
      .flatMap((h) => h.deliveries);
    const [sends = []] = fc.sample(schedule(messages, messages.length), { seed: 20261129, numRuns: 1 });
    for (let at = 0; at < sends.length; at += 8) {
      const chunk = sends.slice(at, at + 8);
      const responses = await Promise.all(
        chunk.flatMap((d) => instances.map((instance) => send(instance, d))),
      );
      expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
    }
    const expected = expectedOrganizations(world);
    expect((await client.query(USERS_AS_EXPECTED)).rows).toEqual(expectedState(world.users).users);
    expect((await client.query(ORGANIZATIONS_AS_EXPECTED)).rows).toEqual(expected.organizations);
    expect((await client.query(ORGANIZATION_TOMBSTONES_AS_EXPECTED)).rows).toEqual(expected.tombstones);
    expect((await client.query(MEMBERSHIPS_AS_EXPECTED)).rows).toEqual(expected.memberships);
    expect((await client.query("select 1 from webhook_deliveries")).rows).toHaveLength(messages.length);
  });

  it("both instances stop cleanly on SIGTERM", async () => {
    const exits = await Promise.all(instances.map(({ program }) => terminate(program)));
    expect(exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
  });
});
