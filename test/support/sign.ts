import { createHmac, randomUUID } from "node:crypto";

/** The secrets the tests sign with: real-format `whsec_` secrets, one per Clerk instance. */
export const SECRETS = {
  development: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  production: "whsec_dGhpc2lzYXByb2R1Y3Rpb25zZWNyZXQxMjM0NTY=",
} as const;

/** A secret no instance is configured with. */
export const STRANGER_SECRET = "whsec_c3RyYW5nZXJzZWNyZXRub2JvZHlrbm93czEyMzQ=";

/**
 * Signs like Svix does (Standard Webhooks v1): HMAC-SHA256 over `${id}.${timestamp}.` and the body's bytes (a
 * string's UTF-8), keyed with the base64-decoded secret, base64 output. Written with node:crypto, independent of the
 * library under test. The primitive: tests that forge odd deliveries (a timestamp that is not a number, bytes that are
 * not UTF-8) call it directly; every other delivery comes from `signedDelivery`.
 */
export function signature(
  secret: string,
  id: string,
  timestamp: number | string,
  body: string | Uint8Array,
): string {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest("base64")}`;
}

export interface SignOptions {
  /** Which instance signs it (development by default); ignored when `secret` is given. */
  env?: "development" | "production";
  /** The secret to sign with, for a stranger's signature or an instance of the test's own. */
  secret?: string;
  /** The svix-id; a fresh `msg_…` by default. */
  id?: string;
  /** Unix seconds; now by default. */
  timestamp?: number;
  /** The content-type header; application/json by default. */
  contentType?: string;
  /** Headers to add or, with `undefined`, remove, after signing (forged signatures, missing headers). */
  headers?: Record<string, string | undefined>;
}

export interface SignedDelivery {
  /** The body as sent: the event as JSON text, or the string given as is. */
  body: string;
  /** content-type and the three Svix headers, with `headers` applied. */
  headers: Record<string, string>;
  /** The svix-id it was signed with. */
  svixId: string;
}

/** The one way the tests build a signed delivery: the body, its headers and its svix-id. */
export function signedDelivery(event: unknown, options: SignOptions = {}): SignedDelivery {
  const body = typeof event === "string" ? event : JSON.stringify(event);
  return { body, ...signedHeaders(body, options) };
}

/**
 * A validly signed delivery whose body is not UTF-8: the event's JSON with every "ÿ" (U+00FF, the bytes C3 BF in
 * UTF-8) written as the lone byte FF, which no UTF-8 text contains. Decoded leniently, it would read U+FFFD there.
 */
export function signedNonUtf8(event: unknown, options: SignOptions = {}): SignedBytes {
  const utf8 = Buffer.from(JSON.stringify(event));
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = utf8.indexOf(MARK); at !== -1; at = utf8.indexOf(MARK, from)) {
    parts.push(utf8.subarray(from, at), LONE_FF);
    from = at + MARK.length;
  }
  if (parts.length === 0) throw new Error('signedNonUtf8: the event has no "ÿ" to replace');
  const body = Buffer.concat([...parts, utf8.subarray(from)]);
  return { body, ...signedHeaders(body, options) };
}

/** A signed delivery whose body is bytes. */
export type SignedBytes = Omit<SignedDelivery, "body"> & { body: Buffer };

const MARK = Buffer.from("\u00ff");
const LONE_FF = Buffer.from([0xff]);

function signedHeaders(body: string | Uint8Array, options: SignOptions): Omit<SignedDelivery, "body"> {
  const svixId = options.id ?? `msg_${randomUUID().replaceAll("-", "")}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const secret = options.secret ?? SECRETS[options.env ?? "development"];
  const headers: Record<string, string> = {
    "content-type": options.contentType ?? "application/json",
    "svix-id": svixId,
    "svix-timestamp": String(timestamp),
    "svix-signature": signature(secret, svixId, timestamp, body),
  };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { headers, svixId };
}
