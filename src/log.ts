/**
 * Logging: the logger the core takes, its default, and what of an error may be logged. Nothing derived from request
 * bytes (signatures, emails, names, payloads) reaches a log at any level.
 */

/** A pino-compatible logger; only these four methods are used. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * What of an error may be logged: its class, its SQLSTATE or errno, and its message unless it may quote data
 * (PostgreSQL's data-exception and constraint messages can carry values).
 */
export function describe(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { name: typeof error };
  const code = (error as { code?: unknown }).code;
  const quotesData = typeof code === "string" && /^(22|23)/.test(code);
  return { name: error.name, code, ...(quotesData ? {} : { message: error.message }) };
}

/** The default logger: warnings and errors to the console, one JSON line of fields each. */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => console.warn(`[clerk-user-sync] ${msg ?? ""}`, JSON.stringify(obj)),
  error: (obj, msg) => console.error(`[clerk-user-sync] ${msg ?? ""}`, JSON.stringify(obj)),
};
