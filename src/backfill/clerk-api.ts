import { networkReason, retryAfter } from "../network.js";
import type { Environment } from "../verify.js";
import { BillingDisabled, ClerkApiError, OrganizationsDisabled } from "./errors.js";

/** A Clerk User object as the Backend API returns it (snake_case, the same shape as a webhook's `data`). */
export type ClerkUser = Record<string, unknown> & { id: string; updated_at: number };

/** A Clerk Organization object as the Backend API returns it. */
export type ClerkOrganization = Record<string, unknown> & { id: string; updated_at: number };

/** A Clerk OrganizationMembership object as the Backend API returns it (the same shape as a webhook's `data`). */
export type ClerkMembership = Record<string, unknown> & {
  id: string;
  updated_at: number;
  organization: { id: string };
  public_user_data: { user_id: string };
};

/**
 * A Clerk Billing object as the Backend API returns it (a plan, a subscription item, a subscription): only its `id`
 * is relied upon; Billing's API is experimental, the rest is read defensively (src/decode-billing.ts).
 */
export type ClerkBillingObject = Record<string, unknown> & { id: string };

/** Whose subscription `GET /v1/{users|organizations}/{id}/billing/subscription` reads. */
export type PayerKind = "user" | "organization";

/** One page of an offset listing (`{ data, total_count }`) and where it stood. */
export interface OffsetPage<T> {
  rows: T[];
  /** `total_count` as this page reported it. */
  totalCount: number;
  offset: number;
}

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
    const seen = new Set<string>();
    for (;;) {
      const page = await this.listUsers({ limit: pageSize, startingAfter: after });
      progressed("GET /v1/users", page.users, pageSize, seen);
      if (page.users.length > 0) yield page;
      const last = page.users.at(-1);
      if (page.users.length < pageSize || !last) return;
      after = last.id;
    }
  }

  /** Every organization, page by page, oldest first (offset pagination: the API has no cursor here). */
  organizationPages({ pageSize = MAX_PAGE_SIZE } = {}): AsyncGenerator<OffsetPage<ClerkOrganization>> {
    return this.#offsetPages("/v1/organizations", pageSize, isOrganization, "Organization objects");
  }

  /** Every membership of the instance (`GET /v1/organization_memberships`), page by page, oldest first. */
  membershipPages({ pageSize = MAX_PAGE_SIZE } = {}): AsyncGenerator<OffsetPage<ClerkMembership>> {
    return this.#offsetPages(
      "/v1/organization_memberships",
      pageSize,
      isMembership,
      "OrganizationMembership objects, each naming its organization and user",
    );
  }

  /**
   * An offset listing, oldest first (`order_by=+created_at`, so that rows created during the walk land after it
   * rather than shifting the pages). Each page must make progress: no row already listed, no more rows than asked,
   * none past the total it reports; otherwise `clerk_api_inconsistent`. A page shorter than the limit is the last.
   */
  async *#offsetPages<T extends { id: string }>(
    path: string,
    pageSize: number,
    valid: (row: unknown) => row is T,
    what: string,
  ): AsyncGenerator<OffsetPage<T>> {
    const seen = new Set<string>();
    let offset = 0;
    for (;;) {
      const query = { limit: String(pageSize), offset: String(offset), order_by: "+created_at" };
      const { rows, totalCount } = await this.#offsetPage(path, query, valid, what);
      progressed(`GET ${path}`, rows, pageSize, seen);
      if (rows.length > 0 && offset >= totalCount) {
        throw new ClerkApiError(
          "clerk_api_inconsistent",
          `GET ${path}: rows at offset ${offset} of a listing that counts ${totalCount}; nothing was pruned`,
        );
      }
      yield { rows, totalCount, offset };
      if (rows.length < pageSize) return;
      offset += rows.length;
    }
  }

  /** Every Billing plan of the instance (`GET /v1/billing/plans`, users' and organizations'), page by page. */
  billingPlanPages({ pageSize = MAX_PAGE_SIZE } = {}): AsyncGenerator<OffsetPage<ClerkBillingObject>> {
    return this.#billingPages("/v1/billing/plans", pageSize, {}, "Plan objects");
  }

  /** Every subscription item of the instance, the default (free) plan's included, page by page. */
  billingItemPages({ pageSize = MAX_PAGE_SIZE } = {}): AsyncGenerator<OffsetPage<ClerkBillingObject>> {
    return this.#billingPages(
      "/v1/billing/subscription_items",
      pageSize,
      { include_free: "true" },
      "SubscriptionItem objects",
    );
  }

  /**
   * `GET /v1/{users|organizations}/{id}/billing/subscription`: the payer's subscription, its items nested in
   * `subscription_items`; null when Clerk has none for it (404).
   */
  async payerSubscription(kind: PayerKind, id: string): Promise<ClerkBillingObject | null> {
    const path = `/v1/${kind === "user" ? "users" : "organizations"}/${encodeURIComponent(id)}/billing/subscription`;
    const answer = await this.#get(path, { missing: true });
    if (answer === null) return null;
    if (!isBillingObject(answer.body)) {
      throw new ClerkApiError(
        "clerk_bad_response",
        `GET /v1/${kind === "user" ? "users" : "organizations"}/{id}/billing/subscription: expected a Subscription object with a string \`id\``,
      );
    }
    return answer.body;
  }

  /**
   * A Billing listing: offset pages, newest first (Clerk offers no other order), so an object created during the walk
   * shifts the later pages and one row comes twice: tolerated (nothing is pruned from it), but a full page with nothing
   * new is an API that does not advance (`clerk_api_inconsistent`). A page shorter than the limit is the last.
   */
  async *#billingPages(
    path: string,
    pageSize: number,
    extra: Record<string, string>,
    what: string,
  ): AsyncGenerator<OffsetPage<ClerkBillingObject>> {
    const seen = new Set<string>();
    let offset = 0;
    for (;;) {
      const query = { ...extra, limit: String(pageSize), offset: String(offset) };
      const { rows, totalCount } = await this.#offsetPage(path, query, isBillingObject, what);
      if (rows.length > pageSize || (rows.length === pageSize && rows.every(({ id }) => seen.has(id)))) {
        throw new ClerkApiError(
          "clerk_api_inconsistent",
          `GET ${path}: a page of ${rows.length} rows (limit ${pageSize}) brings nothing new (the API does not advance its offset)`,
        );
      }
      for (const { id } of rows) seen.add(id);
      yield { rows, totalCount, offset };
      if (rows.length < pageSize) return;
      offset += rows.length;
    }
  }

  /** One page of an offset listing, `{ data, total_count }`, each row checked by `valid`. */
  async #offsetPage<T>(
    path: string,
    query: Record<string, string>,
    valid: (row: unknown) => row is T,
    what: string,
  ): Promise<{ rows: T[]; totalCount: number }> {
    const { body } = (await this.#get(`${path}?${new URLSearchParams(query)}`)) as { body: unknown };
    const page = body as { data?: unknown; total_count?: unknown };
    const totalCount = page?.total_count;
    if (!Array.isArray(page?.data) || !page.data.every(valid) || typeof totalCount !== "number") {
      throw new ClerkApiError("clerk_bad_response", `GET ${path}: expected { data: [${what}], total_count }`);
    }
    return { rows: page.data as T[], totalCount };
  }

  async #get(path: string): Promise<{ body: unknown; json: string }>;
  async #get(path: string, options: { missing: true }): Promise<{ body: unknown; json: string } | null>;
  async #get(path: string, { missing = false } = {}): Promise<{ body: unknown; json: string } | null> {
    // Ids stay out of messages: a route names the endpoint, never the user or organization.
    const route = `GET ${path.split("?")[0]?.replace(/^\/v1\/(users|organizations)\/[^/]+\/billing/, "/v1/$1/{id}/billing")}`;
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
        if (response.status === 403 || response.status === 404) {
          const text = await response.text().catch(() => "");
          if (text.includes('"organization_not_enabled_in_instance"')) {
            throw new OrganizationsDisabled(route);
          }
          if (route.includes("/billing") && billingNotEnabled(text)) throw new BillingDisabled(route);
          if (response.status === 404 && missing) return null;
        } else await response.body?.cancel();
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
        if (
          error instanceof ClerkApiError ||
          error instanceof OrganizationsDisabled ||
          error instanceof BillingDisabled
        )
          throw error;
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

/**
 * A page of a listing must make progress: no more rows than asked, and none listed by an earlier page (an API that ignores
 * `starting_after` or `offset` serves the same page again, and a listing would never end, or prune on a lie).
 */
function progressed(route: string, rows: readonly { id: string }[], limit: number, seen: Set<string>): void {
  if (rows.length > limit) {
    throw new ClerkApiError(
      "clerk_api_inconsistent",
      `${route}: ${rows.length} rows in a page of ${limit}; nothing was pruned`,
    );
  }
  // A row repeated within one page is tolerated (its newest copy is written); one from an earlier page is not.
  if (rows.some(({ id }) => seen.has(id))) {
    throw new ClerkApiError(
      "clerk_api_inconsistent",
      `${route}: a page repeats rows of an earlier page (the API does not advance its cursor or offset); nothing was pruned`,
    );
  }
  for (const { id } of rows) seen.add(id);
}

/**
 * Whether an error answer of a Billing endpoint says Billing is off: Clerk documents no code for it, so any error code
 * naming billing or commerce (its former name) that is not about the key.
 */
function billingNotEnabled(text: string): boolean {
  try {
    const { errors } = JSON.parse(text) as { errors?: { code?: unknown }[] };
    return (errors ?? []).some(
      ({ code }) => typeof code === "string" && /billing|commerce/i.test(code) && !/auth/i.test(code),
    );
  } catch {
    return false;
  }
}

function isBillingObject(value: unknown): value is ClerkBillingObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const { id } = value as Record<string, unknown>;
  return typeof id === "string" && id !== "";
}

function isOrganization(value: unknown): value is ClerkOrganization {
  return isUser(value);
}

function isMembership(value: unknown): value is ClerkMembership {
  if (!isUser(value)) return false;
  const { organization, public_user_data } = value as Record<
    string,
    { id?: unknown; user_id?: unknown } | null
  >;
  return (
    typeof organization?.id === "string" &&
    organization.id !== "" &&
    typeof public_user_data?.user_id === "string" &&
    public_user_data.user_id !== ""
  );
}

function isUser(value: unknown): value is ClerkUser {
  if (typeof value !== "object" || value === null) return false;
  const { id, updated_at } = value as Record<string, unknown>;
  return typeof id === "string" && id !== "" && typeof updated_at === "number" && Number.isFinite(updated_at);
}
