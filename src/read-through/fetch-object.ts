import type { ClerkOrganization, ClerkUser } from "../backfill/clerk-api.js";
import { ClerkApiError } from "../backfill/errors.js";
import { networkReason, retryAfter } from "../network.js";

/** How one Backend API read in a request path is bounded; every field has a default. */
export interface FetchBounds {
  /** The whole call, waits and retries included, in ms (10 s): past it the call fails `clerk_unavailable`. */
  budgetMs?: number;
  /** One attempt, headers and body (5 s). */
  attemptTimeoutMs?: number;
  /** Attempts at most (3): a 429, a 5xx or a network error is retried while the budget allows. */
  maxAttempts?: number;
  /** First backoff after a 5xx or network error, doubled each attempt (250 ms); a 429 waits its `Retry-After`. */
  backoffMs?: number;
  fetch?: typeof fetch;
  /** Milliseconds; with `sleep`, for tests to freeze time. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Where and with which key to read. */
export interface ObjectSource {
  baseUrl: string;
  secretKey: string;
  /** Where the key came from, for messages (`PROD_CLERK_SECRET_KEY`); never the key itself. */
  keyName: string;
}

/**
 * `GET /v1/users/{id}` or `GET /v1/organizations/{id}`: the object, or null when Clerk answers 404 (it has no such
 * object). Bounded as a request path needs: a 429 waits `Retry-After` only when that fits in the budget, otherwise
 * the call fails at once; an outage or timeout ends in `clerk_unavailable` within `budgetMs`, never a hang.
 * 401/403 are `clerk_unauthorized`, another 4xx `clerk_request_failed`, a body without the object's `id` and
 * `updated_at` `clerk_bad_response`.
 *
 * @example
 * ```ts
 * const user = await fetchObject(source, "users", "user_2abc", {});
 * ```
 */
export async function fetchObject(
  source: ObjectSource,
  kind: "users" | "organizations",
  id: string,
  bounds: FetchBounds,
): Promise<ClerkUser | ClerkOrganization | null> {
  const now = bounds.now ?? Date.now;
  const sleep = bounds.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + (bounds.budgetMs ?? 10_000);
  const maxAttempts = bounds.maxAttempts ?? 3;
  const route = `GET /v1/${kind}/{id}`;
  const url = `${source.baseUrl.replace(/\/+$/, "")}/v1/${kind}/${encodeURIComponent(id)}`;
  for (let attempt = 1; ; attempt++) {
    const left = deadline - now();
    const answer = await attemptOnce(url, source, Math.min(bounds.attemptTimeoutMs ?? 5_000, left), bounds);
    if ("object" in answer) return checked(answer.object, id, route);
    const wait = answer.retryAfterMs ?? (bounds.backoffMs ?? 250) * 2 ** (attempt - 1);
    if (answer.fatal) throw answer.fatal;
    if (attempt >= maxAttempts || now() + wait >= deadline) {
      const why =
        attempt >= maxAttempts ? `after ${attempt} attempts` : "within the read-through's time budget";
      throw new ClerkApiError(
        "clerk_unavailable",
        `${route}: no answer ${why} (last: ${answer.reason})`,
        answer.status,
      );
    }
    await sleep(wait);
  }
}

type Attempt =
  | { object: unknown }
  | { fatal?: ClerkApiError; reason: string; status?: number; retryAfterMs?: number };

async function attemptOnce(
  url: string,
  source: ObjectSource,
  timeoutMs: number,
  bounds: FetchBounds,
): Promise<Attempt> {
  const route = `GET ${new URL(url).pathname.replace(/[^/]+$/, "{id}")}`;
  let response: Response;
  try {
    response = await (bounds.fetch ?? globalThis.fetch)(url, {
      headers: { authorization: `Bearer ${source.secretKey}`, accept: "application/json" },
      signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
    });
  } catch (error) {
    return { reason: networkReason(error) };
  }
  const { status } = response;
  if (response.ok) {
    try {
      return { object: JSON.parse(await response.text()) };
    } catch (error) {
      // A body cut off by the timeout is an outage; one that arrived whole but is not JSON is not.
      if (error instanceof SyntaxError)
        return {
          fatal: new ClerkApiError("clerk_bad_response", `${route}: the response is not JSON`, status),
          reason: "",
        };
      return { reason: networkReason(error) };
    }
  }
  await response.body?.cancel().catch(() => {});
  if (status === 404) return { object: null };
  if (status === 401 || status === 403) {
    const message = `${route}: Clerk refused ${source.keyName} (HTTP ${status}); check that it is a current secret key of this instance`;
    return { fatal: new ClerkApiError("clerk_unauthorized", message, status), reason: "" };
  }
  if (status === 429)
    return {
      reason: "HTTP 429",
      status,
      // A missing or unreadable `Retry-After` is read as one second.
      retryAfterMs: retryAfter(response.headers.get("retry-after"), (bounds.now ?? Date.now)()) ?? 1000,
    };
  if (status < 500)
    return {
      fatal: new ClerkApiError("clerk_request_failed", `${route}: HTTP ${status}`, status),
      reason: "",
    };
  return { reason: `HTTP ${status}`, status };
}

/** The object when it is the one asked for, with the fields the guarded write orders by. */
function checked(object: unknown, id: string, route: string): ClerkUser | null {
  if (object === null) return null;
  const { id: got, updated_at } = (object ?? {}) as Record<string, unknown>;
  if (got !== id || typeof updated_at !== "number" || !Number.isFinite(updated_at)) {
    throw new ClerkApiError(
      "clerk_bad_response",
      `${route}: expected the object asked for, with a string \`id\` and an integer \`updated_at\``,
    );
  }
  return object as ClerkUser;
}
