// Times as Clerk sends them (Unix milliseconds, or seconds) and as this package shows them (ISO 8601).

/**
 * Clerk's timestamps are Unix milliseconds, but its OpenAPI examples give the envelope's in seconds: a value
 * below 10^11 (year 5138 in seconds, 1973 in milliseconds) is read as seconds.
 */
export function millis(value: unknown): number | null {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return null;
  const ms = Math.trunc(value < 1e11 ? value * 1000 : value);
  // Past JavaScript's Date range (PostgreSQL's timestamptz ends soon after) a value can only be garbage, and
  // stored it would fail on every retry.
  return ms <= MAX_DATE_MS ? ms : null;
}

const MAX_DATE_MS = 8.64e15;

/**
 * A time read from the database as ISO 8601: a `Date` (a driver that parses timestamptz) or its text (one that
 * does not, or a time inside json); null when absent or unreadable.
 */
export function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : new Date(String(value));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
