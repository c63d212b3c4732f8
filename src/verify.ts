import { createHmac } from "node:crypto";
import { Webhook, WebhookVerificationError } from "svix";
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

const SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

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

/** A delivery whose signature verified: the raw body as text, and who sent it. */
export interface VerifiedDelivery {
  environment: Environment;
  svixId: string;
  /** The body exactly as signed. */
  body: string;
}

/** Verifies raw request bodies against the configured secrets. */
export type Verifier = (body: string, header: HeaderReader) => VerifiedDelivery;

/**
 * Builds a verifier over the `svix` library: the raw body is checked against every development secret first and,
 * only when those fail with `WebhookVerificationError`, against the production ones. `now` is the clock used for
 * the ±5 minute timestamp tolerance (tests freeze it to check published vectors).
 *
 * @example
 * ```ts
 * const verify = createVerifier({ development: process.env.DEV_CLERK_WEBHOOK_SECRET }, () => new Date());
 * const { environment } = verify(rawBody, (name) => req.headers[name]);
 * ```
 */
export function createVerifier(secrets: Secrets, now: () => Date): Verifier {
  const candidates = ENVIRONMENTS.flatMap((environment) =>
    splitSecrets(secrets[environment]).map((secret) => ({
      environment,
      webhook: hashedNatively(clocked(new Webhook(secret), now)),
    })),
  );
  return (body, header) => {
    const svixId = header("svix-id");
    const timestamp = header("svix-timestamp");
    const signature = header("svix-signature");
    const missing = [
      ["svix-id", svixId],
      ["svix-timestamp", timestamp],
      ["svix-signature", signature],
    ].flatMap(([name, value]) => (value ? [] : [name]));
    if (!svixId || !timestamp || !signature) {
      throw new MissingHeadersError(`missing required header(s): ${missing.join(", ")}`);
    }
    const headers = { "svix-id": svixId, "svix-timestamp": timestamp, "svix-signature": signature };
    let failure: WebhookVerificationError | undefined;
    for (const { environment, webhook } of candidates) {
      try {
        webhook.verify(body, headers);
        return { environment, svixId, body };
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        failure = error;
      }
    }
    const reason = reasonOf(failure);
    throw new InvalidSignatureError(MESSAGES[reason], reason);
  };
}

const MESSAGES: Record<SignatureFailureReason, string> = {
  no_match: "no configured webhook secret verifies this signature",
  timestamp_too_old: "svix-timestamp is more than 5 minutes in the past",
  timestamp_too_new: "svix-timestamp is more than 5 minutes in the future",
  malformed_headers: "svix-timestamp is not a number",
};

function reasonOf(error: WebhookVerificationError | undefined): SignatureFailureReason {
  const message = error?.message ?? "";
  if (message.includes("too old")) return "timestamp_too_old";
  if (message.includes("too new")) return "timestamp_too_new";
  if (message.includes("Invalid Signature Headers")) return "malformed_headers";
  return "no_match";
}

/**
 * svix reads the wall clock inside `verify()` and offers no option for another one; its inner Standard Webhooks
 * verifier checks the timestamp in one overridable method. We replace that method on our own instance with the
 * same check against the injected clock; the HMAC comparison stays svix's. The published test vectors (2021)
 * exercise this in the test suite, so a change inside svix fails loudly rather than silently.
 */
function clocked(webhook: Webhook, now: () => Date): Webhook {
  const inner = (webhook as unknown as { inner?: { verifyTimestamp?: unknown } }).inner;
  if (typeof inner?.verifyTimestamp !== "function") {
    throw new Error("svix changed: its Webhook no longer exposes the timestamp check this package replaces");
  }
  inner.verifyTimestamp = (header: string): Date => {
    const timestamp = Number.parseInt(header, 10);
    if (Number.isNaN(timestamp)) throw new WebhookVerificationError("Invalid Signature Headers");
    const seconds = Math.floor(now().getTime() / 1000);
    if (seconds - timestamp > TOLERANCE_SECONDS)
      throw new WebhookVerificationError("Message timestamp too old");
    if (timestamp > seconds + TOLERANCE_SECONDS)
      throw new WebhookVerificationError("Message timestamp too new");
    return new Date(timestamp * 1000);
  };
  return webhook;
}

/**
 * svix computes the HMAC with a pure-JavaScript SHA-256 (fast-sha256): about 20 µs for a Clerk-sized body, five
 * times node:crypto, and a Production delivery pays it twice (the Development secrets are tried first). We replace
 * only that primitive, on our own instance, with node:crypto over the same bytes (`${id}.${seconds}.${body}`, UTF-8,
 * the decoded secret); header parsing, versions, the constant-time comparison and the errors stay svix's. The
 * published test vectors in the test suite pin the result.
 */
function hashedNatively(webhook: Webhook): Webhook {
  const inner = (webhook as unknown as { inner?: { sign?: unknown; key?: unknown } }).inner;
  if (typeof inner?.sign !== "function" || !(inner.key instanceof Uint8Array)) {
    throw new Error("svix changed: its Webhook no longer exposes the signing step this package replaces");
  }
  const key = inner.key;
  inner.sign = (id: string, timestamp: Date, payload: string | Buffer): string => {
    const seconds = Math.floor(timestamp.getTime() / 1000);
    // In parts: one string of the three would be a copy of the body, made only to be hashed.
    const hmac = createHmac("sha256", key).update(`${id}.${seconds}.`).update(payload);
    return `v1,${hmac.digest("base64")}`;
  };
  return webhook;
}
