import { BadRequestError } from "../errors.js";

/**
 * The opaque cursor of every keyset-paginated read (users, organizations, memberships, the delivery log): the last
 * row's position, as base64url JSON.
 */
export function encodeCursor(position: readonly string[]): string {
  return Buffer.from(JSON.stringify(position)).toString("base64url");
}

/**
 * The position a cursor from {@link encodeCursor} holds, when it has `length` strings that `valid` accepts.
 * Anything else is a cursor this package did not make: `bad_request`, as the console answers it.
 */
export function decodeCursor<P extends string[]>(
  cursor: string,
  length: P["length"],
  valid: (position: string[]) => boolean = () => true,
): P {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString());
  } catch {}
  if (
    Array.isArray(value) &&
    value.length === length &&
    value.every((v) => typeof v === "string") &&
    valid(value)
  )
    return value as P;
  throw new BadRequestError("invalid cursor: pass the nextCursor of the previous page");
}
