import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_HEADERS } from "../src/console/plugin.js";
import { createRefusalLog } from "../src/console/refusals.js";
import { SCRIPT } from "../src/console/script.generated.js";
import type { ErrorCode } from "../src/errors.js";
import { backends } from "./support/backends.js";
import { type ClerkEvent, clerkEvent, deletedEvent, EXAMPLE_TYPES, userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { SECRETS, STRANGER_SECRET } from "./support/sign.js";

const TOKEN = "console-token-7f3a9c1e5b";
const EMAIL = "ada.lovelace.4410@engines.example";
const FIRST = "Adaaugusta";
const HOST = "console.test:3000";

function personalEvent(id: string, email = `${id}@engines.example`) {
  return userEvent("user.created", {
    id,
    email_addresses: [{ id: "idn_ada", email_address: email, object: "email_address" }],
    primary_email_address_id: "idn_ada",
    first_name: FIRST,
    updated_at: Date.now(),
  });
}

interface Call {
  method: "GET" | "POST" | "DELETE";
  url: string;
  payload?: object;
}

/** Every console API endpoint that needs a session, with a harmless request. */
const PROTECTED: Call[] = [
  { method: "GET", url: "/console/api/setup" },
  { method: "GET", url: "/console/api/deliveries" },
  { method: "GET", url: "/console/api/deliveries?environment=development&outcome=applied&limit=5" },
  { method: "GET", url: "/console/api/refusals" },
  { method: "GET", url: "/console/api/summary" },
  { method: "GET", url: "/console/api/summary?range=day" },
  { method: "POST", url: "/console/api/users/lookup", payload: { environment: "development", query: EMAIL } },
  {
    method: "POST",
    url: "/console/api/organizations/lookup",
    payload: { environment: "development", query: "org_1" },
  },
];

describe.each(await backends())("the console's API on $name", (backend) => {
  let h: Harness;
  let local: Harness;
  let off: Harness;
  beforeAll(async () => {
    [h, local, off] = await Promise.all([
      openHarness(backend, { logLevel: "trace", console: { access: { mode: "token", token: TOKEN } } }),
      openHarness(backend, {
        console: { access: { mode: "local" }, host: "127.0.0.1", exampleSecret: SECRETS.development },
      }),
      openHarness(backend),
    ]);
  });
  afterAll(() => Promise.all([h, local, off].map((x) => x?.close())));

  const call = async (
    target: Harness,
    { method, url, payload }: Call,
    headers: Record<string, string> = {},
  ) => {
    const res = await target.app.inject({ method, url, headers: { host: HOST, ...headers }, payload });
    return { status: res.statusCode, headers: res.headers, body: res.body, json: () => res.json() };
  };
  const signIn = async (headers: Record<string, string> = {}) => {
    const res = await call(
      h,
      { method: "POST", url: "/console/api/session", payload: { token: TOKEN } },
      headers,
    );
    expect(res.status).toBe(200);
    return String(res.headers["set-cookie"]).split(";")[0] as string;
  };
  const rows = async (target: Harness) => ({
    users: await target.users(),
    tombstones: await target.tombstones(),
    deliveries: await target.deliveries(),
  });

  it("is off without CONSOLE_TOKEN outside a local run: 404 console_disabled with a hint, webhook untouched", async () => {
    for (const url of ["/", "/console/app.js", "/console/api/deliveries", "/console/api/session"]) {
      for (const method of ["GET", "POST"] as const) {
        if (url === "/" && method === "POST") continue;
        const res = await call(off, { method, url });
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(res.json()).toEqual({
          code: "console_disabled",
          message: expect.stringContaining("CONSOLE_TOKEN"),
        });
      }
    }
    expect((await off.post(personalEvent("user_console_off"))).status).toBe(200);
  });

  it("refuses every API endpoint without a session, or with a forged or ended one, and writes nothing", async () => {
    await h.post(personalEvent("user_console_guard"));
    const before = await rows(h);
    const cookie = await signIn();
    await call(h, { method: "DELETE", url: "/console/api/session" }, { cookie });
    for (const headers of [{}, { cookie: "cus_console=forged" }, { cookie }] as Record<string, string>[]) {
      for (const endpoint of PROTECTED) {
        const res = await call(h, endpoint, headers);
        expect(res.status, `${endpoint.method} ${endpoint.url}`).toBe(401);
        expect(res.json()).toEqual({ code: "unauthorized", message: expect.any(String) });
        expect(res.body).not.toContain(EMAIL);
      }
    }
    // No example route outside a local run.
    const signedIn = await signIn();
    expect(
      (await call(h, { method: "POST", url: "/console/api/examples/user.created", payload: {} })).status,
    ).toBe(404);
    expect(
      (
        await call(
          h,
          { method: "POST", url: "/console/api/examples/user.created", payload: {} },
          { cookie: signedIn },
        )
      ).status,
    ).toBe(404);
    expect(await rows(h)).toEqual(before);
  });

  it("refuses a wrong token, sets an HttpOnly SameSite=Strict cookie for the right one, Secure over https", async () => {
    for (const token of ["wrong", `${TOKEN}x`, TOKEN.slice(1), "", 42]) {
      const res = await call(h, { method: "POST", url: "/console/api/session", payload: { token } });
      expect(res.status).toBe(401);
      expect(res.json()).toEqual({ code: "unauthorized", message: "wrong console token" });
      expect(res.headers["set-cookie"]).toBeUndefined();
    }
    const plain = await call(h, { method: "POST", url: "/console/api/session", payload: { token: TOKEN } });
    expect(plain.json()).toEqual({ signedIn: true, mode: "token" });
    expect(plain.headers["set-cookie"]).toMatch(
      /^cus_console=[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    const https = await call(
      h,
      { method: "POST", url: "/console/api/session", payload: { token: TOKEN } },
      { "x-forwarded-proto": "https" },
    );
    expect(https.headers["set-cookie"]).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
    const cookie = String(plain.headers["set-cookie"]).split(";")[0] as string;
    expect((await call(h, { method: "GET", url: "/console/api/setup" }, { cookie })).status).toBe(200);

    const signOut = await call(h, { method: "DELETE", url: "/console/api/session" }, { cookie });
    expect(signOut.headers["set-cookie"]).toMatch(
      /^cus_console=; Max-Age=0; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    expect((await call(h, { method: "GET", url: "/console/api/setup" }, { cookie })).status).toBe(401);
  });

  it("takes a form sign-in from its own origin only, and refuses cross-origin POSTs", async () => {
    const form = (headers: Record<string, string>) =>
      h.app.inject({
        method: "POST",
        url: "/console/api/session",
        headers: { host: HOST, "content-type": "application/x-www-form-urlencoded", ...headers },
        payload: `token=${encodeURIComponent(TOKEN)}`,
      });
    const ok = await form({ origin: `http://${HOST}` });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe("/");
    expect(ok.headers["set-cookie"]).toMatch(/HttpOnly; SameSite=Strict/);
    for (const headers of [{}, { origin: "https://evil.example" }] as Record<string, string>[]) {
      const refused = await form(headers);
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toMatchObject({ code: "unauthorized" });
      expect(refused.headers["set-cookie"]).toBeUndefined();
    }
    const cookie = await signIn();
    const lookup = await call(
      h,
      {
        method: "POST",
        url: "/console/api/users/lookup",
        payload: { environment: "development", query: "x" },
      },
      { cookie, origin: "https://evil.example" },
    );
    expect(lookup.status).toBe(401);
  });

  it("sends a strict Content-Security-Policy and the other security headers with the page, assets and API", async () => {
    const cookie = await signIn();
    for (const url of [
      "/",
      "/console/app.js",
      "/console/app.css",
      "/console/icon.svg",
      "/console/api/setup",
    ]) {
      const res = await call(h, { method: "GET", url }, { cookie });
      expect(res.status, url).toBe(200);
      for (const [name, value] of Object.entries(CONSOLE_HEADERS))
        expect(res.headers[name], `${url} ${name}`).toBe(value);
    }
    const script = await call(h, { method: "GET", url: "/console/app.js" });
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.body).toBe(SCRIPT);
    const csp = CONSOLE_HEADERS["content-security-policy"];
    expect(csp).toMatch(/^default-src 'self';/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe|data:|\*|https?:/);
    const page = (await call(h, { method: "GET", url: "/" })).body;
    // Nothing inline for the policy to refuse: every script has a src, no <style>, no style or on* attributes.
    expect(page).toMatch(/^<!doctype html>/i);
    for (const tag of page.match(/<script[^>]*>/g) ?? []) expect(tag).toMatch(/src="\/console\/app\.js"/);
    expect(page).not.toMatch(/<style|\sstyle=|\son[a-z]+=|https?:\/\//);
    expect(
      (await call(h, { method: "GET", url: "/console/api/setup" }, { cookie })).headers["cache-control"],
    ).toBe("no-store");
  });

  it("lists deliveries newest first with filters and a cursor, refusals with their code, and the summary", async () => {
    const cookie = await signIn();
    await h.reset();
    const created = await h.post(personalEvent("user_console_a"));
    const prod = await h.post(personalEvent("user_console_b"), { env: "production" });
    const deleted = await h.post(deletedEvent("user_console_c"));
    // The refusal log lives as long as the harness: the chart counts the earlier tests' refusals too.
    const refusedBefore = h.refusals.list().length;
    const refused = await h.post(personalEvent("user_console_d"), { secret: STRANGER_SECRET });
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ code: "invalid_signature", message: expect.any(String) });
    const get = async (url: string) => {
      const res = await call(h, { method: "GET", url }, { cookie });
      expect(res.status, url).toBe(200);
      return res.json();
    };

    const all = await get("/console/api/deliveries");
    expect(all.deliveries.map((d: { svixId: string }) => d.svixId)).toEqual([
      deleted.svixId,
      prod.svixId,
      created.svixId,
    ]);
    expect(all.deliveries[1]).toEqual({
      receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      environment: "production",
      type: "user.created",
      outcome: "applied",
      subject: "user_console_b",
      svixId: prod.svixId,
      eventTimestamp: expect.any(String),
    });
    const ids = async (query: string) =>
      (await get(`/console/api/deliveries?${query}`)).deliveries.map((d: { svixId: string }) => d.svixId);
    expect(await ids("environment=production")).toEqual([prod.svixId]);
    expect(await ids("type=user.deleted")).toEqual([deleted.svixId]);
    expect(await ids("environment=development&type=user.created&outcome=applied")).toEqual([created.svixId]);
    expect(await ids("outcome=stale")).toEqual([]);

    const seen: string[] = [];
    let cursor = "";
    do {
      const page = await get(`/console/api/deliveries?limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.deliveries.map((d: { svixId: string }) => d.svixId));
      cursor = page.nextCursor ?? "";
    } while (cursor);
    expect(seen).toEqual([deleted.svixId, prod.svixId, created.svixId]);
    for (const bad of ["environment=staging", "outcome=lost", "limit=-1", "cursor=bm9wZQ"]) {
      const res = await call(h, { method: "GET", url: `/console/api/deliveries?${bad}` }, { cookie });
      expect(res.status, bad).toBe(400);
      expect(res.json()).toMatchObject({ code: "bad_request" });
    }

    const { refusals } = await get("/console/api/refusals");
    expect(refusals[0]).toEqual({
      at: expect.any(String),
      code: "invalid_signature",
      status: 401,
      environment: null,
      type: null,
      svixId: refused.svixId,
    });

    const summary = await get("/console/api/summary");
    expect(summary.tables).toEqual(expect.arrayContaining(["users", "user_tombstones"]));
    expect(summary.counts.development).toMatchObject({ users: 1, user_tombstones: 1 });
    expect(summary.counts.production).toMatchObject({ users: 1, user_tombstones: 0 });
    expect(summary.chart).toMatchObject({ range: "hour", bucketMs: 60_000 });
    const totals = summary.chart.buckets.reduce(
      (sum: Record<string, number>, b: Record<string, number>) => ({
        applied: (sum.applied ?? 0) + (b.applied ?? 0),
        refused: (sum.refused ?? 0) + (b.refused ?? 0),
      }),
      {},
    );
    expect(totals.applied).toBe(3);
    expect(totals.refused).toBe(refusedBefore + 1);
    // An hour by the minute: the 60 minutes that end with the current one.
    expect(summary.chart.buckets).toHaveLength(60);
    expect(summary.lastErrors[0]).toMatchObject({ code: "invalid_signature", svixId: refused.svixId });
    expect((await get("/console/api/summary?range=day")).chart).toMatchObject({
      range: "day",
      bucketMs: 1_800_000,
    });
  });

  it("looks a user up by Clerk id or email in one environment, with raw_payload, and logs no personal data or token", async () => {
    const from = h.logs.length;
    const cookie = await signIn();
    await h.post(personalEvent("user_console_lookup", EMAIL));
    await h.post(deletedEvent("user_console_gone"));
    const lookup = async (environment: string, query: string) => {
      const res = await call(
        h,
        { method: "POST", url: "/console/api/users/lookup", payload: { environment, query } },
        { cookie },
      );
      expect(res.status).toBe(200);
      return res.json();
    };
    for (const key of ["user_console_lookup", EMAIL]) {
      const found = await lookup("development", key);
      expect(found.users).toHaveLength(1);
      expect(found.users[0]).toMatchObject({
        clerk_user_id: "user_console_lookup",
        environment: "development",
        email: EMAIL,
        first_name: FIRST,
        raw_payload: expect.objectContaining({ id: "user_console_lookup", first_name: FIRST }),
      });
    }
    expect(await lookup("production", "user_console_lookup")).toEqual({
      users: [],
      tombstone: null,
      billing: {},
    });
    expect(await lookup("development", "user_console_gone")).toEqual({
      users: [],
      tombstone: { deletedAt: expect.any(String) },
      billing: {},
    });
    const bad = await call(
      h,
      { method: "POST", url: "/console/api/users/lookup", payload: { environment: "development" } },
      { cookie },
    );
    expect(bad.status).toBe(400);
    await call(h, { method: "POST", url: "/console/api/session", payload: { token: `${TOKEN}-wrong` } });
    const written = h.logs.slice(from).join("\n");
    expect(written).toContain("console sign-in refused");
    for (const secret of [EMAIL, FIRST, TOKEN, cookie.split("=")[1] as string])
      expect(written).not.toContain(secret);
  });

  it("counts Billing's subscriptions and plans, and shows a user's or organization's plan in force and items", async () => {
    const cookie = await signIn();
    await h.reset();
    const api = async (url: string, payload?: object) => {
      const res = await call(h, { method: payload ? "POST" : "GET", url, payload }, { cookie });
      return { status: res.status, body: res.json() };
    };
    const payer = (event: ClerkEvent, ids: { user_id?: string; organization_id?: string }) => {
      const data = event.data as { payer: Record<string, unknown>; items?: { payer?: unknown }[] };
      Object.assign(data.payer, { user_id: "", organization_id: "", ...ids });
      return event;
    };
    await h.post(personalEvent("user_console_payer", "payer@engines.example"));
    const subscribed = await h.post(
      payer(clerkEvent("subscription.created.openapi"), { user_id: "user_console_payer" }),
    );
    expect(subscribed.body).toEqual({
      status: "applied",
      environment: "development",
      type: "subscription.created",
    });
    await h.post(clerkEvent("organization.created.openapi"), { env: "production" });
    const orgId = String(clerkEvent("organization.created.openapi").data.id);
    const orgItem = payer(clerkEvent("subscriptionItem.active.openapi"), { organization_id: orgId });
    Object.assign(orgItem.data, { id: "csub_item_console_org", subscription_id: "csub_console_org" });
    expect((await h.post(orgItem, { env: "production" })).body.status).toBe("applied");
    await h.sync.database.query(
      `insert into billing_plans (environment, clerk_plan_id, slug, name, is_default, raw_payload)
       values ('production', 'cplan_console', 'free-plan', 'Free', true, '{}')`,
    );

    const summary = await api("/console/api/summary");
    expect(summary.status).toBe(200);
    expect(summary.body.tables).toEqual(expect.arrayContaining(["billing_subscriptions", "billing_plans"]));
    expect(summary.body.counts.development).toMatchObject({ billing_subscriptions: 1, billing_plans: 0 });
    expect(summary.body.counts.production).toMatchObject({ billing_subscriptions: 0, billing_plans: 1 });

    const user = await api("/console/api/users/lookup", {
      environment: "development",
      query: "payer@engines.example",
    });
    expect(user.status).toBe(200);
    expect(user.body.users).toMatchObject([{ clerk_user_id: "user_console_payer" }]);
    const item = (clerkEvent("subscription.created.openapi").data.items as { id: string }[])[0]?.id;
    expect(user.body.billing).toEqual({
      user_console_payer: {
        plan: expect.objectContaining({
          clerk_user_id: "user_console_payer",
          clerk_item_id: item,
          plan_slug: "pro-plan",
          status: "active",
          period_end: "2024-06-28T08:00:00.000Z",
          is_default: false,
        }),
        items: [expect.objectContaining({ clerk_item_id: item, plan_slug: "pro-plan", status: "active" })],
      },
    });
    expect(user.body.billing.user_console_payer.items[0]).not.toHaveProperty("raw_payload");

    const org = await api("/console/api/organizations/lookup", { environment: "production", query: orgId });
    expect(org.status).toBe(200);
    expect(org.body).toEqual({
      organizations: [expect.objectContaining({ clerk_org_id: orgId, name: "Acme Corp" })],
      tombstone: null,
      billing: {
        [orgId]: {
          plan: expect.objectContaining({ clerk_org_id: orgId, plan_slug: "free-plan", status: "active" }),
          items: [expect.objectContaining({ clerk_item_id: "csub_item_console_org", clerk_org_id: orgId })],
        },
      },
    });
    expect(
      await api("/console/api/organizations/lookup", { environment: "development", query: orgId }),
    ).toEqual({
      status: 200,
      body: { organizations: [], tombstone: null, billing: {} },
    });
    const bad = await api("/console/api/organizations/lookup", { environment: "production" });
    expect(bad).toEqual({ status: 400, body: { code: "bad_request", message: expect.any(String) } });
  });

  it("in a local run: open without a session, on loopback names only, with example buttons that deliver through the webhook", async () => {
    const open = (url: string, host = "127.0.0.1:3000") =>
      local.app.inject({ method: "GET", url, headers: { host } });
    const setup = await open("/console/api/setup");
    expect(setup.statusCode).toBe(200);
    expect(setup.json()).toEqual({
      access: { mode: "local", host: "127.0.0.1", loopbackOnly: true },
      webhookUrl: "http://127.0.0.1:3000/api/user/webhook/clerk",
      webhookUrlNote: expect.stringContaining("Clerk cannot reach 127.0.0.1"),
      instances: [
        { environment: "development", configured: true },
        { environment: "production", configured: true },
      ],
      database: backend.name,
      examples: EXAMPLE_TYPES,
    });
    expect((await open("/console/api/deliveries", "localhost:3000")).statusCode).toBe(200);
    // A page elsewhere whose name was rebound to 127.0.0.1 reads nothing.
    const rebound = await open("/console/api/deliveries", "attacker.example:3000");
    expect(rebound.statusCode).toBe(401);

    const send = await local.app.inject({
      method: "POST",
      url: "/console/api/examples/user.created",
      headers: { host: "127.0.0.1:3000" },
      payload: { userId: "user_console_example" },
    });
    expect(send.statusCode).toBe(200);
    expect(send.json()).toEqual({
      type: "user.created",
      environment: "development",
      svixId: expect.stringMatching(/^msg_/),
      userId: "user_console_example",
      status: 200,
      answer: { status: "applied", environment: "development", type: "user.created" },
    });
    const users = await local.users();
    expect(users.map((u) => u.clerk_user_id)).toContain("user_console_example");
    const deliveries = await local.deliveries();
    expect(deliveries.at(-1)).toMatchObject({ svix_id: send.json().svixId, outcome: "applied" });
    // Billing's examples too, paid for by the user the field names.
    const billing = await local.app.inject({
      method: "POST",
      url: "/console/api/examples/subscription.created",
      headers: { host: "127.0.0.1:3000" },
      payload: { userId: "user_console_example" },
    });
    expect(billing.statusCode).toBe(200);
    expect(billing.json()).toMatchObject({
      type: "subscription.created",
      status: 200,
      answer: { status: "applied", environment: "development", type: "subscription.created" },
    });
    expect(
      await local.sync.database.query(
        "select clerk_subscription_id, clerk_user_id, status from billing_subscriptions",
      ),
    ).toEqual([
      {
        clerk_subscription_id: "csub_user_console_example",
        clerk_user_id: "user_console_example",
        status: "active",
      },
    ]);
    const unknown = await local.app.inject({
      method: "POST",
      url: "/console/api/examples/user.banned",
      headers: { host: "127.0.0.1:3000" },
      payload: {},
    });
    expect(unknown.statusCode).toBe(404);
    // JSON only: a form a page elsewhere could post is not taken.
    const form = await local.app.inject({
      method: "POST",
      url: "/console/api/examples/user.created",
      headers: { host: "127.0.0.1:3000", "content-type": "application/x-www-form-urlencoded" },
      payload: "userId=x",
    });
    expect(form.statusCode).toBe(400);
  });
});

describe("the console's script", () => {
  it("is src/console/browser/app.ts, checked against the DOM and emitted by tsc, byte for byte (else: npm run console:generate)", async () => {
    const check = promisify(execFile)(process.execPath, ["scripts/generate-console-script.mjs", "--check"], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
    });
    // It exits 1 with tsc's report or a message when they differ; in step, it exits 0 and says nothing.
    await expect(check).resolves.toEqual({ stdout: "", stderr: "" });
  });
});

describe("the ring of refusals", () => {
  it("keeps the last `size`, newest first, the last of each code beyond them, and counts by bucket", () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const log = createRefusalLog({ size: 3, clock: () => new Date(now) });
    const codes: ErrorCode[] = [
      "missing_headers",
      "invalid_signature",
      "invalid_signature",
      "payload_too_large",
      "bad_request",
    ];
    for (const [i, code] of codes.entries()) {
      now += 30_000;
      log.record({ code, status: 400, environment: null, type: null, svixId: `msg_${i}` });
    }
    expect(log.list().map((r) => r.svixId)).toEqual(["msg_4", "msg_3", "msg_2"]);
    expect(log.list(1).map((r) => r.svixId)).toEqual(["msg_4"]);
    expect(log.lastByCode().map((r) => [r.code, r.svixId])).toEqual([
      ["bad_request", "msg_4"],
      ["payload_too_large", "msg_3"],
      ["invalid_signature", "msg_2"],
      ["missing_headers", "msg_0"],
    ]);
    const start = Date.parse("2026-01-01T00:00:00Z");
    // In the ring: msg_2 at 1:30, msg_3 at 2:00, msg_4 at 2:30.
    expect([...log.countsSince(start, 60_000)].sort(([a], [b]) => a - b)).toEqual([
      [start + 60_000, 1],
      [start + 120_000, 2],
    ]);
    expect([...log.countsSince(start + 120_000, 60_000)]).toEqual([[start + 120_000, 2]]);
  });
});
