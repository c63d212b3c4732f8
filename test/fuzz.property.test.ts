import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CATALOGUE } from "../src/errors.js";
import { WEBHOOK_PATH } from "../src/sync.js";
import { backends } from "./support/backends.js";
import { userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { rawExchange } from "./support/raw-http.js";
import { SECRETS, STRANGER_SECRET, signature } from "./support/sign.js";

/**
 * Mutated deliveries at the HTTP level (#14, 8): bodies (bytes, truncation, escapes, nesting, lengths, any JSON),
 * headers (signature lists, timestamps, missing headers, content types) and, over a real socket, framing. Whatever
 * comes in, the contract holds: no 5xx, every error body `{ code, message }` with a catalogued code, every 2xx a
 * status, a row written only for a validly signed delivery answered 2xx, never a 2xx for a body that is not UTF-8,
 * and the server healthy afterwards.
 */

const SEED = 20261129;
const BODY_LIMIT = 64 * 1024;
const OUTCOMES = ["applied", "duplicate", "stale", "ignored"];

const bodyMutation = fc.oneof(
  fc.record({ kind: fc.constant("none" as const) }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.constantFrom(
      "\\u0000",
      "\\ud800",
      "\\udc00",
      "{",
      "]",
      '"',
      ",",
      "\u0000",
      "é",
      "\\",
      "𝄞",
      "null",
    ),
  }),
  fc.record({ kind: fc.constant("replace" as const), json: fc.json({ maxDepth: 4 }) }),
  fc.record({
    kind: fc.constant("nest" as const),
    depth: fc.integer({ min: 1, max: 4000 }),
    nul: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("long" as const),
    field: fc.constantFrom("id", "email", "type", "first_name"),
    length: fc.integer({ min: 100, max: 12_000 }),
  }),
);

const anyHeaders = fc.record({
  signer: fc.constantFrom("development", "production", "stranger", "garbage", "list", "none"),
  /** Sign the body as mutated (a validly signed odd delivery) or as it was (a tampered one). */
  signAfter: fc.boolean(),
  skew: fc.constantFrom(0, 0, 0, 60, -60, 400, -400, 10_000_000),
  timestamp: fc.constantFrom("seconds", "seconds", "millis", "text", "empty"),
  drop: fc.option(fc.constantFrom("svix-id", "svix-timestamp", "svix-signature"), { freq: 4 }),
  longId: fc.boolean(),
  contentType: fc.constantFrom(
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    undefined,
  ),
});

/** Mostly valid headers, so that most mutated bodies are validly signed and reach decoding and the database. */
const headerMutation = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      signer: fc.constantFrom("development", "production", "list"),
      signAfter: fc.constant(true),
      skew: fc.constant(0),
      timestamp: fc.constant("seconds" as const),
      drop: fc.constant(null),
      longId: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
      contentType: fc.constantFrom("application/json", "text/plain", undefined),
    }),
  },
  { weight: 2, arbitrary: anyHeaders },
);

let counter = 0;

function mutate(body: Buffer, m: MutationOf<typeof bodyMutation>): Buffer {
  const at = "at" in m ? m.at % (body.length + 1) : 0;
  switch (m.kind) {
    case "none":
      return body;
    case "flip": {
      const copy = Buffer.from(body);
      if (at < copy.length) copy[at] = m.byte;
      return copy;
    }
    case "truncate":
      return body.subarray(0, at);
    case "insert":
      return Buffer.concat([body.subarray(0, at), Buffer.from(m.text), body.subarray(at)]);
    case "replace":
      return Buffer.from(m.json);
    case "nest": {
      const leaf = m.nul ? '"x\\u0000"' : "1";
      const nested = `${'{"a":['.repeat(m.depth)}${leaf}${"]}".repeat(m.depth)}`;
      return Buffer.from(body.toString().replace('"public_metadata":{}', `"public_metadata":${nested}`));
    }
    case "long": {
      const value = Array.from({ length: m.length }, (_, i) =>
        String.fromCharCode(97 + ((i * 7919) % 26)),
      ).join("");
      const event = JSON.parse(body.toString()) as { type: string; data: Record<string, unknown> };
      if (m.field === "type") event.type = `user.${value}`;
      else if (m.field === "email") {
        event.data.email_addresses = [{ id: "idn_f", email_address: `${value}@x.example` }];
        event.data.primary_email_address_id = "idn_f";
      } else event.data[m.field] = m.field === "id" ? `user_${value}` : value;
      return Buffer.from(JSON.stringify(event));
    }
  }
}

type MutationOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

interface Built {
  headers: Record<string, string>;
  body: Buffer;
  /** Whether a configured secret signs exactly these bytes, in time, with every header present. */
  validlySigned: boolean;
}

function build(b: MutationOf<typeof bodyMutation>, h: MutationOf<typeof headerMutation>): Built {
  counter++;
  const original = Buffer.from(
    JSON.stringify(userEvent("user.created", { id: `user_fuzz_${counter}`, public_metadata: {} })),
  );
  const body = mutate(original, b);
  const id = h.longId ? `msg_${"z".repeat(5000)}` : `msg_${randomUUID().replaceAll("-", "")}`;
  const now = Math.floor(Date.now() / 1000) + h.skew;
  const timestamp = { seconds: String(now), millis: String(now * 1000), text: "soon", empty: "" }[
    h.timestamp
  ];
  const signed = h.signAfter ? body : original;
  const secret = { development: SECRETS.development, production: SECRETS.production }[
    h.signer as "development" | "production"
  ];
  const signatureHeader = {
    development: () => signature(SECRETS.development, id, timestamp, signed),
    production: () => signature(SECRETS.production, id, timestamp, signed),
    stranger: () => signature(STRANGER_SECRET, id, timestamp, signed),
    garbage: () => "v1,bm90IGEgc2lnbmF0dXJl v2,xyz ,,, v1",
    list: () =>
      `v1a,x ${signature(STRANGER_SECRET, id, timestamp, signed)} ${signature(SECRETS.production, id, timestamp, signed)}`,
    none: () => "",
  }[h.signer]();
  const headers: Record<string, string> = {
    "svix-id": id,
    "svix-timestamp": timestamp,
    "svix-signature": signatureHeader,
  };
  if (h.contentType) headers["content-type"] = h.contentType;
  if (h.drop) delete headers[h.drop];
  const validlySigned =
    (secret !== undefined || h.signer === "list") &&
    signed.equals(body) &&
    h.drop === null &&
    h.timestamp === "seconds" &&
    Math.abs(h.skew) < 300 &&
    body.length <= BODY_LIMIT;
  return { headers, body, validlySigned };
}

