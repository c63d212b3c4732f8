import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InvalidSignatureError, MissingHeadersError } from "../src/errors.js";
import { createVerifier, secretProblems, sign, splitSecrets } from "../src/verify.js";
import { signatureVectors } from "./support/fixtures.js";
import { SECRETS, STRANGER_SECRET, signature, signedDelivery } from "./support/sign.js";

const { vectors, known_invalid_signature } = signatureVectors();
const headersOf = (values: Record<string, string>) => (name: string) => values[name];

describe("the verifier (Standard Webhooks v1 on node:crypto, with an injected clock)", () => {
  it.each(vectors)("accepts the published vector $id at its own time", (v) => {
    const verify = createVerifier({ production: v.secret }, () => new Date(v.timestamp * 1000));
    const headers = { "svix-id": v.id, "svix-timestamp": String(v.timestamp), "svix-signature": v.signature };
    expect(verify(v.payload, headersOf(headers))).toEqual({ environment: "production", svixId: v.id });
    expect(verify(Buffer.from(v.payload), headersOf(headers))).toEqual({
      environment: "production",
      svixId: v.id,
    });
  });

  it("refuses the known invalid signature, and the vectors at today's date", () => {
    const v = vectors[0];
    if (!v) throw new Error("no vectors");
    const headers = { "svix-id": v.id, "svix-timestamp": String(v.timestamp) };
    const frozen = createVerifier({ development: v.secret }, () => new Date(v.timestamp * 1000));
    expect(() =>
      frozen(v.payload, headersOf({ ...headers, "svix-signature": known_invalid_signature })),
    ).toThrowError(expect.objectContaining({ code: "invalid_signature", reason: "no_match" }));
    const today = createVerifier({ development: v.secret }, () => new Date());
    expect(() => today(v.payload, headersOf({ ...headers, "svix-signature": v.signature }))).toThrowError(
      expect.objectContaining({ code: "invalid_signature", reason: "timestamp_too_old" }),
    );
  });

  it("tries development first, production only after it fails, and says which verified", () => {
    const now = new Date();
    const ts = Math.floor(now.getTime() / 1000);
    const verify = createVerifier(SECRETS, () => now);
    const sign = (secret: string) => signedDelivery("{}", { secret, id: "msg_1", timestamp: ts }).headers;
    expect(verify("{}", headersOf(sign(SECRETS.development))).environment).toBe("development");
    expect(verify("{}", headersOf(sign(SECRETS.production))).environment).toBe("production");
    expect(() => verify("{}", headersOf(sign(STRANGER_SECRET)))).toThrow(InvalidSignatureError);
  });

  it("accepts any secret of a rotation list, and the tolerance is ±5 minutes exactly", () => {
    const now = new Date(1_800_000_000_000);
    const ts = now.getTime() / 1000;
    const verify = createVerifier({ development: `${STRANGER_SECRET}, ${SECRETS.development}` }, () => now);
    for (const [secret, offset] of [
      [STRANGER_SECRET, 300],
      [SECRETS.development, -300],
    ] as const) {
      const { headers } = signedDelivery("x", { secret, id: "m", timestamp: ts + offset });
      expect(verify("x", headersOf(headers)).environment).toBe("development");
    }
    const { headers } = signedDelivery("x", { id: "m", timestamp: ts - 301 });
    expect(() => verify("x", headersOf(headers))).toThrowError(
      expect.objectContaining({ reason: "timestamp_too_old" }),
    );
  });

  it("names every missing header", () => {
    const verify = createVerifier(SECRETS, () => new Date());
    expect(() => verify("{}", headersOf({ "svix-id": "m" }))).toThrowError(MissingHeadersError);
    expect(() => verify("{}", headersOf({ "svix-id": "m" }))).toThrowError(/svix-timestamp, svix-signature/);
  });
});

