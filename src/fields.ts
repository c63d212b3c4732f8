// How the decoders (src/decode.ts, src/decode-billing.ts) read a field of Clerk's JSON: defensively, a field of
// another type reads as absent rather than throwing (Billing's shapes in particular still change).

/** The field when it is a string, else null. */
export function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** A JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
