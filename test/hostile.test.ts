import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { assertDepth, MAX_DEPTH, storable } from "../src/clean.js";
import { LIMITS } from "../src/limits.js";
import { WEBHOOK_PATH } from "../src/sync.js";
import { backends } from "./support/backends.js";
import { userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { rawExchange } from "./support/raw-http.js";
import { signedDelivery } from "./support/sign.js";

/** Personal data carried by the malformed requests below: none of it may reach a log line, at any level. */
const EMAIL = "ada.lovelace.4411@analytical.example";
const CANARY = "raw-bytes-canary-8f14e45f";

function signedRequest(body: string, extra: string[] = [], length = Buffer.byteLength(body)): string {
  const { headers } = signedDelivery(body);
  return [
    `POST ${WEBHOOK_PATH} HTTP/1.1`,
    "Host: localhost",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${length}`,
    ...extra,
    "",
    "",
  ].join("\r\n");
}

const body = JSON.stringify(
  userEvent("user.created", {
    id: "user_raw",
    email_addresses: [{ id: "idn_1", email_address: EMAIL }],
    primary_email_address_id: "idn_1",
    first_name: CANARY,
  }),
);

describe.each(await backends())("hostile input on $name", (backend) => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    h = await openHarness(backend, {
      logLevel: "trace",
      bodyLimit: 64 * 1024,
      timeouts: { headersMs: 400, requestMs: 1200 },
    });
    await h.app.listen({ port: 0, host: "127.0.0.1" });
    port = (h.app.server.address() as AddressInfo).port;
  });
  afterAll(() => h.close());
  beforeEach(() => h.reset());

  async function expectNothingWritten() {
    expect(await h.users()).toEqual([]);
    expect(await h.tombstones()).toEqual([]);
    expect(await h.deliveries()).toEqual([]);
  }

  // Requests Node's HTTP parser refuses before any route sees them (#14, 1 and 2), and slow ones (#14, 6).
  const malformed: {
    name: string;
    chunks: string[];
    status: number;
    code: string;
    half?: boolean;
    dripMs?: number;
  }[] = [
    {
      name: "a malformed Content-Length",
      chunks: [
        `${signedRequest(body, [], Number.NaN).replace("Content-Length: NaN", "Content-Length: 12abc")}${body}`,
      ],
      status: 400,
      code: "bad_request",
    },
    {
      name: "Content-Length with Transfer-Encoding",
      chunks: [`${signedRequest(body, ["Transfer-Encoding: chunked"])}${body}`],
      status: 400,
      code: "bad_request",
    },
    {
      name: "a control character in a header",
      chunks: [`${signedRequest(body, [`X-Note: ${CANARY}\u0001${EMAIL}`])}${body}`],
      status: 400,
      code: "bad_request",
    },
    {
      name: "a body shorter than its Content-Length",
      chunks: [`${signedRequest(body, [], Buffer.byteLength(body) + 100)}${body}`],
      half: true,
      status: 400,
      code: "bad_request",
    },
    {
      name: "oversized headers (431)",
      chunks: [`${signedRequest(body, [`X-Padding: ${CANARY}${"a".repeat(20_000)}`])}${body}`],
      status: 431,
      code: "headers_too_large",
    },
    {
      name: "no Host header",
      chunks: [`${signedRequest(body).replace("Host: localhost\r\n", "")}${body}`],
      status: 400,
      code: "bad_request",
    },
    {
      name: "headers that never end (408)",
      chunks: [signedRequest(body).slice(0, -2)],
      status: 408,
      code: "request_timeout",
    },
    {
      name: "a body trickling in a byte at a time (408)",
      chunks: [signedRequest(body), ...body.slice(0, 40).split("")],
      dripMs: 100,
      status: 408,
      code: "request_timeout",
    },
  ];

  it.each(malformed)("answers $name with $status { code: $code }, logs the code only", async (c) => {
    const from = h.logs.length;
    const answer = await rawExchange(port, c.chunks, { half: c.half ?? false, dripMs: c.dripMs ?? 0 });
    expect(answer.status).toBe(c.status);
    expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(JSON.parse(answer.body)).toEqual({ code: c.code, message: expect.any(String) });
    expect(answer.closed).toBe(true);
    const written = h.logs.slice(from).join("\n");
    // One refusal, logged once, with its code.
    expect(h.logs.slice(from).filter((line) => line.includes('"code":'))).toEqual([
      expect.stringContaining(`"code":"${c.code}"`),
    ]);
    for (const leak of ["rawPacket", EMAIL, CANARY, "svix-signature", "v1,"])
      expect(written).not.toContain(leak);
    await expectNothingWritten();
  });

  it("keeps serving others while a client trickles its body", async () => {
    const slow = rawExchange(port, [signedRequest(body), ...body.slice(0, 30).split("")], { dripMs: 100 });
    const fast = await rawExchange(port, [`${signedRequest(body, ["Connection: close"])}${body}`]);
    expect(fast.status).toBe(200);
    expect(JSON.parse(fast.body)).toMatchObject({ status: "applied" });
    expect((await slow).status).toBe(408);
  });

  it("answers a request followed by unparseable bytes first, then refuses the bytes", async () => {
    const answer = await rawExchange(port, [`${signedRequest(body)}${body}\r\nGARBAGE\r\n\r\n`]);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ status: "applied" });
    expect((await h.users()).map((u) => u.clerk_user_id)).toEqual(["user_raw"]);
  });

  it("applies one Host rule to the webhook and every other route: none is refused 400, an empty one is served", async () => {
    const get = (host: string[]) =>
      rawExchange(port, [["GET /healthz HTTP/1.1", ...host, "Connection: close", "", ""].join("\r\n")]);
    const missing = await get([]);
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body)).toMatchObject({ code: "bad_request" });
    expect((await get(["Host: "])).status).toBe(200);
    const post = await rawExchange(port, [
      `${signedRequest(body, ["Connection: close"]).replace("Host: localhost", "Host: ")}${body}`,
    ]);
    expect(post.status).toBe(200);
    expect(JSON.parse(post.body)).toMatchObject({ status: "applied" });
  });

  it("counts refusals made before routing, by code", async () => {
    await rawExchange(port, [`${signedRequest(body, [`X-Note: a\u0001b`])}${body}`]);
    const metrics = await h.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(/clerk_user_sync_refusals_total\{code="bad_request"\} [1-9]/);
  });

  it.each([
    { method: "GET", url: "/nowhere", status: 404, code: "not_found" },
    { method: "GET", url: "/%c0", status: 400, code: "bad_request" },
    { method: "POST", url: `${WEBHOOK_PATH}/%c0`, status: 400, code: "bad_request" },
    { method: "PUT", url: WEBHOOK_PATH, status: 405, code: "method_not_allowed" },
    { method: "POST", url: "/healthz", status: 404, code: "not_found", type: "application/x-foo" },
    { method: "POST", url: "/metrics", status: 400, code: "bad_request", type: "application/json" },
  ])("answers $method $url ($code) in the contract's shape", async (c) => {
    const res = await h.app.inject({
      method: c.method as "GET",
      url: c.url,
      ...(c.type ? { headers: { "content-type": c.type }, payload: "{nope" } : {}),
    });
    expect(res.statusCode).toBe(c.status);
    expect(res.json()).toEqual({ code: c.code, message: expect.any(String) });
  });

  // A validly signed poison delivery (#14, 3): deeply nested metadata holding a U+0000. Built as text: the test's
  // own JSON.stringify would run out of stack on it.
  function withNestedMetadata(id: string, depth: number): string {
    const hole = JSON.stringify(userEvent("user.created", { id, unsafe_metadata: "HOLE" }));
    const nested = `${'{"a":['.repeat(depth)}"x\\u0000y"${"]}".repeat(depth)}`;
    return hole.replace('"HOLE"', nested);
  }

  it.each([
    { name: "metadata a few thousand levels deep", body: withNestedMetadata("user_deep", 2500) },
    { name: "a body of 30,000 nested arrays", body: `${"[".repeat(30_000)}${"]".repeat(30_000)}` },
  ])("refuses a signed event of $name with 422 unstorable_payload, writing nothing", async (c) => {
    const res = await h.post(c.body);
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ code: "unstorable_payload", message: expect.any(String) });
    await expectNothingWritten();
  });

  it("stores a signed event nested just within MAX_DEPTH, its U+0000 cleaned", async () => {
    // The envelope and `data` take two levels; each level of the metadata here takes two more.
    const res = await h.post(withNestedMetadata("user_deep", Math.floor((MAX_DEPTH - 2) / 2)));
    expect(res.status).toBe(200);
    const [row] = await h.users();
    expect(JSON.stringify(row?.raw_payload)).toContain("x\uFFFDy");
  });

  // Identifiers too long for an index (#14, 4): refused before the database, never a 503.
  const incompressible = (n: number) =>
    Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join("");
  it.each([
    {
      field: "data.id",
      event: () => userEvent("user.created", { id: `user_${incompressible(10_000)}` }),
      id: undefined,
    },
    {
      field: "the primary email address",
      event: () =>
        userEvent("user.created", {
          id: "user_long_email",
          email_addresses: [{ id: "idn_1", email_address: `${incompressible(10_000)}@x.example` }],
          primary_email_address_id: "idn_1",
        }),
      id: undefined,
    },
    {
      field: "svix-id",
      event: () => userEvent("user.created", { id: "user_long_svix" }),
      id: `msg_${incompressible(10_000)}`,
    },
  ])("refuses a signed event whose $field is too long with 422 field_too_long", async (c) => {
    const res = await h.post(c.event(), c.id ? { id: c.id } : {});
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ code: "field_too_long", message: expect.stringContaining(c.field) });
    await expectNothingWritten();
  });

  it("takes identifiers up to their limits", async () => {
    const id = `user_${incompressible(LIMITS.clerkId - 5)}`;
    const res = await h.post(userEvent("user.created", { id }), {
      id: `msg_${incompressible(LIMITS.svixId - 4)}`,
    });
    expect(res.status).toBe(200);
    expect((await h.users()).map((u) => u.clerk_user_id)).toEqual([id]);
  });

  it.each([
    { sqlstate: "23514", status: 422, code: "unstorable_payload" },
    { sqlstate: "22001", status: 422, code: "unstorable_payload" },
    { sqlstate: "54000", status: 422, code: "unstorable_payload" },
    { sqlstate: "53100", status: 503, code: "storage_unavailable" },
    { sqlstate: "57014", status: 503, code: "storage_unavailable" },
    { sqlstate: "40001", status: 503, code: "storage_unavailable" },
  ])("answers a database failure $sqlstate with $status $code, logging the SQLSTATE only", async (c) => {
    const lift = await h.refuseUsers("user_refused%", c.sqlstate);
    const from = h.logs.length;
    try {
      const res = await h.post(userEvent("user.created", { id: "user_refused", first_name: CANARY }));
      expect(res.status).toBe(c.status);
      expect(res.body).toEqual({ code: c.code, message: expect.any(String) });
    } finally {
      await lift();
    }
    const written = h.logs.slice(from).join("\n");
    expect(written).toContain(`"code":"${c.sqlstate}"`);
    expect(written).not.toContain(CANARY);
    await expectNothingWritten();
  });
});

describe("storable", () => {
  it("cleans any value JSON.parse returns, however deep, without recursion", () => {
    const deep = JSON.parse(`${"[".repeat(100_000)}"a\\u0000"${"]".repeat(100_000)}`) as unknown;
    let value = storable(deep);
    for (let i = 0; i < 100_000; i++) value = (value as unknown[])[0];
    expect(value).toBe("a\uFFFD");
  });

  it("keeps keys, their order and a __proto__ key as own properties", () => {
    const parsed = JSON.parse(
      '{"b":1,"__proto__":{"x":"\\ud800"},"a\\u0000":[null,true,"\\udc00x"]}',
    ) as object;
    const clean = storable(parsed) as Record<string, unknown>;
    expect(Object.keys(clean)).toEqual(["b", "__proto__", "a\uFFFD"]);
    expect(Object.getPrototypeOf(clean)).toBe(Object.prototype);
    expect(JSON.stringify(clean)).toBe('{"b":1,"__proto__":{"x":"\uFFFD"},"a\uFFFD":[null,true,"\uFFFDx"]}');
  });
});

describe("assertDepth", () => {
  const nest = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
  it.each([
    { name: "exactly MAX_DEPTH levels", text: nest(MAX_DEPTH), ok: true },
    { name: "one level more", text: nest(MAX_DEPTH + 1), ok: false },
    { name: "many brackets side by side", text: `[${"{},".repeat(5000)}{}]`, ok: true },
    { name: "brackets inside strings", text: `["${"[{".repeat(2000)}"]`, ok: true },
    { name: "an escaped quote before brackets", text: `["\\"${"[".repeat(2000)}"]`, ok: true },
    {
      name: "deep objects",
      text: `${'{"a":'.repeat(MAX_DEPTH + 1)}1${"}".repeat(MAX_DEPTH + 1)}`,
      ok: false,
    },
  ])("takes $name: $ok", ({ text, ok }) => {
    if (ok) expect(() => assertDepth(text)).not.toThrow();
    else expect(() => assertDepth(text)).toThrow(expect.objectContaining({ code: "unstorable_payload" }));
  });
});