describe("what the signature covers", () => {
  const now = new Date(1_800_000_000_000);
  const ts = now.getTime() / 1000;
  const verify = createVerifier(SECRETS, () => now);
  const good = sign(SECRETS.production, "msg_1", ts, "{}");
  const stranger = sign(STRANGER_SECRET, "msg_1", ts, "{}");
  const unpadded = good.replace(/=$/, "");

  it.each([
    ["one v1 signature", { "svix-signature": good }, "production"],
    ["the `webhook-*` header names", { "webhook-signature": good }, "production"],
    ["a list with a stranger's first", { "svix-signature": `${stranger} ${good}` }, "production"],
    ["another version's entry, ignored", { "svix-signature": `v2,${good.slice(3)} ${good}` }, "production"],
    ["only another version", { "svix-signature": `v2,${good.slice(3)}` }, "no_match"],
    ["base64 without its padding", { "svix-signature": unpadded }, "no_match"],
    ["a stranger's signature", { "svix-signature": stranger }, "no_match"],
    ["an empty list entry", { "svix-signature": ` ${good}` }, "production"],
    [
      "a timestamp that is not a number",
      { "svix-timestamp": "soon", "svix-signature": good },
      "malformed_headers",
    ],
    [
      "a timestamp 301 s ahead",
      { "svix-timestamp": String(ts + 301), "svix-signature": good },
      "timestamp_too_new",
    ],
  ])("%s → %s", (_, changes, verdict) => {
    const values: Record<string, string> = { "svix-id": "msg_1", "svix-timestamp": String(ts), ...changes };
    const result = (() => {
      try {
        return verify("{}", headersOf(values)).environment;
      } catch (error) {
        if (!(error instanceof InvalidSignatureError)) throw error;
        expect(error).toMatchObject({ code: "invalid_signature" });
        return error.reason;
      }
    })();
    expect(result).toBe(verdict);
  });

  it("covers the exact bytes: two bodies that decode to the same text do not share a signature", () => {
    // 0xff and 0xfe are not UTF-8: both decode to U+FFFD, so a check over the decoded text could not tell them apart.
    const signed = Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]);
    const other = Buffer.from([0x7b, 0x22, 0xfe, 0x22, 0x7d]);
    expect(signed.toString()).toBe(other.toString());
    const headers = {
      "svix-id": "m",
      "svix-timestamp": String(ts),
      "svix-signature": sign(SECRETS.development, "m", ts, signed),
    };
    expect(verify(signed, headersOf(headers))).toEqual({ environment: "development", svixId: "m" });
    expect(() => verify(other, headersOf(headers))).toThrowError(
      expect.objectContaining({ code: "invalid_signature", reason: "no_match" }),
    );
    // The signature over the decoded text (what a check after decoding would have computed) does not verify either.
    const overText = sign(SECRETS.development, "m", ts, signed.toString());
    expect(() => verify(signed, headersOf({ ...headers, "svix-signature": overText }))).toThrowError(
      expect.objectContaining({ code: "invalid_signature", reason: "no_match" }),
    );
  });

  it("signs as the test suite's independent signer does", () => {
    expect(sign(SECRETS.development, "m", ts, "é{}")).toBe(signature(SECRETS.development, "m", ts, "é{}"));
  });
});

describe("svix", () => {
  it("is needed by the tests only: a devDependency, imported by no module of the package", () => {
    const root = fileURLToPath(new URL("../", import.meta.url));
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    expect([pkg.dependencies.svix, pkg.devDependencies.svix]).toEqual([undefined, expect.any(String)]);
    const src = join(root, "src");
    const importers = readdirSync(src, { recursive: true, encoding: "utf8" }).filter(
      (file) =>
        file.endsWith(".ts") && /from "(svix|standardwebhooks)"/.test(readFileSync(join(src, file), "utf8")),
    );
    expect(importers).toEqual([]);
  });
});

describe("secret settings", () => {
  const names = { development: "DEV", production: "PROD" };

  it("splits lists on spaces and commas", () => {
    expect(splitSecrets(" whsec_a, whsec_b  whsec_c,")).toEqual(["whsec_a", "whsec_b", "whsec_c"]);
    expect(splitSecrets(["whsec_a whsec_b"])).toEqual(["whsec_a", "whsec_b"]);
    expect(splitSecrets(undefined)).toEqual([]);
  });

  it.each([
    [{}, ["no webhook secret configured: set DEV and/or PROD"]],
    [
      { development: "sk_test_123" },
      [expect.stringMatching(/^DEV \(secret 1\) is not a Clerk webhook signing secret/)],
    ],
    [{ development: "whsec_" }, [expect.stringContaining("DEV (secret 1)")]],
    [{ development: "whsec_abc" }, [expect.stringMatching(/^DEV \(secret 1\) is not a Clerk webhook/)]],
    [
      // "whsec_not": base64 whose padding is wrong, which svix refused when it was constructed.
      { development: "whsec_not base64!" },
      [expect.stringContaining("DEV (secret 1)"), expect.stringContaining("DEV (secret 2)")],
    ],
    [
      { development: SECRETS.development, production: SECRETS.development },
      [expect.stringMatching(/ambiguous/)],
    ],
    [{ development: SECRETS.development, production: `${SECRETS.production} ${STRANGER_SECRET}` }, []],
  ])("%j → %j", (secrets, problems) => {
    expect(secretProblems(secrets, names)).toEqual(problems);
  });

  it("never echoes a secret in a problem", () => {
    const problems = secretProblems(
      { development: "whsec_!!secret!!", production: "whsec_!!secret!!" },
      names,
    );
    expect(problems.join("\n")).not.toContain("secret!!");
  });
});
