import { StorageUnavailableError, type SyncError, UnstorablePayloadError } from "../errors.js";

/**
 * Which database failures a retry can fix. A delivery the database refuses for its content (a data exception, a
 * constraint, a program limit such as "index row too large") fails the same way on every retry: Svix would retry
 * it for a day and the alerts would blame a database that is fine. Those are answered 422 `unstorable_payload`;
 * everything else (a lost connection, a cancelled statement, a shutdown, exhausted resources, a serialisation
 * failure that escaped, an error with no SQLSTATE at all) is 503 `storage_unavailable`, which Svix retries.
 *
 * The writer retries a failed batch delivery by delivery, so only the delivery at fault gets the 422.
 *
 * @example
 * ```ts
 * storageFailure(Object.assign(new Error("index row size exceeds maximum"), { code: "54000" })).code
 * // "unstorable_payload"
 * ```
 */
export function storageFailure(error: unknown): SyncError {
  const sqlstate = sqlstateOf(error);
  if (sqlstate !== undefined && isPermanent(sqlstate)) {
    return new UnstorablePayloadError(
      `the database refuses this delivery's content (SQLSTATE ${sqlstate}); a retry cannot store it`,
      { cause: error },
    );
  }
  return new StorageUnavailableError({ cause: error });
}

/** PostgreSQL's SQLSTATE of an error (pg and PGlite both put it in `code`), if it has one. */
export function sqlstateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Permanent: class 22 (data exception: a value too long, out of range, badly encoded), 23 (integrity constraint
 * violation) and 54 (program limit exceeded: index row too large, statement too complex). Everything else is
 * transient, notably 08 (connection), 40 (serialisation failure, deadlock), 53 (insufficient resources) and 57
 * (57014 statement timeout or cancel, 57P01-57P03 shutdown).
 */
function isPermanent(sqlstate: string): boolean {
  const cls = sqlstate.slice(0, 2);
  return cls === "22" || cls === "23" || cls === "54";
}
