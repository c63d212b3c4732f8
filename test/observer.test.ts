import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clerkUserSyncExpress } from "../src/adapters/express.js";
import { clerkUserSyncFastify } from "../src/adapters/fastify.js";
import { clerkUserSyncRoute, closeClerkUserSyncRoutes } from "../src/adapters/next.js";
import { toWebHandler } from "../src/adapters/web.js";
import { type Observer, WEBHOOK_PATH } from "../src/index.js";
import { backends, type TestDatabase } from "./support/backends.js";
import { userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { SECRETS, STRANGER_SECRET, signedDelivery } from "./support/sign.js";

/**
 * The metrics hooks reach the observer a user passes, whichever way the webhook is mounted. A stored delivery
 * fires `delivery` and `write`; a stranger's signature fires `signatureFailure`, `delivery` and `refusal`.
 */

/** Which hooks fired since the last `clear()`. `Required`: a hook added to Observer must be listed here too. */
function recorder(): { observer: Required<Observer>; fired: Set<string>; clear(): void } {
  const fired = new Set<string>();
  return {
    fired,
    clear: () => fired.clear(),
    observer: {
      delivery: () => void fired.add("delivery"),
      signatureFailure: () => void fired.add("signatureFailure"),
      write: () => void fired.add("write"),
      refusal: () => void fired.add("refusal"),
    },
  };
}

const EVERY_HOOK = ["delivery", "refusal", "signatureFailure", "write"];

type Post = (body: string, headers: Record<string, string>) => Promise<number>;

const over =
  (base: string): Post =>
  async (body, headers) =>
    (await fetch(`${base}${WEBHOOK_PATH}`, { method: "POST", body, headers })).status;

const local = (handler: (request: Request) => Promise<Response>): Post => {
  return async (body, headers) =>
    (await handler(new Request(`http://localhost${WEBHOOK_PATH}`, { method: "POST", body, headers }))).status;
};

describe.each((await backends()).slice(0, 1))("the observer's hooks on $name", (backend) => {
  const core = recorder();
  const next = recorder();
  const posts: Record<string, { post: Post; fired: Set<string>; clear(): void }> = {};
  let h: Harness;
  let fastify: FastifyInstance;
  let server: Server;
  let nextDb: TestDatabase;

  beforeAll(async () => {
    h = await openHarness(backend, { observer: core.observer });
    const service = over(await h.app.listen({ port: 0, host: "127.0.0.1" }));
    fastify = Fastify();
    await fastify.register(clerkUserSyncFastify, { sync: h.sync });
    const viaFastify = over(await fastify.listen({ port: 0, host: "127.0.0.1" }));
    const app = express();
    app.use(clerkUserSyncExpress(h.sync));
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const viaExpress = over(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    nextDb = await backend.create();
    const route = clerkUserSyncRoute({
      env: {},
      secrets: SECRETS,
      database: nextDb.database,
      dataDir: nextDb.dataDir,
      observer: next.observer,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    Object.assign(posts, {
      "the service's node:http route": { post: service, ...core },
      fastify: { post: viaFastify, ...core },
      express: { post: viaExpress, ...core },
      web: { post: local(toWebHandler(h.sync)), ...core },
      next: { post: local(route.POST), ...next },
    });
  });
  afterAll(async () => {
    await closeClerkUserSyncRoutes();
    await new Promise((resolve) => server.close(resolve));
    await fastify.close();
    await h.close();
    await nextDb.drop();
  });

  it.each(["the service's node:http route", "fastify", "express", "web", "next"])(
    "%s: a stored delivery and a stranger's signature fire every hook",
    async (name) => {
      const target = posts[name];
      if (!target) throw new Error(`no ${name}`);
      target.clear();
      const id = `user_${name.replace(/\W+/g, "_")}`;
      const stored = signedDelivery(userEvent("user.created", { id }));
      expect(await target.post(stored.body, stored.headers)).toBe(200);
      const forged = signedDelivery(userEvent("user.created", { id }), { secret: STRANGER_SECRET });
      expect(await target.post(forged.body, forged.headers)).toBe(401);
      expect([...target.fired].sort()).toEqual(EVERY_HOOK);
    },
  );
});
