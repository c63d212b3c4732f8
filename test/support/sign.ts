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
 * library under test.
 */
export function signature(secret: string, id: string, timestamp: number, body: string | Uint8Array): string {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest("base64")}`;
}

export interface SignOptions {
  secret?: string;
  id?: string;
  /** Unix seconds; now by default. */
  timestamp?: number;
}

/** The three Svix headers for a body. */
export function svixHeaders(body: string, options: SignOptions = {}): Record<string, string> {
  const id = options.id ?? `msg_${randomUUID().replaceAll("-", "")}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    "svix-id": id,
    "svix-timestamp": String(timestamp),
    "svix-signature": signature(options.secret ?? SECRETS.development, id, timestamp, body),
  };
}
