import { createHmac, createSecretKey } from "node:crypto";
import { InvalidSignatureError, MissingHeadersError, type SignatureFailureReason } from "./errors.js";

/** The Clerk instance a delivery came from. Decided solely by which secret verified its signature. */
export type Environment = "development" | "production";

/** Both environments, in the order their secrets are tried. */
export const ENVIRONMENTS: readonly Environment[] = ["development", "production"];

/**
 * Webhook signing secrets per Clerk instance. Each is one `whsec_…` secret, a list of them, or a string of
 * several separated by spaces or commas (during a rotation both the old and the new secret verify).
 *
 * @example
 * ```ts
 * const secrets: Secrets = { development: "whsec_old whsec_new", production: ["whsec_live"] };
 * ```
 */
export interface Secrets {
  development?: string | readonly string[] | undefined;
  production?: string | readonly string[] | undefined;
}

/** How far a `svix-timestamp` may be from now, either way (Svix and Standard Webhooks use 5 minutes). */
export const TOLERANCE_SECONDS = 300;

/** `whsec_` and padded base64, as svix decodes it (it refuses a secret whose padding is wrong). */
const SECRET_PATTERN = /^whsec_(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Splits a secret setting into its secrets: spaces and commas separate them. */
export function splitSecrets(value: string | readonly string[] | undefined): string[] {
  const parts = typeof value === "string" ? [value] : (value ?? []);
  return parts.flatMap((part) => part.split(/[\s,]+/)).filter((s) => s.length > 0);
}

/**
 * Checks a set of secrets and returns every problem found, naming secrets by their setting, never by value.
 * `names` says what to call each environment's setting in messages (an environment variable, an option).
 */
export function secretProblems(secrets: Secrets, names: Record<Environment, string>): string[] {
  const problems: string[] = [];
  const owner = new Map<string, Environment>();
  for (const environment of ENVIRONMENTS) {
    splitSecrets(secrets[environment]).forEach((secret, index) => {
      const which = `${names[environment]} (secret ${index + 1})`;
      if (!SECRET_PATTERN.test(secret) || Buffer.from(secret.slice(6), "base64").length === 0) {
        problems.push(`${which} is not a Clerk webhook signing secret: expected "whsec_" followed by base64`);
      } else if (owner.has(secret) && owner.get(secret) !== environment) {
        problems.push(
          `${which} is also configured as a ${owner.get(secret)} secret: the environment of a delivery would be ambiguous`,
        );
      }
      owner.set(secret, environment);
    });
  }
  if (owner.size === 0) {
    problems.push(`no webhook secret configured: set ${names.development} and/or ${names.production}`);
  }
  return problems;
}

/** Reads one request header by lower-case name. */
export type HeaderReader = (name: string) => string | undefined;

/** Who sent a delivery whose signature verified. */
export interface Verification {
  environment: Environment;
  svixId: string;
}

/** A verified delivery with its body decoded to text, as the decoder takes it. */
export interface VerifiedDelivery extends Verification {
  /** The body exactly as signed, decoded as UTF-8. */
  body: string;
}

/**
 * Verifies a raw request body against the configured secrets. The body is the bytes received (a string is taken
 * as its UTF-8 encoding); the signature covers exactly those bytes.
 */
export type Verifier = (body: Uint8Array | string, header: HeaderReader) => Verification;

/*
 * Why our own code rather than svix's `Webhook`: through its public API, svix reads the wall clock with no hook for
 * another, hashes with a pure-JavaScript SHA-256, hashes a Buffer only after decoding it to text (invalid UTF-8 is
 * replaced before hashing, so two different bodies can share a signature) and throws an error with two stack traces
 * for every secret that does not match: several times the cost of this module per delivery (bench/verify.ts;
 * docs/performance.md has the figures). Replacing pieces of its private `inner` object instead would break silently
 * on a release. The scheme is short: this is all of it, checked against the published vectors and against svix's
 * public `sign`/`verify` by a property test (test/verify.test.ts, test/verify.property.test.ts).
 */

/**
 * Builds a verifier for the Standard Webhooks v1 scheme Svix signs Clerk deliveries with: headers `svix-id`,
 * `svix-timestamp` and `svix-signature` (or their `webhook-*` names, as svix accepts), a space-separated list of
 * `v1,<base64>` signatures, each an HMAC-SHA256 keyed with a secret's base64 after `whsec_`, over
 * `${id}.${timestamp}.` followed by the body's bytes. Development secrets are tried first, then production; the
 * environment is the one whose secret verified. `now` is the clock for the ±5 minute timestamp tolerance (tests
 * freeze it to check the published vectors).
 *
 * @example
 * ```ts
 * const verify = createVerifier({ development: process.env.DEV_CLERK_WEBHOOK_SECRET }, () => new Date());
 * const { environment, svixId } = verify(rawBodyBytes, (name) => req.headers[name]);
 * ```
 */
export function createVerifier(secrets: Secrets, now: () => Date): Verifier {
  const candidates = ENVIRONMENTS.flatMap((environment) =>
    // Imported once: an HMAC keyed with a KeyObject skips copying the key into OpenSSL on every delivery.
    splitSecrets(secrets[environment]).map((secret) => ({
      environment,
      key: createSecretKey(keyOf(secret)),
    })),
  );
  return (body, header) => {
    const svixId = header("svix-id") ?? header("webhook-id");
    const timestampHeader = header("svix-timestamp") ?? header("webhook-timestamp");
    const signatureHeader = header("svix-signature") ?? header("webhook-signature");
    if (!svixId || !timestampHeader || !signatureHeader) {
      const missing = [
        ["svix-id", svixId],
        ["svix-timestamp", timestampHeader],
        ["svix-signature", signatureHeader],
      ].flatMap(([name, value]) => (value ? [] : [name]));
      throw new MissingHeadersError(`missing required header(s): ${missing.join(", ")}`);
    }
    // parseInt, as svix: the signed timestamp is the integer it reads.
    const timestamp = Number.parseInt(timestampHeader, 10);
    if (Number.isNaN(timestamp)) fail("malformed_headers");
    const seconds = Math.floor(now().getTime() / 1000);
    if (seconds - timestamp > TOLERANCE_SECONDS) fail("timestamp_too_old");
    if (timestamp > seconds + TOLERANCE_SECONDS) fail("timestamp_too_new");
    const offered = signaturesOf(signatureHeader);
    if (offered.length > 0) {
      const prefix = `${svixId}.${timestamp}.`;
      for (const { environment, key } of candidates) {
        const expected = createHmac("sha256", key).update(prefix).update(body).digest("base64");
        for (const signature of offered) {
          if (sameText(signature, expected)) return { environment, svixId };
        }
      }
    }
    return fail("no_match");
  };
}

/**
 * Signs a body the way Svix does, for `clerk-user-sync trigger` and tests: the value of a `svix-signature` header
 * (one `v1,<base64>` entry) for the given secret, message id and Unix seconds.
 *
 * @example
 * ```ts
 * const signature = sign("whsec_…", "msg_1", Math.floor(Date.now() / 1000), body);
 * ```
 */
export function sign(secret: string, id: string, timestamp: number, body: Uint8Array | string): string {
  const hmac = createHmac("sha256", keyOf(secret)).update(`${id}.${timestamp}.`).update(body);
  return `v1,${hmac.digest("base64")}`;
}

const NO_SIGNATURES: string[] = [];

/**
 * The `v1` signatures of a `svix-signature` header, as their base64 text. Entries of other versions are ignored, and
 * so is any entry that is not 44 characters, the base64 of 32 bytes. They are compared as text with the canonical
 * base64 of the expected HMAC, as svix compares them: a form Node's decoder would also take (no padding, stray
 * characters) never matches.
 */
function signaturesOf(header: string): string[] {
  let signatures = NO_SIGNATURES;
  for (const entry of header.split(" ")) {
    // As svix: the version before the first comma, the signature up to the next one.
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || value === undefined || value.length !== SIGNATURE_LENGTH) continue;
    if (signatures === NO_SIGNATURES) signatures = [];
    signatures.push(value);
  }
  return signatures;
}

/** The length of the base64 of an HMAC-SHA256. */
const SIGNATURE_LENGTH = 44;

/**
 * Whether two strings of {@link SIGNATURE_LENGTH} characters are equal, in a time that does not depend on where they
 * first differ (as svix's comparison).
 */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "base64");
}

const MESSAGES: Record<SignatureFailureReason, string> = {
  no_match: "no configured webhook secret verifies this signature",
  timestamp_too_old: "svix-timestamp is more than 5 minutes in the past",
  timestamp_too_new: "svix-timestamp is more than 5 minutes in the future",
  malformed_headers: "svix-timestamp is not a number",
};

function fail(reason: SignatureFailureReason): never {
  throw new InvalidSignatureError(MESSAGES[reason], reason);
}
