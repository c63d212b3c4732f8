import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import express from "express";
import Fastify, { type FastifyInstance } from "fastify";
import { Hono } from "hono";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clerkUserSyncExpress } from "../src/adapters/express.js";
import { clerkUserSyncFastify } from "../src/adapters/fastify.js";
import { toWebHandler } from "../src/adapters/web.js";
import { type SyncEvent, WEBHOOK_PATH } from "../src/index.js";
import { backends } from "./support/backends.js";
import { clerkEvent, userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { STRANGER_SECRET, signedDelivery, signedNonUtf8 } from "./support/sign.js";

interface Answer {
  status: number;
  body: Record<string, unknown>;
}
/** Posts one request to one way of mounting the webhook. */
type Send = (init: {
  body: RequestInit["body"];
  headers: Record<string, string>;
  duplex?: "half";
  method?: string;
}) => Promise<Answer>;

const LIMIT = 64 * 1024;
const MISORDERED = /body parser read the request/;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** What @hono/node-server does, in a few lines: a Fetch handler behind a real Node socket. */
function fetchServer(handler: (request: Request) => Response | Promise<Response>): Server {
  return createServer(async (req: IncomingMessage, res) => {
    const headers = Object.entries(req.headers).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : []));
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: req.method,
      headers: headers as [string, string][],
      body:
        req.method === "GET" || req.method === "HEAD" ? undefined : (Readable.toWeb(req) as ReadableStream),
      duplex: "half",
    });
    const response = await handler(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
}

