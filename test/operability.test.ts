import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetrics } from "../src/service/metrics.js";
import { buildServer } from "../src/service/server.js";
import { backends } from "./support/backends.js";
import { clerkEvent, ORGANIZATION_TYPES, type OrganizationType, userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { sample } from "./support/metrics.js";
import { SECRETS, STRANGER_SECRET, signedDelivery } from "./support/sign.js";

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;

/** Personal data and secrets that must never reach a log line. */
const EMAIL = "grace.hopper.9731@navy.example";
const FIRST = "Gracewilhelmina";
const LAST = "Hopperstone";
const CANARY = "payload-canary-5d41402a";

function personalEvent(id: string, extra: Record<string, unknown> = {}) {
  return userEvent("user.created", {
    id,
    email_addresses: [{ id: "idn_grace", email_address: EMAIL, object: "email_address" }],
    primary_email_address_id: "idn_grace",
    first_name: FIRST,
    last_name: LAST,
    public_metadata: { note: CANARY },
    ...extra,
  });
}

describe.each(await backends())("operating the service on $name", (backend) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness(backend, { logLevel: "trace" });
  });
  afterAll(() => h.close());

  const get = async (url: string, headers: Record<string, string> = {}) => {
    const res = await h.app.inject({ method: "GET", url, headers });
    return { status: res.statusCode, body: res.body, headers: res.headers };
  };

  it("answers /readyz 200 when the database answers and is migrated, and /healthz 200", async () => {
    expect(await get("/readyz")).toMatchObject({ status: 200, body: JSON.stringify({ status: "ready" }) });
    expect(await get("/healthz")).toMatchObject({ status: 200, body: JSON.stringify({ status: "ok" }) });
  });

  it("answers /readyz 503 when the newest migration is not applied, or the migrations table is gone", async () => {
    const query = (sql: string) => h.sync.database.query<{ created_at: string }>(sql);
    const notReady = { code: "not_ready", message: expect.any(String) };
    const [newest] = await query(
      "update drizzle.__drizzle_migrations set created_at = created_at - 1 " +
        "where created_at = (select max(created_at) from drizzle.__drizzle_migrations) returning created_at",
    );
    expect(newest).toBeDefined();
    try {
      const behind = await get("/readyz");
      expect(behind.status).toBe(503);
      expect(JSON.parse(behind.body)).toEqual(notReady);
      expect((await get("/healthz")).status).toBe(200);
    } finally {
      await query(`update drizzle.__drizzle_migrations set created_at = created_at + 1
        where created_at = ${Number(newest?.created_at)}`);
    }
    expect((await get("/readyz")).status).toBe(200);

    await query("alter schema drizzle rename to drizzle_elsewhere");
    try {
      const missing = await get("/readyz");
      expect(missing.status).toBe(503);
      expect(JSON.parse(missing.body)).toEqual(notReady);
      expect((await get("/healthz")).status).toBe(200);
    } finally {
      await query("alter schema drizzle_elsewhere rename to drizzle");
    }
    expect((await get("/readyz")).status).toBe(200);
  });

  it("counts deliveries, signature failures, latencies and writes in /metrics, with process metrics", async () => {
    const before = (await get("/metrics")).body;
    const applied = await h.post(userEvent("user.created", { id: "user_metrics_1" }));
    expect(applied.body.status).toBe("applied");
    expect(
      (await h.post(userEvent("user.created", { id: "user_metrics_2" }), { env: "production" })).status,
    ).toBe(200);
    const again = await h.post(userEvent("user.created", { id: "user_metrics_1" }), { id: applied.svixId });
    expect(again.body.status).toBe("duplicate");
    expect(
      (await h.post({ type: "session.created", object: "event", data: { id: "sess_1" } })).body.status,
    ).toBe("ignored");
    expect((await h.post(userEvent("user.created", {}), { secret: STRANGER_SECRET })).status).toBe(401);
    const old = Math.floor(Date.now() / 1000) - 360;
    expect((await h.post(userEvent("user.created", {}), { timestamp: old })).status).toBe(401);
    expect((await h.post(userEvent("user.created", {}), { headers: { "svix-id": undefined } })).status).toBe(
      400,
    );
    // A real database failure for one delivery: the database refuses this user.
    const lift = await h.refuseUsers("user_metrics_3");
    const broken = await h.post(userEvent("user.created", { id: "user_metrics_3" }));
    await lift();
    expect(broken.body).toEqual({ code: "storage_unavailable", message: expect.any(String) });

    const res = await get("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      (sample(res.body, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    const deliveries = "clerk_user_sync_deliveries_total";
    expect(delta(deliveries, { environment: "development", type: "user.created", outcome: "applied" })).toBe(
      1,
    );
    expect(delta(deliveries, { environment: "production", type: "user.created", outcome: "applied" })).toBe(
      1,
    );
    expect(
      delta(deliveries, { environment: "development", type: "user.created", outcome: "duplicate" }),
    ).toBe(1);
    expect(delta(deliveries, { environment: "development", type: "other", outcome: "ignored" })).toBe(1);
    expect(delta(deliveries, { environment: "unknown", type: "unknown", outcome: "error" })).toBe(3);
    expect(delta(deliveries, { environment: "development", type: "user.created", outcome: "error" })).toBe(1);
    const failures = "clerk_user_sync_signature_failures_total";
    expect(delta(failures, { reason: "no_match" })).toBe(1);
    expect(delta(failures, { reason: "timestamp_too_old" })).toBe(1);
    const latency = "clerk_user_sync_request_duration_seconds_count";
    expect(delta(latency, { outcome: "applied" })).toBe(2);
    expect(delta(latency, { outcome: "error" })).toBe(4);
    expect(delta("clerk_user_sync_request_duration_seconds_bucket", { le: "+Inf", outcome: "applied" })).toBe(
      2,
    );
    // One transaction per delivery that reached the database, sent one at a time: 4 commits, 1 failure.
    expect(delta("clerk_user_sync_db_write_duration_seconds_count", { result: "committed" })).toBe(4);
    expect(delta("clerk_user_sync_db_write_duration_seconds_count", { result: "failed" })).toBe(1);
    expect(delta("clerk_user_sync_db_write_batch_size_count")).toBe(5);
    expect(delta("clerk_user_sync_db_write_batch_size_sum")).toBe(5);
    for (const name of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
    ])
      expect(sample(res.body, name), name).toBeGreaterThan(0);
    expect(res.body).toContain("# TYPE clerk_user_sync_deliveries_total counter");
    expect(res.body).toContain("# TYPE clerk_user_sync_request_duration_seconds histogram");
    expect(res.body).toContain("# TYPE clerk_user_sync_db_write_duration_seconds histogram");
  });

  it("labels deliveries of the six organization and membership types by type, any other type as other", async () => {
    const before = (await get("/metrics")).body;
    const order = [0, 1, 3, 4, 5, 2].map((i) => ORGANIZATION_TYPES[i] as OrganizationType);
    for (const type of order) {
      expect((await h.post(clerkEvent(`${type}.openapi`), { env: "production" })).body.status).toBe(
        "applied",
      );
    }
    const invitation = {
      ...clerkEvent("organization.created.openapi"),
      type: "organizationInvitation.created",
    };
    expect((await h.post(invitation, { env: "production" })).body.status).toBe("ignored");
    const after = (await get("/metrics")).body;
    const delta = (labels: Record<string, string>) =>
      (sample(after, "clerk_user_sync_deliveries_total", labels) ?? 0) -
      (sample(before, "clerk_user_sync_deliveries_total", labels) ?? 0);
    for (const type of ORGANIZATION_TYPES)
      expect(delta({ environment: "production", type, outcome: "applied" }), type).toBe(1);
    expect(delta({ environment: "production", type: "other", outcome: "ignored" })).toBe(1);
    expect(after).not.toContain("organizationInvitation");
  });

  it("wants the bearer token on /metrics when METRICS_TOKEN is set, and only there", async () => {
    const token = "metrics-t0ken-for-tests";
    const app = buildServer({
      sync: h.sync,
      metrics: createMetrics(),
      logger: pino({ level: "silent" }),
      metricsToken: token,
    });
    try {
      const metrics = (authorization?: string) =>
        app.inject({ method: "GET", url: "/metrics", headers: authorization ? { authorization } : {} });
      for (const authorization of [undefined, "Bearer wrong-token", `Basic ${token}`, `Bearer ${token}x`]) {
        const res = await metrics(authorization);
        expect(res.statusCode, String(authorization)).toBe(401);
        expect(res.headers["www-authenticate"]).toBe("Bearer");
        expect(res.json()).toEqual({ code: "unauthorized", message: expect.any(String) });
        expect(res.body).not.toContain("clerk_user_sync_deliveries_total");
      }
      const ok = await metrics(`Bearer ${token}`);
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain("# TYPE clerk_user_sync_deliveries_total counter");
      expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
      expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it("logs one JSON line per delivery with svixId, environment, type, outcome and durationMs", async () => {
    const logger = h.sync.logger as pino.Logger;
    logger.level = "info";
    try {
      const first = await h.post(userEvent("user.created", { id: "user_logline" }));
      const stale = await h.post(userEvent("user.created", { id: "user_logline" }));
      const ignored = await h.post(
        { type: "email.created", object: "event", data: {} },
        { env: "production" },
      );
      const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
      const expected = [
        [first.svixId, "development", "user.created", "applied"],
        [stale.svixId, "development", "user.created", "stale"],
        [ignored.svixId, "production", "email.created", "ignored"],
      ];
      for (const [svixId, environment, type, outcome] of expected) {
        const mine = lines.filter((l) => l.svixId === svixId);
        expect(mine).toHaveLength(1);
        const [line] = mine;
        expect(line).toMatchObject({ level: 30, msg: "delivery", svixId, environment, type, outcome });
        expect(line?.durationMs).toEqual(expect.any(Number));
        const { level, time, pid, hostname, msg, ...fields } = line ?? {};
        expect(Object.keys(fields).sort()).toEqual([
          "durationMs",
          "environment",
          "outcome",
          "svixId",
          "type",
        ]);
      }
    } finally {
      logger.level = "trace";
    }
  });

  it("never logs personal data, payloads, secrets or signatures, at any level", async () => {
    const logger = h.sync.logger as pino.Logger;
    const from = h.logs.length;
    const signatures: string[] = [];
    const post = async (body: string, secret: string, expected: number) => {
      const { headers } = signedDelivery(body, { secret });
      signatures.push(headers["svix-signature"] as string);
      const res = await h.post(body, { headers });
      expect(res.status, body.slice(0, 40)).toBe(expected);
    };
    const notJson = `name=${FIRST} ${LAST}&email=${EMAIL}&note=${CANARY}`;
    // PostgreSQL's own error for these quotes the whole row (email, names) in its detail: it must stay out of the logs.
    const lift = await h.refuseUsers("user_failing_%");
    try {
      for (const level of LEVELS) {
        logger.level = level;
        await post(JSON.stringify(personalEvent(`user_private_${level}`)), SECRETS.development, 200);
        await post(JSON.stringify(personalEvent(`user_refused_${level}`)), STRANGER_SECRET, 401);
        await post(notJson, SECRETS.production, 422);
        const failing = personalEvent(`user_failing_${level}`);
        await post(JSON.stringify(failing), SECRETS.development, 503);
      }
    } finally {
      logger.level = "trace";
      await lift();
    }
    const written = h.logs.slice(from);
    // The capture works: each kind of line is there, at the levels that let it through.
    const count = (msg: string) =>
      written.filter((l) => (JSON.parse(l) as { msg?: string }).msg === msg).length;
    expect(count("delivery")).toBe(3); // trace, debug, info
    expect(count("delivery refused")).toBe(8); // 401 and 422 at trace, debug, info, warn
    expect(count("delivery not stored: database error")).toBe(5); // trace … error
    const text = written.join("\n");
    const forbidden = [
      EMAIL,
      FIRST,
      LAST,
      CANARY,
      notJson,
      ...Object.values(SECRETS),
      STRANGER_SECRET,
      ...[...Object.values(SECRETS), STRANGER_SECRET].map((s) => s.slice("whsec_".length)),
      ...signatures,
      ...signatures.map((s) => s.slice("v1,".length)),
    ];
    for (const value of forbidden) expect(text, value).not.toContain(value);
    expect(await h.users()).toEqual(
      expect.arrayContaining([expect.objectContaining({ clerk_user_id: "user_private_info", email: EMAIL })]),
    );
  });

  it("answers /readyz 503 and stores nothing when the database is down, /healthz still 200", async () => {
    const down = await openHarness(backend, { logLevel: "trace" });
    try {
      expect((await down.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
      await down.sync.database.close();
      const ready = await down.app.inject({ method: "GET", url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({ code: "not_ready", message: expect.any(String) });
      const health = await down.app.inject({ method: "GET", url: "/healthz" });
      expect(health.statusCode).toBe(200);
      const res = await down.post(personalEvent("user_while_down"));
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ code: "storage_unavailable", message: expect.any(String) });
      const text = down.logs.join("\n");
      expect(text).toContain("delivery not stored: database error");
      for (const value of [EMAIL, FIRST, LAST, CANARY]) expect(text).not.toContain(value);
    } finally {
      // The database is closed already: close the rest by hand.
      await down.app.close();
      await down.db.drop();
    }
  });
});
