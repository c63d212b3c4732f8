import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { Webhook, WebhookVerificationError } from "svix";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { InvalidSignatureError, MissingHeadersError } from "../src/errors.js";
import { createVerifier, ENVIRONMENTS, type Environment, type Secrets } from "../src/verify.js";
import { signature } from "./support/sign.js";

/*
 * Our verifier against svix's own public API (`new Webhook(secret).sign()` and `.verify()`) on generated deliveries:
 * wherever svix can express a case, both give the same verdict (which environment verified, or why none did).
 * svix reads the system clock, so the test sets it (vitest fakes `Date` only) to the instant our verifier is given.
 */

const NOW = new Date(1_800_000_000_000);
const SECONDS = NOW.getTime() / 1000;

beforeAll(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW);
});
afterAll(() => {
  vi.useRealTimers();
});

type Verdict =
  | Environment
  | "missing_headers"
  | "no_match"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "malformed_headers";

/** svix's verdict: each environment's secrets in turn, as the service tries them. */
function svixVerdict(secrets: Secrets, payload: string | Buffer, headers: Record<string, string>): Verdict {
  let last: unknown;
  for (const environment of ENVIRONMENTS) {
    for (const secret of [secrets[environment] ?? []].flat()) {
      try {
        new Webhook(secret).verify(payload, headers);
        return environment;
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        last = error;
      }
    }
  }
  const message = last instanceof Error ? last.message : "";
  if (message.includes("Missing required headers")) return "missing_headers";
  if (message.includes("too old")) return "timestamp_too_old";
  if (message.includes("too new")) return "timestamp_too_new";
  if (message.includes("Invalid Signature Headers")) return "malformed_headers";
  return "no_match";
}

function ourVerdict(
  secrets: Secrets,
  payload: string | Uint8Array,
  headers: Record<string, string>,
): Verdict {
  try {
    return createVerifier(secrets, () => NOW)(payload, (name) => headers[name]).environment;
  } catch (error) {
    if (error instanceof MissingHeadersError) return "missing_headers";
    if (error instanceof InvalidSignatureError) return error.reason;
    throw error;
  }
}

const secretArb = fc
  .uint8Array({ minLength: 16, maxLength: 40 })
  .map((b) => `whsec_${Buffer.from(b).toString("base64")}`);
const idArb = fc.oneof(fc.stringMatching(/^msg_[A-Za-z0-9]{1,27}$/), fc.string({ maxLength: 12 }));
/** Seconds from now: mostly inside the ±300 s tolerance, its edges, and well outside. */
const offsetArb = fc.oneof(
  fc.integer({ min: -300, max: 300 }),
  fc.constantFrom(-301, 301, -300, 300),
  fc.integer({ min: -100_000, max: 100_000 }),
);
/** How the timestamp header spells the signed seconds; svix reads it with parseInt, and so do we. */
const spellingArb = fc.constantFrom(
  (t: number) => String(t),
  (t: number) => String(t),
  (t: number) => `${t}abc`,
  (t: number) => ` ${t}`,
  (t: number) => `0${t}`,
  (t: number) => `${t}.9`,
  () => "later",
  () => "",
);
const textArb = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 300 }),
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.json(),
);

/** One entry of the signature list, given the genuine signature of the delivery and a stranger's. */
const entryArb = fc.constantFrom(
  (good: string, _stranger: string) => good,
  (good: string, _stranger: string) => good,
  (_good: string, stranger: string) => stranger,
  (good: string, _stranger: string) => `v2,${good.slice(3)}`,
  (good: string, _stranger: string) => good.replace(/=$/, ""),
  (good: string, _stranger: string) => `${good},junk`,
  (good: string, _stranger: string) => `${good.slice(0, 10)}A${good.slice(11)}`,
  (good: string, _stranger: string) => good.slice(3),
  (good: string, _stranger: string) => nonCanonical(good),
  () => "",
);

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * The same 32 bytes in a base64 spelling svix's text comparison refuses: the last character before the padding
 * carries two unused bits, which Node's decoder ignores.
 */