async function answerOf(response: Response): Promise<Answer> {
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Posts over a real socket. */
const over =
  (base: string, path = WEBHOOK_PATH): Send =>
  async (init) =>
    answerOf(await fetch(`${base}${path}`, { method: "POST", ...init }));

describe.each(await backends())("adapters on $name", (backend) => {
  let h: Harness;
  let hook: (event: SyncEvent) => void | Promise<void> = () => {};
  const servers: Server[] = [];
  let fastify: FastifyInstance;
  const send: Record<string, Send> = {};
  const echo: Record<string, string> = {};

  beforeAll(async () => {
    h = await openHarness(backend, { bodyLimit: LIMIT, onEvent: (event) => hook(event) });
    const { sync } = h;
    const serve = async (name: string, server: Server, path?: string) => {
      servers.push(server);
      const base = await listen(server);
      send[name] = over(base, path);
      echo[name] = `${base}/api/echo`;
    };

    send.service = over(await h.app.listen({ port: 0, host: "127.0.0.1" }));

    const before = express();
    before.use(clerkUserSyncExpress(sync));
    before.use(express.json());
    before.post("/api/echo", (req, res) => void res.json(req.body));
    await serve("express before express.json()", createServer(before));

    const keeping = express();
    keeping.use(
      express.json({ verify: (req, _res, buf) => Object.assign(req, { rawBody: buf }) }),
      clerkUserSyncExpress(sync, { path: "/hooks/clerk" }),
    );
    keeping.post("/api/echo", (req, res) => void res.json(req.body));
    await serve("express after express.json({ verify })", createServer(keeping), "/hooks/clerk");

    const raw = express();
    raw.use(express.raw({ type: "*/*" }), clerkUserSyncExpress(sync));
    raw.post("/api/echo", (req, res) => void res.json(JSON.parse(String(req.body))));
    await serve("express after express.raw()", createServer(raw));

    const misordered = express();
    misordered.use(express.json(), clerkUserSyncExpress(sync));
    await serve("express after plain express.json()", createServer(misordered));

    fastify = Fastify();
    fastify.removeContentTypeParser("application/json");
    fastify.addContentTypeParser("application/json", { parseAs: "string" }, (_req, text, done) => {
      done(null, { parsedBy: "app", value: JSON.parse(String(text)) });
    });
    fastify.post("/api/echo", async (request) => request.body);
    await fastify.register(clerkUserSyncFastify, { sync });
    const base = await fastify.listen({ port: 0, host: "127.0.0.1" });
    send.fastify = over(base);
    echo.fastify = `${base}/api/echo`;

    const hono = new Hono();
    const handler = toWebHandler(sync);
    hono.post(WEBHOOK_PATH, (c) => handler(c.req.raw));
    hono.post("/api/echo", async (c) => c.json(await c.req.json()));
    await serve("hono", fetchServer(hono.fetch));

    const bare = toWebHandler(sync, { path: WEBHOOK_PATH });
    send["bare Request"] = async (init) =>
      answerOf(await bare(new Request(`http://localhost${WEBHOOK_PATH}`, { method: "POST", ...init })));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await fastify.close();
    await h.close();
  });
  beforeEach(async () => {
    hook = () => {};
    await h.reset();
  });

  /** The adapters that, mounted as documented, must answer exactly as the service. */
  const CONSISTENT = ["express before express.json()", "fastify", "hono", "bare Request"];
  const WORKING = [
    "express before express.json()",
    "express after express.json({ verify })",
    "express after express.raw()",
    "fastify",
    "hono",
    "bare Request",
  ];

  it.each(WORKING)("%s: a signed user.created answers 200 applied and stores the row", async (name) => {
    const id = `user_${name.replace(/\W+/g, "_")}`;
    const { body, headers } = signedDelivery(userEvent("user.created", { id }), { env: "production" });
    const answer = await send[name]?.({ body, headers });
    expect(answer).toEqual({
      status: 200,
      body: { status: "applied", environment: "production", type: "user.created" },
    });
    expect(await h.sync.getUser({ clerkUserId: id, environment: "production" })).toMatchObject({
      clerkUserId: id,
      environment: "production",
      email: "example@example.org",
      firstName: "Example",
    });
    const url = echo[name];
    if (url) {
      // The app's own parser still serves its other routes.
      const res = await fetch(url, {
        method: "POST",
        body: '{"a":1}',
        headers: { "content-type": "application/json" },
      });
      expect(await res.json()).toEqual(name === "fastify" ? { parsedBy: "app", value: { a: 1 } } : { a: 1 });
    }
  });

  it("express after plain express.json(): 500 raw_body_unavailable, nothing written, one warning", async () => {
    const send500 = send["express after plain express.json()"];
    for (const event of [clerkEvent("user.created.docs"), clerkEvent("user.updated.openapi")]) {
      const { body, headers } = signedDelivery(event);
      expect(await send500?.({ body, headers })).toEqual({
        status: 500,
        body: {
          code: "raw_body_unavailable",
          message: expect.stringMatching(/mount clerkUserSyncExpress before/),
        },
      });
    }
    expect(await h.users()).toEqual([]);
    expect(await h.deliveries()).toEqual([]);
    const warnings = h.logs.map((line) => JSON.parse(line)).filter((l) => MISORDERED.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, path: WEBHOOK_PATH });
    expect(h.logs.join("\n")).not.toContain("example@example.org");
  });

  it("express after plain express.json() still reads a body that parser skipped (text/plain)", async () => {
    const { body, headers } = signedDelivery(clerkEvent("user.created.docs"), { contentType: "text/plain" });
    const answer = await send["express after plain express.json()"]?.({ body, headers });
    expect(answer?.body).toEqual({ status: "applied", environment: "development", type: "user.created" });
    expect(await h.users()).toHaveLength(1);
  });

  const huge = userEvent("user.created", { public_metadata: { blob: "x".repeat(LIMIT) } });
  it.each([
    [
      "no svix-id",
      () => signedDelivery(clerkEvent("user.created.docs"), { headers: { "svix-id": undefined } }),
      400,
    ],
    [
      "a stranger's signature",
      () => signedDelivery(clerkEvent("user.created.docs"), { secret: STRANGER_SECRET }),
      401,
    ],
    ["a body over the limit", () => signedDelivery(huge), 413],
    ["a verified body that is not JSON", () => signedDelivery("not json"), 422],
    [
      "an event type it does not handle",
      () => signedDelivery({ type: "session.created", data: { id: "s" } }),
      200,
    ],
  ])("answers %s identically from the service and every adapter", async (_case, make, status) => {
    const expected = await send.service?.(make());
    expect(expected?.status).toBe(status);
    expect(Object.keys(expected?.body ?? {})).toEqual(
      status === 200 ? ["status", "environment", "type"] : ["code", "message"],
    );
    for (const name of CONSISTENT) {
      expect({ name, ...(await send[name]?.(make())) }).toEqual({ name, ...expected });
    }
    expect(await h.users()).toEqual([]);
  });

  it("refuses a validly signed body that is not UTF-8 with 422 invalid_payload from the service and every adapter", async () => {
    for (const name of ["service", ...WORKING]) {
      const { body, headers } = signedNonUtf8(userEvent("user.created", { id: "user_\u00ffbad" }));
      const answer = await send[name]?.({ body, headers });
      expect({ name, ...answer }).toEqual({
        name,
        status: 422,
        body: { code: "invalid_payload", message: expect.stringMatching(/UTF-8/) },
      });
    }
    expect(await h.users()).toEqual([]);
    expect(await h.deliveries()).toEqual([]);
  });

  it("answers another method on the webhook path 405 method_not_allowed, from the service and the adapters", async () => {
    // Hono routes by itself (the app registered POST only), so it is not in this list.
    for (const name of ["service", "express before express.json()", "fastify", "bare Request"]) {
      const answer = await send[name]?.({ method: "PUT", body: "{}", headers: {} });
      expect({ name, ...answer }).toEqual({
        name,
        status: 405,
        body: { code: "method_not_allowed", message: "the webhook takes POST only" },
      });
    }
    expect(await h.deliveries()).toEqual([]);
  });

  it("refuses a chunked body over the limit (no content-length) with the same 413 everywhere", async () => {
    const from = h.logs.length;
    const { body, headers } = signedDelivery(huge);
    const chunked = (): ReadableStream<Uint8Array> =>
      new ReadableStream({
        start(controller) {
          for (let i = 0; i < body.length; i += 16 * 1024)
            controller.enqueue(Buffer.from(body.slice(i, i + 16 * 1024)));
          controller.close();
        },
      });
    const expected = { status: 413, body: { code: "payload_too_large", message: expect.any(String) } };
    const messages = new Set<unknown>();
    for (const name of ["service", ...CONSISTENT]) {
      const answer = await send[name]?.({ body: chunked(), headers, duplex: "half" });
      expect({ name, ...answer }).toEqual({ name, ...expected });
      messages.add(answer?.body.message);
    }
    expect(messages.size).toBe(1);
    expect(await h.users()).toEqual([]);
    // Refused before the core read them, they are still logged as refusals, like every 4xx.
    const refused = h.logs
      .slice(from)
      .map((line) => JSON.parse(line) as { msg?: string; code?: string })
      .filter((l) => l.msg === "delivery refused" && l.code === "payload_too_large");
    expect(refused).toHaveLength(1 + CONSISTENT.length);
  });

  it("a web handler with a path answers 404 elsewhere and 405 to other methods; a read body is refused", async () => {
    const handler = toWebHandler(h.sync, { path: WEBHOOK_PATH });
    const elsewhere = await handler(new Request("http://localhost/other", { method: "POST", body: "{}" }));
    expect(await answerOf(elsewhere)).toEqual({
      status: 404,
      body: { code: "not_found", message: "no route for POST /other" },
    });
    const get = await handler(new Request(`http://localhost${WEBHOOK_PATH}`));
    expect(get.headers.get("allow")).toBe("POST");
    expect(await answerOf(get)).toEqual({
      status: 405,
      body: { code: "method_not_allowed", message: expect.any(String) },
    });
    const { body, headers } = signedDelivery(clerkEvent("user.created.docs"));
    const read = new Request(`http://localhost${WEBHOOK_PATH}`, { method: "POST", body, headers });
    await read.text();
    const refused = await handler(read);
    expect(await answerOf(refused)).toEqual({
      status: 500,
      body: { code: "raw_body_unavailable", message: expect.any(String) },
    });
    expect(await h.users()).toEqual([]);
  });

  it("onEvent gets the committed row, and is awaited before the answer", async () => {
    const seen: SyncEvent[] = [];
    hook = async (event) => {
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(event);
    };
    const { body, headers, svixId } = signedDelivery(clerkEvent("user.created.docs"));
    const answer = await send.hono?.({ body, headers });
    expect(answer?.status).toBe(200);
    expect(seen).toEqual([
      {
        environment: "development",
        type: "user.created",
        outcome: "applied",
        svixId,
        clerkUserId: "user_29w83sxmDNGwOuEthce5gg56FcC",
        clerkOrgId: null,
        clerkMembershipId: null,
        organization: null,
        membership: null,
        billing: null,
        user: await h.sync.getUser({
          clerkUserId: "user_29w83sxmDNGwOuEthce5gg56FcC",
          environment: "development",
        }),
      },
    ]);
    expect(seen[0]?.user).toMatchObject({ email: "example@example.org", environment: "development" });
  });

  it("a throwing onEvent is logged, and the committed delivery is still answered 200", async () => {
    hook = () => {
      throw new Error("downstream is down");
    };
    const { body, headers } = signedDelivery(clerkEvent("user.created.docs"));
    const answer = await send["express before express.json()"]?.({ body, headers });
    expect(answer).toEqual({
      status: 200,
      body: { status: "applied", environment: "development", type: "user.created" },
    });
    expect(await h.users()).toMatchObject([{ clerk_user_id: "user_29w83sxmDNGwOuEthce5gg56FcC" }]);
    expect(h.logs.filter((line) => line.includes("onEvent hook failed"))).toHaveLength(1);
  });
});
