/**
 * What the HTTP clients (the backfill's Clerk client, the read-through's fetch, `trigger`) say about a request that
 * got no answer, and how long a server asked them to wait.
 */

/** What went wrong below HTTP, in a few words for the log: `timeout`, or the socket error's code. */
export function networkReason(error: unknown): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
    return "timeout";
  // fetch hides the socket's error (ECONNREFUSED, ENOTFOUND…) in `cause`.
  const code = (error as { cause?: { code?: unknown } })?.cause?.code;
  return `network error${typeof code === "string" ? ` ${code}` : ""}`;
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from `now`; undefined when absent or unreadable. */
export function retryAfter(header: string | null, now: number): number | undefined {
  const value = header?.trim() ?? "";
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
