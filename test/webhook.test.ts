import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { backends } from "./support/backends.js";
import { clerkEvent, deletedEvent, userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { SECRETS, STRANGER_SECRET, signature, signedDelivery } from "./support/sign.js";

const created = clerkEvent("user.created.docs");
const CLERK_ID = "user_29w83sxmDNGwOuEthce5gg56FcC";

describe.each(await backends())("POST /api/user/webhook/clerk on $name", (backend) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness(backend, { bodyLimit: 64 * 1024 });
  });
  afterAll(() => h.close());
  beforeEach(() => h.reset());

  async function expectNothingWritten() {
    expect(await h.users()).toEqual([]);
    expect(await h.tombstones()).toEqual([]);
    expect(await h.deliveries()).toEqual([]);
  }

  it("turns a dev-signed user.created into a development row with every column", async () => {
    const res = await h.post(created, { env: "development" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "applied", environment: "development", type: "user.created" });
    const [row, ...others] = await h.users();
    expect(others).toEqual([]);
    expect(row).toMatchObject({
      clerk_user_id: CLERK_ID,
      environment: "development",
      email: "example@example.org",
      first_name: "Example",
      last_name: "Example",
      username: null,
      image_url: "https://img.clerk.com/xxxxxx",
      raw_payload: created.data,
      clerk_created_at: new Date(1654012591514),
      clerk_updated_at: new Date(1654012591835),
    });
    expect(row?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(row?.created_at).toBeInstanceOf(Date);
    expect(row?.updated_at).toBeInstanceOf(Date);
  });

  it("turns a prod-signed event into a production row", async () => {
    const res = await h.post(created, { env: "production" });
    expect(res.body).toEqual({ status: "applied", environment: "production", type: "user.created" });
    expect((await h.users()).map((r) => [r.clerk_user_id, r.environment])).toEqual([
      [CLERK_ID, "production"],
    ]);
  });

  it("keeps the same Clerk user from both instances as two rows", async () => {
    expect((await h.post(created, { env: "development" })).status).toBe(200);
    expect((await h.post(created, { env: "production" })).status).toBe(200);
    expect((await h.users()).map((r) => [r.clerk_user_id, r.environment])).toEqual([
      [CLERK_ID, "development"],
      [CLERK_ID, "production"],
    ]);
  });

  it("ignores the envelope's instance_id: only the verifying secret decides the environment", async () => {
    const res = await h.post({ ...created, instance_id: "ins_production_looking" }, { env: "development" });
    expect(res.body.environment).toBe("development");
    expect((await h.users()).map((r) => r.environment)).toEqual(["development"]);
  });

  it("accepts a header with several signatures when one matches", async () => {
    const body = JSON.stringify(created);
    const id = "msg_several";
    const ts = Math.floor(Date.now() / 1000);
    const good = signature(SECRETS.production, id, ts, body);
    const bad = signature(STRANGER_SECRET, id, ts, body);
    const res = await h.post(body, {
      id,
      timestamp: ts,
      headers: { "svix-signature": `${bad} v1,garbage ${good}` },
    });
    expect(res.body).toEqual({ status: "applied", environment: "production", type: "user.created" });
    expect(await h.users()).toHaveLength(1);
  });

  it("reads a body sent as text/plain or with no content type: nothing parses it before verification", async () => {
    expect((await h.post(created, { contentType: "text/plain" })).body.status).toBe("applied");
    const other = userEvent("user.created", { id: "user_no_content_type" });
    expect((await h.post(other, { headers: { "content-type": undefined } })).body.status).toBe("applied");
    expect(await h.users()).toHaveLength(2);
  });

  it.each([
    ["a wrong secret", { secret: STRANGER_SECRET }],
    ["a timestamp 6 minutes old", { timestamp: Math.floor(Date.now() / 1000) - 360 }],
    ["a timestamp 6 minutes ahead", { timestamp: Math.floor(Date.now() / 1000) + 360 }],
    ["a timestamp that is not a number", { headers: { "svix-timestamp": "soon" } }],
    ["a signature of another version", { headers: { "svix-signature": "v2,abcd" } }],
  ])("answers 401 invalid_signature and writes nothing for %s", async (_case, options) => {
    const res = await h.post(created, options);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ code: "invalid_signature", message: expect.any(String) });
    await expectNothingWritten();
  });

  it("answers 401 for a tampered body and for a re-serialised one", async () => {
    const pretty = JSON.stringify(created, null, 2);
    // Signed over the pretty text; the same headers then travel with other bytes.
    const { headers } = signedDelivery(pretty);
    const tampered = pretty.replace("example@example.org", "attacker@example.org");
    const compact = JSON.stringify(JSON.parse(pretty));
    for (const body of [tampered, compact]) {
      const res = await h.post(body, { headers });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("invalid_signature");
    }
    // The untouched bytes verify.
    expect((await h.post(pretty, { headers })).status).toBe(200);
  });

  it("verifies the exact bytes received: bytes that decode to the same text do not share a signature", async () => {
    // 0xff and 0xfe are not UTF-8: decoded, both become U+FFFD, so a check over the decoded text would accept either.
    const text = JSON.stringify(userEvent("user.created", { first_name: "Ex<>mple" }));
    const [before, after] = text.split("<>") as [string, string];
    const bytes = (invalid: number) =>
      Buffer.concat([Buffer.from(before), Buffer.from([invalid]), Buffer.from(after)]);
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      "content-type": "application/json",
      "svix-id": "msg_bytes",
      "svix-timestamp": String(ts),
      "svix-signature": signature(SECRETS.development, "msg_bytes", ts, bytes(0xff)),
    };
    const send = (payload: Buffer) =>
      h.app.inject({ method: "POST", url: "/api/user/webhook/clerk", headers, payload });
    const forged = await send(bytes(0xfe));
    expect([forged.statusCode, forged.json()]).toEqual([
      401,
      { code: "invalid_signature", message: expect.any(String) },
    ]);
    await expectNothingWritten();
    // Verified, then refused: stored, U+FFFD in place of the byte would not be what was signed (RFC 8259: UTF-8).
    const signed = await send(bytes(0xff));
    expect([signed.statusCode, signed.json()]).toEqual([
      422,
      { code: "invalid_payload", message: expect.stringMatching(/UTF-8/) },
    ]);
    await expectNothingWritten();
  });

  it.each(["svix-id", "svix-timestamp", "svix-signature"])(
    "answers 400 missing_headers naming %s and writes nothing",
    async (name) => {
      const res = await h.post(created, { headers: { [name]: undefined } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ code: "missing_headers", message: expect.stringContaining(name) });
      await expectNothingWritten();
    },
  );

  it("answers 413 payload_too_large for a body over the limit and writes nothing", async () => {
    const huge = userEvent("user.created", { public_metadata: { blob: "x".repeat(70 * 1024) } });
    const res = await h.post(huge);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ code: "payload_too_large", message: expect.any(String) });
    await expectNothingWritten();
  });

  it("answers 422 invalid_payload for a verified body that is not JSON, or a user event without data.id", async () => {
    for (const body of [
      "not json",
      "[1,2]",
      JSON.stringify({ ...created, data: { ...created.data, id: "" } }),
    ]) {
      const res = await h.post(body);
      expect(res.status).toBe(422);
      expect(res.body).toEqual({ code: "invalid_payload", message: expect.any(String) });
    }
    await expectNothingWritten();
  });

  it("acknowledges an unknown event type as ignored and writes no user", async () => {
    const res = await h.post({ type: "session.created", object: "event", data: { id: "sess_1" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ignored", environment: "development", type: "session.created" });
    expect(await h.users()).toEqual([]);
    expect(await h.tombstones()).toEqual([]);
  });

  it("stores a user without email or names", async () => {
    const bare = userEvent("user.created", {
      id: "user_bare",
      email_addresses: [],
      primary_email_address_id: null,
      first_name: null,
      last_name: null,
    });
    expect((await h.post(bare)).body.status).toBe("applied");
    expect(await h.users()).toMatchObject([
      { clerk_user_id: "user_bare", email: null, first_name: null, last_name: null },
    ]);
  });

  it("takes the primary email by id, not the first address; null when the id matches none", async () => {
    const addresses = [
      { id: "idn_first", email_address: "first@example.org", object: "email_address" },
      { id: "idn_primary", email_address: "primary@example.org", object: "email_address" },
    ];
    const updated = clerkEvent("user.updated.openapi"); // its primary_email_address_id matches no address
    await h.post(
      userEvent("user.created", { email_addresses: addresses, primary_email_address_id: "idn_primary" }),
    );
    await h.post(updated);
    expect((await h.users()).map((r) => [r.clerk_user_id, r.email])).toEqual([
      ["user_29w83sxmDNGwOuEthce5gg56FcC", "primary@example.org"],
      ["user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", null],
    ]);
  });

  it.each(["user.deleted.catalog", "user.deleted.openapi"] as const)(
    "applies Clerk's %s example",
    async (name) => {
      const event = clerkEvent(name);
      await h.post(userEvent("user.created", { id: event.data.id }));
      const res = await h.post(event);
      expect(res.body).toEqual({ status: "applied", environment: "development", type: "user.deleted" });
      expect(await h.users()).toEqual([]);
      expect(await h.tombstones()).toEqual([
        { clerk_user_id: event.data.id, environment: "development", deleted_at: expect.any(Date) },
      ]);
      expect((await h.deliveries()).map((d) => [d.event_type, d.outcome])).toEqual([
        ["user.created", "applied"],
        ["user.deleted", "applied"],
      ]);
    },
  );

  it("answers 422 for a user event whose only timestamps are beyond any date, and writes nothing", async () => {
    const res = await h.post(userEvent("user.created", { updated_at: 1e20 }, { timestamp: 1e20 }));
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ code: "invalid_payload", message: expect.stringContaining("updated_at") });
    await expectNothingWritten();
  });

  it("writes nothing for a rejected request even after earlier ones were stored", async () => {
    expect((await h.post(created)).status).toBe(200);
    const before = { users: await h.users(), deliveries: await h.deliveries() };
    expect(before.users).toHaveLength(1);
    const refused = await h.post(deletedEvent(CLERK_ID), { secret: STRANGER_SECRET });
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ code: "invalid_signature", message: expect.any(String) });
    expect({ users: await h.users(), deliveries: await h.deliveries() }).toEqual(before);
  });

  it("answers GET /healthz", async () => {
    const res = await h.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
  });
});
