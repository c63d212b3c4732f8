import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Clerk's published examples and the Standard Webhooks vectors, copied verbatim into the project. */
export const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

export type ClerkEvent = { type: string; data: Record<string, unknown> } & Record<string, unknown>;

/** One of Clerk's published example events, parsed (a fresh copy each call). */
export function clerkEvent(
  name: "user.created.docs" | "user.updated.openapi" | "user.deleted.catalog" | "user.deleted.openapi",
): ClerkEvent {
  return JSON.parse(readFileSync(`${FIXTURES}clerk/${name}.json`, "utf8")) as ClerkEvent;
}

/** The published Standard Webhooks signature vectors. */
export function signatureVectors(): {
  vectors: { secret: string; id: string; timestamp: number; payload: string; signature: string }[];
  known_invalid_signature: string;
} {
  return JSON.parse(readFileSync(`${FIXTURES}standard-webhooks-vectors.json`, "utf8"));
}

/** A Clerk user event built on the published `user.created` example, with the given changes to `data`. */
export function userEvent(
  type: "user.created" | "user.updated",
  data: Record<string, unknown>,
  envelope: Record<string, unknown> = {},
): ClerkEvent {
  const base = clerkEvent("user.created.docs");
  return { ...base, ...envelope, type, data: { ...base.data, ...data } };
}

/** A `user.deleted` event in Clerk's shape. */
export function deletedEvent(id: string, timestamp = 1661861640000): ClerkEvent {
  const base = clerkEvent("user.deleted.catalog");
  return { ...base, timestamp, data: { deleted: true, id, object: "user" } };
}
