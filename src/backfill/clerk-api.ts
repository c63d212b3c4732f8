import type { Environment } from "../verify.js";
import { ClerkApiError } from "./errors.js";

/** A Clerk User object as the Backend API returns it (snake_case, the same shape as a webhook's `data`). */
export type ClerkUser = Record<string, unknown> & { id: string; updated_at: number };

/** One page of users, and the exact JSON text it was parsed from (written as is: re-serialising costs CPU). */
export interface UserPage {
  users: ClerkUser[];
  json: string;
}

/** At most `requests` requests in any window of `perMs` milliseconds. */
export interface RateLimit {
  requests: number;
  perMs: number;
}

/**
 * Clerk's limits per instance, less a tenth: the application's own Backend API calls share the same budget.
 * A 429 is honoured anyway.
 */
export const RATE_LIMITS: Record<Environment, RateLimit> = {
  production: { requests: 900, perMs: 10_000 },
  development: { requests: 90, perMs: 10_000 },
};

/** The largest page `GET /v1/users` serves. */
export const MAX_PAGE_SIZE = 500;

/** Options of {@link ClerkApi}. Everything but the key has a default; tests inject the clock. */
export interface ClerkApiOptions {
  /** The instance's secret key (`sk_test_…` / `sk_live_…`). Sent as a bearer token, never printed. */
  secretKey: string;
  /** Where the key came from, for error messages (e.g. `PROD_CLERK_SECRET_KEY`). */
  keyName?: string;
  /** `https://api.clerk.com`. */
  baseUrl?: string;
  rateLimit?: RateLimit;
  /** Attempts per request before giving up with `clerk_unavailable` (8). */
  maxAttempts?: number;
  /** First backoff after a 5xx or network error; doubles each attempt, with jitter (500 ms). */
  backoffMs?: number;
  /** The longest single wait, backoff or `Retry-After` (60 s). */
  maxWaitMs?: number;
  /** Per attempt, headers and body (60 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Milliseconds, for the rate limiter and `Retry-After` dates. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1), for jitter. */
  random?: () => number;
  /** Told before each wait caused by a failed attempt. */
  onRetry?: (retry: { attempt: number; waitMs: number; reason: string }) => void;
}

/**
 * A small client for the two Backend API endpoints a backfill needs, over `fetch`. It stays under the instance's
 * rate limit on its own, waits out a 429's `Retry-After`, retries 5xx and network errors with exponential backoff
 * and jitter, and stops at once on 401/403.
 *
 * @example
 * ```ts
 * const api = new ClerkApi({ secretKey: process.env.PROD_CLERK_SECRET_KEY!, rateLimit: RATE_LIMITS.production });
 * for await (const page of api.pages()) console.log(page.length);
 * ```
 */
export class ClerkApi {
  readonly #key: string;
  readonly #keyName: string;
  readonly #base: string;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #maxWaitMs: number;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #onRetry: NonNullable<ClerkApiOptions["onRetry"]>;
  readonly #limit: RateLimit;
  /** Start times of the requests in the current window, oldest first. */
  readonly #sent: number[] = [];

  constructor(options: ClerkApiOptions) {
    this.#key = options.secretKey;
    this.#keyName = options.keyName ?? "the secret key";
    this.#base = (options.baseUrl ?? "https://api.clerk.com").replace(/\/+$/, "");
    this.#limit = options.rateLimit ?? RATE_LIMITS.development;
    this.#maxAttempts = options.maxAttempts ?? 8;
    this.#backoffMs = options.backoffMs ?? 500;
    this.#maxWaitMs = options.maxWaitMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
    this.#onRetry = options.onRetry ?? (() => {});
  }

