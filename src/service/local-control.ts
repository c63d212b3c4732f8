import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { embeddedDatabaseHolder } from "../db/embedded-lock.js";

/**
 * How read commands (`status`) reach a `serve` that holds the embedded database: PGlite takes one process at a time,
 * so instead of opening it they ask the server. `serve` writes where it listens and a random token to a file only
 * its user can read, under DATA_DIR; the route answers that token only.
 */

/** The route that answers `status`'s report, behind the control token. */
export const CONTROL_STATUS_PATH = "/local/status";

/** Where a running `serve` can be asked, and with what token. */
export interface LocalControl {
  pid: number;
  url: string;
  token: string;
}

function controlPath(dataDir: string): string {
  return join(dataDir, "serve.control.json");
}

/** A new random token for the control route. */
export function controlToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * Notes where this `serve` listens; returns the function that removes the note (also run at exit).
 *
 * @example
 * ```ts
 * const forget = publishControl("./.data", { pid: process.pid, url: "http://127.0.0.1:3000", token });
 * ```
 */
export function publishControl(dataDir: string, control: LocalControl): () => void {
  const file = controlPath(dataDir);
  writeFileSync(file, `${JSON.stringify(control)}\n`, { mode: 0o600 });
  const forget = () => rmSync(file, { force: true });
  process.once("exit", forget);
  return forget;
}

/**
 * The running `serve` holding the embedded database under `dataDir`, if there is one. A `serve` still starting
 * (it notes where it listens once it does) is waited for, up to `waitMs`.
 */
export async function runningServe(dataDir: string, waitMs = 30_000): Promise<LocalControl | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const holder = embeddedDatabaseHolder(dataDir);
    if (holder?.command !== "serve") return undefined;
    const control = readControl(dataDir);
    if (control?.pid === holder.pid) return control;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function readControl(dataDir: string): LocalControl | undefined {
  try {
    const control = JSON.parse(readFileSync(controlPath(dataDir), "utf8")) as Partial<LocalControl>;
    const valid =
      typeof control.pid === "number" && typeof control.url === "string" && typeof control.token === "string";
    return valid ? (control as LocalControl) : undefined;
  } catch {
    return undefined;
  }
}

/** The URL a process on this machine reaches a server at, given where it listens. */
export function localUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reachable.includes(":") && !reachable.startsWith("[") ? `[${reachable}]` : reachable}:${port}`;
}

/**
 * Asks the running `serve` for what `path` answers.
 *
 * @example
 * ```ts
 * const report = await askServe(control, CONTROL_STATUS_PATH);
 * ```
 */
export async function askServe(control: LocalControl, path: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(new URL(path, control.url), {
      headers: { authorization: `Bearer ${control.token}` },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new Error(
      `the running \`clerk-user-sync serve\` (pid ${control.pid}) holds the embedded database but does not ` +
        `answer at ${control.url}: ${(error as Error).message}`,
    );
  }
  if (!response.ok)
    throw new Error(
      `the running \`clerk-user-sync serve\` (pid ${control.pid}) answered ${response.status} at ${control.url}${path}`,
    );
  return await response.json();
}
