import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { isLoopback } from "../service/config.js";

/**
 * Who may open the console. `local`: open to whoever reaches it, when only this machine can (the service listens on
 * loopback) or in a zero-configuration local run. `token`: a sign-in with CONSOLE_TOKEN. `off`: neither.
 */
export type ConsoleAccess = { mode: "local" } | { mode: "token"; token: string } | { mode: "off" };

/**
 * The console's access for a service's configuration. CONSOLE_TOKEN, when set, always asks for a sign-in. Without
 * it, a service listening on loopback only is open, secrets or not: whoever reaches it is on this machine (the
 * console still serves loopback host names only, against DNS rebinding). Listening wider, it is off, except in a
 * zero-configuration local run (whose start-up warns that HOST opened it).
 *
 * @example
 * ```ts
 * consoleAccess({ consoleToken: undefined, host: "127.0.0.1", localRun: false }); // { mode: "local" }
 * ```
 */
export function consoleAccess({
  consoleToken,
  host,
  localRun,
}: {
  consoleToken: string | undefined;
  host: string;
  localRun: boolean;
}): ConsoleAccess {
  if (consoleToken) return { mode: "token", token: consoleToken };
  return localRun || isLoopback(host) ? { mode: "local" } : { mode: "off" };
}

/** The session cookie's name. */
export const SESSION_COOKIE = "cus_console";

/** Sessions live 12 hours by default. */
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** Signed-in sessions, in memory: random ids with an expiry. A restart signs everyone out. */
export interface Sessions {
  /** Whether `token` is the console token; in constant time. */
  tokenMatches(token: unknown): boolean;
  /** A new session id. */
  open(): string;
  /** Whether the cookie header carries a live session. */
  valid(cookieHeader: string | undefined): boolean;
  /** Ends the session the cookie header carries, if any. */
  close(cookieHeader: string | undefined): void;
  readonly ttlMs: number;
}

/**
 * The session store of the `token` mode.
 *
 * @example
 * ```ts
 * const sessions = createSessions("s3cret-token");
 * if (sessions.tokenMatches(body.token)) setCookie(sessions.open());
 * ```
 */
export function createSessions(
  token: string,
  {
    ttlMs = DEFAULT_SESSION_TTL_MS,
    clock = () => new Date(),
    randomId = () => randomBytes(32).toString("base64url"),
  }: { ttlMs?: number; clock?: () => Date; randomId?: () => string } = {},
): Sessions {
  const expected = digest(token);
  const live = new Map<string, number>();
  const idOf = (cookieHeader: string | undefined) => readCookie(cookieHeader, SESSION_COOKIE);
  return {
    ttlMs,
    // Hashing both sides first makes the comparison independent of the lengths too.
    tokenMatches: (given) => typeof given === "string" && timingSafeEqual(digest(given), expected),
    open() {
      const now = clock().getTime();
      for (const [id, expires] of live) if (expires <= now) live.delete(id);
      const id = randomId();
      live.set(id, now + ttlMs);
      return id;
    },
    valid(cookieHeader) {
      const id = idOf(cookieHeader);
      const expires = id === undefined ? undefined : live.get(id);
      if (id === undefined || expires === undefined) return false;
      if (expires > clock().getTime()) return true;
      live.delete(id);
      return false;
    },
    close(cookieHeader) {
      const id = idOf(cookieHeader);
      if (id !== undefined) live.delete(id);
    },
  };
}

/** The `Set-Cookie` value for a session, or for ending one (`id` null). */
export function sessionCookie(
  id: string | null,
  { secure, ttlMs }: { secure: boolean; ttlMs: number },
): string {
  const attributes = ["Path=/", "HttpOnly", "SameSite=Strict", ...(secure ? ["Secure"] : [])];
  const life = id === null ? "Max-Age=0" : `Max-Age=${Math.floor(ttlMs / 1000)}`;
  return [`${SESSION_COOKIE}=${id ?? ""}`, life, ...attributes].join("; ");
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim() || undefined;
  }
  return undefined;
}

/**
 * Why Clerk cannot deliver to `webhookUrl`, and what to do, when its host is this machine's or a private network's
 * (loopback, `localhost`, RFC 1918, link-local, unique-local IPv6, `.local`/`.internal`, a name without a dot);
 * undefined when it may be public. Clerk sends from the internet: such a URL needs a tunnel in front.
 *
 * @example
 * ```ts
 * unreachableFromClerk("http://localhost:3000/api/user/webhook/clerk"); // "Clerk cannot reach localhost: …"
 * ```
 */
export function unreachableFromClerk(webhookUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(webhookUrl);
  } catch {
    return undefined;
  }
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (!isPrivateHost(host)) return undefined;
  const local = `http://localhost:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
  return (
    `Clerk cannot reach ${host}: it is this machine's or a private network's address. Put a tunnel in front ` +
    `(\`cloudflared tunnel --url ${local}\`, \`ngrok http ${local}\`, or \`clerk webhooks listen --forward-to ` +
    `${local}${url.pathname}\`) and add the public https URL it prints, followed by ${url.pathname}, as the ` +
    "endpoint. Step by step: docs/local-development.md."
  );
}

function isPrivateHost(host: string): boolean {
  if (isLoopback(host) || host === "0.0.0.0" || host === "::") return true;
  if (!host.includes(".") && !host.includes(":")) return true;
  if (/\.(local|internal|lan|home\.arpa|localhost)$/.test(host)) return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(host);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 10 ||
      a === 127 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  return /^(fc|fd|fe80:)/.test(host);
}
