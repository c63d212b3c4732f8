/**
 * What `serve` and the database commands check before they create anything: that DATABASE_URL's server answers and
 * that HOST:PORT is free. Each check returns the error to report, naming the setting to change and never a
 * password, or undefined when all is well.
 */
import { createServer } from "node:net";
import pg from "pg";
import { DatabaseUnreachableError, PortInUseError } from "../errors.js";

/** How long the database check waits for a connection: the pool's own connection timeout. */
export const DATABASE_CHECK_TIMEOUT_MS = 5_000;

/** DATABASE_URL's host and port as `host:port` (5432 when the URL names none); never its user or password. */
export function databaseAddress(url: string): string {
  try {
    const parsed = new URL(url);
    const socketHost = parsed.searchParams.get("host");
    const host = parsed.hostname || socketHost || "localhost";
    return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${parsed.port || "5432"}`;
  } catch {
    return "(unparsable URL)";
  }
}

/**
 * Connects to DATABASE_URL once and runs `select 1`.
 *
 * @example
 * ```ts
 * const problem = await checkDatabase(process.env.DATABASE_URL);
 * if (problem) throw problem; // database_unreachable: DATABASE_URL (db:5432): nothing accepts connections there …
 * ```
 */
export async function checkDatabase(
  url: string,
  timeoutMs = DATABASE_CHECK_TIMEOUT_MS,
): Promise<DatabaseUnreachableError | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // A connection that dies after the check must not crash the process.
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return undefined;
  } catch (error) {
    return new DatabaseUnreachableError(
      `DATABASE_URL (${databaseAddress(url)}) cannot be used: ${databaseReason(error, timeoutMs)}`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/** Why a connection failed, in the operator's words, from its errno or SQLSTATE (a driver message may quote data). */
function databaseReason(error: unknown, timeoutMs: number): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : "";
  switch (code) {
    case "ECONNREFUSED":
      return "nothing accepts connections there (ECONNREFUSED): is PostgreSQL running, on this host and port?";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `the host name does not resolve (${code})`;
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `the host cannot be reached (${code})`;
    case "28P01":
    case "28000":
      return `the server refused the user name or password in the URL (SQLSTATE ${code})`;
    case "3D000":
      return "the database named in the URL does not exist (SQLSTATE 3D000): create it, or fix the URL's path";
    case "53300":
      return "the server has no connection slot left (SQLSTATE 53300)";
  }
  if (/timeout/i.test(message)) return `no answer within ${timeoutMs / 1000} s`;
  if (typeof code === "string") return `the connection failed (${code})`;
  if (/ssl|tls|certificate/i.test(message)) return "the TLS handshake failed: check the URL's sslmode";
  return "the connection failed";
}

/**
 * Binds HOST:PORT for a moment and lets go: a port another process holds is reported before the embedded database
 * is opened or created. Port 0 (any free port) is not checked.
 *
 * @example
 * ```ts
 * const problem = await checkPort("127.0.0.1", 3000); // port_in_use: … set PORT to a free port …
 * ```
 */
export async function checkPort(host: string, port: number): Promise<PortInUseError | undefined> {
  if (port === 0) return undefined;
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const server = createServer();
    server.once("error", resolve);
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
  return error === undefined ? undefined : portProblem(error, host, port);
}

/** The error for a failure to listen on HOST:PORT, naming the setting that fixes it; undefined for any other. */
export function portProblem(
  error: NodeJS.ErrnoException,
  host: string,
  port: number,
): PortInUseError | undefined {
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  switch (error.code) {
    case "EADDRINUSE":
      return new PortInUseError(
        `PORT=${port} is in use on ${host} (EADDRINUSE): another process listens on ${where} (another ` +
          `\`npm start\`?); stop it, or set PORT to a free port, e.g. PORT=${port === 65535 ? 3001 : port + 1}`,
      );
    case "EACCES":
      return new PortInUseError(
        `PORT=${port} needs privileges on this machine (EACCES): set PORT to 1024 or above, e.g. PORT=3000`,
      );
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
      return new PortInUseError(
        `HOST=${host} is not an address of this machine (${error.code}): set HOST to 127.0.0.1 or 0.0.0.0`,
      );
  }
  return undefined;
}