  /** `GET /v1/users/count`: how many users the instance has. */
  async countUsers(): Promise<number> {
    const { body } = await this.#get("/v1/users/count");
    const count = (body as { total_count?: unknown } | null)?.total_count;
    if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
      throw new ClerkApiError(
        "clerk_bad_response",
        "GET /v1/users/count: expected { total_count: <integer> }",
      );
    }
    return count;
  }

  /** One page of `GET /v1/users`, oldest first, after the user `startingAfter`. */
  async listUsers({
    limit = MAX_PAGE_SIZE,
    startingAfter,
  }: {
    limit?: number;
    startingAfter?: string;
  } = {}): Promise<UserPage> {
    const query = new URLSearchParams({ limit: String(limit), order_by: "created_at" });
    if (startingAfter !== undefined) query.set("starting_after", startingAfter);
    const { body, json } = await this.#get(`/v1/users?${query}`);
    if (!Array.isArray(body) || !body.every(isUser)) {
      throw new ClerkApiError(
        "clerk_bad_response",
        "GET /v1/users: expected an array of User objects, each with a string `id` and an integer `updated_at`",
      );
    }
    return { users: body, json };
  }

  /**
   * Every user, page by page, oldest first. Cursor pagination (`starting_after` the last id), which stays fast
   * where a large `offset` does not; a page shorter than the limit is the last.
   */
  async *pages({ pageSize = MAX_PAGE_SIZE }: { pageSize?: number } = {}): AsyncGenerator<UserPage> {
    let after: string | undefined;
    for (;;) {
      const page = await this.listUsers({ limit: pageSize, startingAfter: after });
      if (page.users.length > 0) yield page;
      const last = page.users.at(-1);
      if (page.users.length < pageSize || !last) return;
      after = last.id;
    }
  }

  async #get(path: string): Promise<{ body: unknown; json: string }> {
    const route = `GET ${path.split("?")[0]}`;
    for (let attempt = 1; ; attempt++) {
      await this.#acquire();
      let reason: string;
      let waitMs: number | undefined;
      try {
        const response = await this.#fetch(`${this.#base}${path}`, {
          headers: { authorization: `Bearer ${this.#key}`, accept: "application/json" },
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        if (response.ok) {
          const json = await response.text();
          try {
            return { body: JSON.parse(json), json };
          } catch {
            throw new ClerkApiError(
              "clerk_bad_response",
              `${route}: the response is not JSON`,
              response.status,
            );
          }
        }
        await response.body?.cancel();
        if (response.status === 401 || response.status === 403) {
          throw new ClerkApiError(
            "clerk_unauthorized",
            `${route}: Clerk refused ${this.#keyName} (HTTP ${response.status}); ` +
              "check that it is a current secret key of this instance (sk_test_… for development, sk_live_… for production)",
            response.status,
          );
        }
        if (response.status !== 429 && response.status < 500) {
          throw new ClerkApiError(
            "clerk_request_failed",
            `${route}: HTTP ${response.status}`,
            response.status,
          );
        }
        reason = `HTTP ${response.status}`;
        if (response.status === 429) waitMs = retryAfter(response.headers.get("retry-after"), this.#now());
      } catch (error) {
        if (error instanceof ClerkApiError) throw error;
        reason = networkReason(error);
      }
      if (attempt >= this.#maxAttempts) {
        throw new ClerkApiError(
          "clerk_unavailable",
          `${route}: gave up after ${attempt} attempts (last: ${reason})`,
          reason.startsWith("HTTP ") ? Number(reason.slice(5)) : undefined,
        );
      }
      const backoff = Math.min(this.#maxWaitMs, this.#backoffMs * 2 ** (attempt - 1));
      const wait = Math.min(this.#maxWaitMs, waitMs ?? Math.round(backoff * (0.5 + this.#random() / 2)));
      this.#onRetry({ attempt, waitMs: wait, reason });
      await this.#sleep(wait);
    }
  }

  /** A sliding-window limiter: waits until the oldest request of a full window leaves it. */
  async #acquire(): Promise<void> {
    for (;;) {
      const now = this.#now();
      while (this.#sent.length > 0 && (this.#sent[0] as number) <= now - this.#limit.perMs)
        this.#sent.shift();
      if (this.#sent.length < this.#limit.requests) {
        this.#sent.push(now);
        return;
      }
      await this.#sleep((this.#sent[0] as number) + this.#limit.perMs - now);
    }
  }
}

function isUser(value: unknown): value is ClerkUser {
  if (typeof value !== "object" || value === null) return false;
  const { id, updated_at } = value as Record<string, unknown>;
  return typeof id === "string" && id !== "" && typeof updated_at === "number" && Number.isFinite(updated_at);
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from now; undefined when absent or unreadable. */
function retryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** What went wrong below HTTP, in a few words for the log: `timeout`, or the socket error's code. */
function networkReason(error: unknown): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
    return "timeout";
  const code = (error as { cause?: { code?: unknown } })?.cause?.code;
  return `network error${typeof code === "string" ? ` ${code}` : ""}`;
}
