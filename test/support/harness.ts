import { Agent, request } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import type { ConsoleOptions } from "../../src/console/plugin.js";
import { createRefusalLog, type RefusalLog } from "../../src/console/refusals.js";
import {
  type ClerkUserSync,
  type ClerkUserSyncOptions,
  createClerkUserSync,
  WEBHOOK_PATH,
} from "../../src/index.js";
import { createMetrics } from "../../src/service/metrics.js";
import { buildServer, type ServerParts } from "../../src/service/server.js";
import type { Backend, TestDatabase } from "./backends.js";
import { SECRETS, type SignOptions, signedDelivery } from "./sign.js";

export interface Posted {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, unknown>;
  svixId: string;
}

/** The service in-process over a fresh database, with helpers to post signed deliveries and read the tables. */
export interface Harness {
  sync: ClerkUserSync;
  app: FastifyInstance;
  db: TestDatabase;
  /** Every log line the service wrote, as JSON text. */
  logs: string[];
  /** The refusals the console lists (fed by the core's observer). */
  refusals: RefusalLog;
  /** Posts `event` signed by `signedDelivery` (with these options) to the webhook route. */
  post(event: unknown, options?: SignOptions): Promise<Posted>;
  users(): Promise<Record<string, unknown>[]>;
  tombstones(): Promise<Record<string, unknown>[]>;
  deliveries(): Promise<Record<string, unknown>[]>;
  /** Every row of a table, in a stable order (for the organization tables). */
  rows(table: OrganizationTable): Promise<Record<string, unknown>[]>;
  /** Empties every table of synced rows (a scheduled reconcile's lease and runs stay). */
  reset(): Promise<void>;
  /**
   * Makes the database itself refuse to store users whose id matches `like` (a trigger raising `sqlstate`,
   * 53400 configuration_limit_exceeded by default: a transient failure, answered 503): a real database failure
   * for chosen deliveries. Resolves with the function that lifts it.
   */
  refuseUsers(like: string, sqlstate?: string): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** The organization tables, each with the order `rows` reads it in. */
const ORGANIZATION_TABLES = {
  organizations: "environment, clerk_org_id",
  organization_tombstones: "environment, clerk_org_id",
  organization_memberships: "environment, clerk_membership_id",
  organization_membership_tombstones: "environment, clerk_membership_id",
} as const;
export type OrganizationTable = keyof typeof ORGANIZATION_TABLES;

export async function openHarness(
  backend: Backend,
  {
    console,
    timeouts,
    logLevel,
    ...options
  }: Partial<ClerkUserSyncOptions> & {
    logLevel?: string;
    timeouts?: ServerParts["timeouts"];
    /** The console's settings (its access mode above all); omitted: the console is off. */
    console?: Omit<ConsoleOptions, "sync" | "refusals" | "instances"> &
      Partial<Pick<ConsoleOptions, "instances">>;
  } = {},
): Promise<Harness> {
  const db = await backend.create({ migrated: true });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  const logger = pino({ level: logLevel ?? "info" }, sink);
  const metrics = createMetrics();
  const refusals = createRefusalLog();
  const sync = await createClerkUserSync({
    database: db.database,
    dataDir: db.dataDir,
    secrets: SECRETS,
    logger,
    observer: {
      ...metrics.observer,
      refusal(refusal) {
        metrics.observer.refusal?.(refusal);
        refusals.record(refusal);
      },
    },
    ...options,
  });
  const app = buildServer({
    sync,
    metrics,
    logger,
    timeouts,
    console: console && { instances: ["development", "production"], ...console, refusals },
  });
  await app.ready();
  const query = (sql: string) => sync.database.query<Record<string, unknown>>(sql);
  // Deliveries go over a real socket, as Svix sends them: the service serves the webhook POST from node:http
  // (src/service/webhook-route.ts), a path `app.inject()` would not take. The server listens at the first post,
  // unless the test made it listen before.
  const agent = new Agent({ keepAlive: true });
  let listening: Promise<number> | undefined;
  const port = () => {
    listening ??= app.server.listening
      ? Promise.resolve((app.server.address() as AddressInfo).port)
      : app.listen({ port: 0, host: "127.0.0.1" }).then(() => (app.server.address() as AddressInfo).port);
    return listening;
  };
  return {
    sync,
    app,
    db,
    logs,
    refusals,
    async post(event, options = {}) {
      const { body, headers, svixId } = signedDelivery(event, options);
      const response = await send(agent, await port(), headers, body);
      return { ...response, svixId };
    },
    users: () => query("select * from users order by environment, clerk_user_id"),
    tombstones: () => query("select * from user_tombstones order by environment, clerk_user_id"),
    deliveries: () => query("select * from webhook_deliveries order by received_at, svix_id"),
    rows: (table) => query(`select * from ${table} order by ${ORGANIZATION_TABLES[table]}`),
    async reset() {
      await query(
        `truncate users, user_tombstones, webhook_deliveries, ${Object.keys(ORGANIZATION_TABLES).join(", ")}, ` +
          "billing_subscriptions, billing_subscription_items, billing_plans, billing_payment_attempts, " +
          "backfill_checkpoints",
      );
    },
    async refuseUsers(like, sqlstate = "53400") {
      const name = `test_refuse_${Math.random().toString(36).slice(2)}`;
      await query(
        `create function ${name}() returns trigger language plpgsql as $$ begin ` +
          `if new.clerk_user_id like '${like}' then ` +
          `raise exception 'refused by the test' using errcode = '${sqlstate}'; end if; return new; end $$`,
      );
      await query(
        `create trigger ${name} before insert or update on users for each row execute function ${name}()`,
      );
      return async () => {
        await query(`drop trigger ${name} on users`);
        await query(`drop function ${name}()`);
      };
    },
    async close() {
      agent.destroy();
      await app.close();
      await sync.close();
      await db.drop();
    },
  };
}

/** One POST of the webhook over HTTP/1.1, its answer read whole. */
function send(
  agent: Agent,
  port: number,
  headers: Record<string, string>,
  body: string,
): Promise<Omit<Posted, "svixId">> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { agent, host: "127.0.0.1", port, method: "POST", path: WEBHOOK_PATH, headers },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("error", reject);
        incoming.on("end", () =>
          resolve({
            status: incoming.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
            headers: incoming.headers,
          }),
        );
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}
