import { UnstorablePayloadError } from "./errors.js";

/**
 * How deep a delivery's JSON may nest (objects and arrays): 512 levels. Clerk's own objects nest a few levels;
 * `unsafe_metadata`, written from the browser, can nest as deep as its sender likes, and past a few thousand
 * levels JavaScript's `JSON.stringify` (and, deeper still, PostgreSQL's jsonb parser) runs out of stack. A deeper
 * delivery is refused with 422 `unstorable_payload` instead of failing on every retry.
 */
export const MAX_DEPTH = 512;

/**
 * Throws {@link UnstorablePayloadError} when JSON text nests deeper than {@link MAX_DEPTH}. One pass over the
 * text, no recursion, whatever the text (brackets inside strings are skipped).
 */
export function assertDepth(json: string, max = MAX_DEPTH): void {
  // Text cannot nest deeper than it has opening brackets: counting those (native searches) clears a usual
  // delivery, with a few dozen, at a fraction of the cost of the scan below.
  if (openers(json, "{", max) + openers(json, "[", max) <= max) return;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) {
        throw new UnstorablePayloadError(`the body nests deeper than ${max} levels`);
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
}

/** How many times `char` occurs in `text`, counting no further than `max + 1`. */
function openers(text: string, char: string, max: number): number {
  let count = 0;
  for (let at = text.indexOf(char); at !== -1 && count <= max; at = text.indexOf(char, at + 1)) count++;
  return count;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what must be found.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * A copy of a parsed JSON value that PostgreSQL can store: PostgreSQL keeps no U+0000 and no unpaired surrogate,
 * in `text` or `jsonb`, yet JSON can carry both, so each becomes U+FFFD (as an invalid UTF-8 byte already does).
 * Iterative, with an explicit stack: any value `JSON.parse` returns, however deep, is cleaned without recursion.
 *
 * @example
 * ```ts
 * storable({ a: ["x\u0000"] }) // { a: ["x\uFFFD"] }
 * ```
 */
export function storable(value: unknown): unknown {
  const root: { value: unknown } = { value: undefined };
  // Each entry: a value still to clean, and where its clean copy goes.
  const stack: [unknown, Record<string, unknown> | unknown[], string | number][] = [[value, root, "value"]];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [source, target, key] = entry;
    let copy: unknown;
    if (typeof source === "string") copy = source.replace(UNSTORABLE, "\uFFFD");
    else if (Array.isArray(source)) {
      const array: unknown[] = new Array(source.length);
      for (let i = 0; i < source.length; i++) stack.push([source[i], array, i]);
      copy = array;
    } else if (typeof source === "object" && source !== null) {
      const object: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(source)) {
        const cleanKey = k.replace(UNSTORABLE, "\uFFFD");
        // Defined, not assigned: a `__proto__` key that JSON.parse made an own property stays one.
        Object.defineProperty(object, cleanKey, {
          value: undefined,
          writable: true,
          enumerable: true,
          configurable: true,
        });
        stack.push([v, object, cleanKey]);
      }
      copy = object;
    } else copy = source;
    (target as Record<string | number, unknown>)[key] = copy;
  }
  return root.value;
}