describe.each((await backends()).slice(0, 1))("fuzzed deliveries on $name", (backend) => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    h = await openHarness(backend, {
      bodyLimit: BODY_LIMIT,
      logLevel: "silent",
      timeouts: { headersMs: 500, requestMs: 1500 },
    });
    await h.app.listen({ port: 0, host: "127.0.0.1" });
    port = (h.app.server.address() as AddressInfo).port;
  });
  afterAll(() => h.close());

  const deliveryCount = async () =>
    Number(
      (await h.sync.database.query<{ n: string }>("select count(*)::text as n from webhook_deliveries"))[0]
        ?.n,
    );

  /** The contract's invariants for one answer; `before` is the delivery-log count before the request. */
  async function check(status: number, text: string, validlySigned: boolean, before: number, sent: Buffer) {
    expect(status, text).toBeLessThan(500);
    const body = JSON.parse(text) as Record<string, unknown>;
    // Decoded leniently, bytes that are not UTF-8 would be stored as U+FFFD: not what was signed.
    if (validlySigned && !isUtf8(sent)) expect(status, text).toBeGreaterThanOrEqual(400);
    if (status < 300) {
      expect(OUTCOMES).toContain(body.status);
      expect(validlySigned, text).toBe(true);
    } else {
      expect(Object.keys(body).sort()).toEqual(["code", "message"]);
      expect(Object.keys(CATALOGUE)).toContain(body.code);
    }
    const written = (await deliveryCount()) - before;
    expect(written, text).toBe(status < 300 && body.status !== "duplicate" ? 1 : 0);
  }

  it("keeps the contract for 2,000 mutated deliveries (in-process, through Fastify's plugin)", async () => {
    await fc.assert(
      fc.asyncProperty(bodyMutation, headerMutation, async (b, hm) => {
        const { headers, body, validlySigned } = build(b, hm);
        const before = await deliveryCount();
        const res = await h.app.inject({ method: "POST", url: WEBHOOK_PATH, headers, payload: body });
        await check(res.statusCode, res.body, validlySigned, before, body);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  }, 120_000);

  it("keeps the contract for 2,000 mutated deliveries (real socket, the service's node:http route)", async () => {
    await fc.assert(
      fc.asyncProperty(bodyMutation, headerMutation, async (b, hm) => {
        const { headers, body, validlySigned } = build(b, hm);
        const lines = [`POST ${WEBHOOK_PATH} HTTP/1.1`, "Host: localhost", "Connection: close"];
        for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
        lines.push(`Content-Length: ${body.length}`);
        const before = await deliveryCount();
        const answer = await rawExchange(port, [
          Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body]),
        ]);
        await check(answer.status, answer.body, validlySigned, before, body);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  }, 120_000);

  const framing = fc.constantFrom(
    "as-is",
    "length+",
    "length-",
    "length-garbage",
    "two-lengths",
    "chunked-too",
    "lf-only",
    "no-host",
    "control-char",
    "trailing-junk",
    "space-before-colon",
  );

  it("keeps the contract for 200 requests with mutated framing (real socket)", async () => {
    await fc.assert(
      fc.asyncProperty(bodyMutation, headerMutation, framing, async (b, hm, frame) => {
        const { headers, body, validlySigned } = build(b, hm);
        const lines = [`POST ${WEBHOOK_PATH} HTTP/1.1`, "Host: localhost", "Connection: close"];
        for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
        const length = body.length;
        const framed = {
          "as-is": [`Content-Length: ${length}`],
          "length+": [`Content-Length: ${length + 7}`],
          "length-": [`Content-Length: ${Math.max(0, length - 7)}`],
          "length-garbage": [`Content-Length: ${length}x`],
          "two-lengths": [`Content-Length: ${length}`, `Content-Length: ${length + 1}`],
          "chunked-too": [`Content-Length: ${length}`, "Transfer-Encoding: chunked"],
          "lf-only": [`Content-Length: ${length}`],
          "no-host": [`Content-Length: ${length}`],
          "control-char": [`Content-Length: ${length}`, "X-Trace: a\u0007b"],
          "trailing-junk": [`Content-Length: ${length}`],
          "space-before-colon": [`Content-Length : ${length}`],
        }[frame];
        const head = [...lines, ...framed].filter((l) => frame !== "no-host" || !l.startsWith("Host:"));
        let text = `${head.join("\r\n")}\r\n\r\n`;
        if (frame === "lf-only") text = text.replaceAll("\r\n", "\n");
        const bytes = Buffer.concat([
          Buffer.from(text, "latin1"),
          body,
          Buffer.from(frame === "trailing-junk" ? "\r\nGARBAGE\r\n\r\n" : ""),
        ]);
        const before = await deliveryCount();
        // Ending the sending side makes a cut-short body an error at once (instead of a 408 later); after a
        // complete request Node would take it as the client hanging up, and answer nothing.
        const answer = await rawExchange(port, [bytes], { half: frame === "length+" });
        const exact = ["as-is", "lf-only", "trailing-junk"].includes(frame);
        await check(answer.status, answer.body, validlySigned && exact, before, body);
      }),
      { seed: SEED + 1, numRuns: 200 },
    );
  }, 120_000);

  it("is healthy afterwards: it answers and applies a valid delivery", async () => {
    expect((await h.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    const res = await h.post(userEvent("user.created", { id: "user_after_fuzz" }));
    expect(res.body).toEqual({ status: "applied", environment: "development", type: "user.created" });
    expect((await h.users()).some((u) => u.clerk_user_id === "user_after_fuzz")).toBe(true);
  });
});