function nonCanonical(signature: string): string {
  const last = signature.at(-2) ?? "A";
  return `${signature.slice(0, -2)}${ALPHABET[ALPHABET.indexOf(last) ^ 1]}=`;
}

const caseArb = fc
  .record({
    development: fc.array(secretArb, { maxLength: 3 }),
    production: fc.array(secretArb, { maxLength: 2 }),
    signer: fc.nat(),
    id: idArb,
    offset: offsetArb,
    spelling: spellingArb,
    payload: textArb,
    tamper: fc.constantFrom("none", "none", "body", "id", "timestamp"),
    entries: fc.array(entryArb, { minLength: 1, maxLength: 4 }),
    names: fc.constantFrom("svix", "webhook", "mixed"),
    drop: fc.constantFrom(undefined, undefined, undefined, "id", "timestamp", "signature"),
    asBuffer: fc.boolean(),
  })
  // A configuration without a secret is refused at start-up, before any delivery.
  .filter((c) => c.development.length + c.production.length > 0);

describe("our verifier gives svix's verdict", () => {
  it("on generated deliveries (3,000 cases)", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const secrets = { development: c.development, production: c.production };
        const configured = [...c.development, ...c.production];
        const stranger = `whsec_${randomBytes(24).toString("base64")}`;
        const signer =
          configured.length > 0 && c.signer % 4 !== 0 ? configured[c.signer % configured.length] : stranger;
        const timestamp = SECONDS + c.offset;
        const date = new Date(timestamp * 1000);
        const good = new Webhook(signer ?? stranger).sign(c.id, date, c.payload);
        const strangers = new Webhook(stranger).sign(c.id, date, c.payload);
        const list = c.entries.map((entry) => entry(good, strangers)).join(" ");
        const sent = c.tamper === "body" ? `${c.payload} ` : c.payload;
        const values = {
          id: c.tamper === "id" ? `${c.id}x` : c.id,
          timestamp: c.spelling(c.tamper === "timestamp" ? timestamp + 1 : timestamp),
          signature: list,
        };
        const headers: Record<string, string> = {};
        for (const [field, value] of Object.entries(values)) {
          if (field === c.drop) continue;
          const prefix = c.names === "svix" || (c.names === "mixed" && field !== "id") ? "svix" : "webhook";
          headers[`${prefix}-${field}`] = value;
        }
        const payload = c.asBuffer ? Buffer.from(sent) : sent;
        expect(ourVerdict(secrets, payload, headers)).toBe(svixVerdict(secrets, payload, headers));
      }),
      { seed: 20261129, numRuns: 3_000 },
    );
  });

  it("on arbitrary bytes, verifies exactly the bytes where svix verifies their decoded text (1,000 cases)", () => {
    // svix hashes a Buffer only after decoding it as UTF-8: it agrees with us on valid UTF-8 and cannot express the
    // rest. There, a signature over the bytes verifies with us, and svix's (over the text) verifies only when the
    // decoding changed nothing.
    fc.assert(
      fc.property(secretArb, fc.uint8Array({ maxLength: 200 }), (secret, bytes) => {
        const body = Buffer.from(bytes);
        const overBytes = signature(secret, "m", SECONDS, body);
        const overText = new Webhook(secret).sign("m", NOW, body);
        const headers = (value: string) => ({
          "svix-id": "m",
          "svix-timestamp": String(SECONDS),
          "svix-signature": value,
        });
        const secrets = { production: [secret] };
        const faithful = Buffer.from(body.toString("utf8")).equals(body);
        expect(ourVerdict(secrets, body, headers(overBytes))).toBe("production");
        expect(ourVerdict(secrets, body, headers(overText))).toBe(faithful ? "production" : "no_match");
        expect(svixVerdict(secrets, body, headers(overText))).toBe("production");
      }),
      { seed: 20261129, numRuns: 1_000 },
    );
  });
});
