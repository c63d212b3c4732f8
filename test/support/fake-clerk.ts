import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** A realistic Clerk User object (the Backend API's shape). */
export type FakeUser = Record<string, unknown> & { id: string; created_at: number; updated_at: number };

/** A Clerk Organization or OrganizationMembership object, as the fake serves it. */
export type FakeObject = Record<string, unknown> & { id: string; created_at: number; updated_at: number };

/** The answer a scripted fault gives instead of the real one; `reset` drops the connection without a word. */
export type Fault = { status: number; headers?: Record<string, string>; body?: string } | "reset";

/** One request the fake received. */
export interface Received {
  path: string;
  query: Record<string, string>;
  authorized: boolean;
}

/**
 * A local stand-in for Clerk's Backend API over real HTTP: `GET /v1/users` (limit, starting_after, order_by),
 * `GET /v1/users/count`, `GET /v1/users/{id}` and `GET /v1/organizations/{id}` (404 `resource_not_found`), bearer-key checked, with scriptable faults and a hook that runs before each page is
 * answered (to change things mid-listing).
 */
export interface FakeClerk {
  url: string;
  secretKey: string;
  /** The instance's users; change freely between (or during) requests. */
  users: FakeUser[];
  received: Received[];
  /** The instance's organizations and memberships (`GET /v1/organizations`, `GET /v1/organization_memberships`). */
  organizations: FakeObject[];
  memberships: FakeObject[];
  /** Answers both with 403 `organization_not_enabled_in_instance`, as an instance without organizations does. */
  organizationsDisabled: boolean;
  /**
   * Clerk Billing (`GET /v1/billing/plans`, `GET /v1/billing/subscription_items`, `GET /v1/{users|organizations}/{id}/
   * billing/subscription`): off by default, as on a new Clerk instance; then every Billing endpoint answers 403.
   */
  billingEnabled: boolean;
  /** The instance's plans, in the order served. */
  plans: (Record<string, unknown> & { id: string })[];
  /** The instance's subscription items (a default plan's are left out unless `include_free=true`). */
  items: FakeObject[];
  /** Each payer's subscription, by the user's or organization's id (404 for a payer without one). */
  subscriptions: Map<string, FakeObject>;
  /** A broken API: serves the first page whatever the `offset` or `starting_after`. */
  ignoresPosition: boolean;
  /** Runs before the n-th page (1-based) of an offset listing is answered; the answer reflects what it changed. */
  beforeOffsetPage?: (path: string, n: number) => Promise<void> | void;
  /** The next requests to `path` (any path with `*`) get these answers, in order. */
  fail(
    path:
      | "/v1/users"
      | "/v1/users/count"
      | "/v1/organizations"
      | "/v1/organization_memberships"
      | `/v1/users/${string}`
      | `/v1/organizations/${string}`
      | "/v1/billing/plans"
      | "/v1/billing/subscription_items"
      | "*",
    ...faults: Fault[]
  ): void;
  /**
   * Runs before `GET /v1/users/{id}` or `GET /v1/organizations/{id}` is answered (the object as it is once this
   * resolves); to hold an answer while something else happens.
   */
  beforeObject?: (path: string) => Promise<void> | void;
  /** Runs before the n-th `GET /v1/users` (1-based) is answered; the answer reflects what it changed. */
  beforePage?: (n: number) => Promise<void> | void;
  /** Serialises every page of this size once, so that serving costs nothing (benchmarks). */
  prepare(pageSize: number): void;
  close(): Promise<void>;
}

export async function startFakeClerk({
  secretKey = "sk_test_fakeClerkTestKey0123456789",
  users = [],
}: {
  secretKey?: string;
  users?: FakeUser[];
} = {}): Promise<FakeClerk> {
  const faults: { path: string; fault: Fault }[] = [];
  const prepared = new Map<string, Buffer>();
  let pages = 0;
  const offsetPages = new Map<string, number>();
  const fake: FakeClerk = {
    url: "",
    secretKey,
    users,
    organizations: [],
    memberships: [],
    organizationsDisabled: false,
    billingEnabled: false,
    plans: [],
    items: [],
    subscriptions: new Map(),
    ignoresPosition: false,
    received: [],
    fail(path, ...list) {
      faults.push(...list.map((fault) => ({ path, fault })));
    },
    prepare(pageSize) {
      prepared.clear();
      const sorted = ordered(fake.users, "created_at");
      for (let i = 0; i <= sorted.length; i += pageSize) {
        const after = sorted[i - 1]?.id;
        const query = new URLSearchParams({ limit: String(pageSize), order_by: "created_at" });
        if (after) query.set("starting_after", after);
        prepared.set(query.toString(), Buffer.from(JSON.stringify(sorted.slice(i, i + pageSize))));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const authorized = req.headers.authorization === `Bearer ${secretKey}`;
    fake.received.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), authorized });
    const i = faults.findIndex((f) => f.path === "*" || f.path === url.pathname);
    const scripted = i >= 0 ? faults.splice(i, 1)[0]?.fault : undefined;
    if (scripted === "reset") return void req.socket.destroy();
    if (scripted) return send(res, scripted.status, scripted.body ?? "{}", scripted.headers);
    if (!authorized) return send(res, 401, clerkError("authentication_invalid", "Unauthorized request"));
    if (url.pathname === "/v1/users/count") {
      return send(res, 200, JSON.stringify({ object: "total_count", total_count: fake.users.length }));
    }
    if (url.pathname.startsWith("/v1/billing/") || url.pathname.endsWith("/billing/subscription")) {
      return billing(fake, url, res);
    }
    const one = /^\/v1\/(users|organizations)\/([^/]+)$/.exec(url.pathname);
    if (one && url.pathname !== "/v1/users/count") {
      await fake.beforeObject?.(url.pathname);
      const id = decodeURIComponent(one[2] as string);
      const found = (one[1] === "users" ? fake.users : fake.organizations).find((o) => o.id === id);
      if (!found) return send(res, 404, clerkError("resource_not_found", "Resource not found"));
      return send(res, 200, JSON.stringify(found));
    }
    const listing = {
      "/v1/organizations": fake.organizations,
      "/v1/organization_memberships": fake.memberships,
    }[url.pathname];
    if (listing) {
      if (fake.organizationsDisabled) {
        return send(
          res,
          403,
          clerkError("organization_not_enabled_in_instance", "Organizations are not enabled"),
        );
      }
      const n = (offsetPages.get(url.pathname) ?? 0) + 1;
      offsetPages.set(url.pathname, n);
      await fake.beforeOffsetPage?.(url.pathname, n);
      const limit = Number(url.searchParams.get("limit") ?? 10);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        return send(res, 422, clerkError("form_param_value_invalid", "limit must be between 1 and 500"));
      }
      const offset = fake.ignoresPosition ? 0 : Number(url.searchParams.get("offset") ?? 0);
      const all = {
        "/v1/organizations": fake.organizations,
        "/v1/organization_memberships": fake.memberships,
      }[url.pathname] as FakeObject[];
      const sorted = ordered(all as FakeUser[], url.searchParams.get("order_by") ?? "-created_at");
      return send(
        res,
        200,
        JSON.stringify({ data: sorted.slice(offset, offset + limit), total_count: all.length }),
      );
    }
    if (url.pathname !== "/v1/users") return send(res, 404, clerkError("resource_not_found", "Not found"));
    await fake.beforePage?.(++pages);
    const cached = prepared.get(url.searchParams.toString());
    if (cached) return send(res, 200, cached);
    const limit = Number(url.searchParams.get("limit") ?? 10);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      return send(res, 422, clerkError("form_param_value_invalid", "limit must be between 1 and 500"));
    }
    const sorted = ordered(fake.users, url.searchParams.get("order_by") ?? "-created_at");
    const after = fake.ignoresPosition ? null : url.searchParams.get("starting_after");
    const start = after === null ? 0 : sorted.findIndex((u) => u.id === after) + 1;
    if (start === 0 && after !== null) {
      return send(res, 422, clerkError("form_param_value_invalid", "starting_after: no such user"));
    }
    const offset = Number(url.searchParams.get("offset") ?? 0);
    return send(res, 200, JSON.stringify(sorted.slice(start + offset, start + offset + limit)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  fake.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  return fake;
}

/**
 * Billing's endpoints. Clerk documents no answer for an instance without Billing: the fake's 403 carries an error code
 * naming billing, which is what the client takes for "disabled".
 */
function billing(fake: FakeClerk, url: URL, res: ServerResponse) {
  if (!fake.billingEnabled) {
    return send(res, 403, clerkError("billing_not_enabled", "Billing is not enabled for this instance"));
  }
  const payer = /^\/v1\/(users|organizations)\/([^/]+)\/billing\/subscription$/.exec(url.pathname);
  if (payer) {
    const found = fake.subscriptions.get(decodeURIComponent(payer[2] as string));
    if (!found) return send(res, 404, clerkError("resource_not_found", "Resource not found"));
    return send(res, 200, JSON.stringify(found));
  }
  const limit = Number(url.searchParams.get("limit") ?? 10);
  const offset = Number(url.searchParams.get("offset") ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    return send(res, 422, clerkError("form_param_value_invalid", "limit must be between 1 and 500"));
  }
  let all: Record<string, unknown>[];
  if (url.pathname === "/v1/billing/plans") all = fake.plans;
  else if (url.pathname === "/v1/billing/subscription_items") {
    const free = url.searchParams.get("include_free") === "true";
    // Newest first, as Clerk lists them.
    all = ordered(fake.items as FakeUser[], "-created_at").filter(
      (item) => free || (item.plan as { is_default?: boolean } | null)?.is_default !== true,
    );
  } else return send(res, 404, clerkError("resource_not_found", "Not found"));
  return send(res, 200, JSON.stringify({ data: all.slice(offset, offset + limit), total_count: all.length }));
}

function ordered(users: FakeUser[], orderBy: string): FakeUser[] {
  const sign = orderBy.startsWith("-") ? -1 : 1;
  if (orderBy.replace(/^[+-]/, "") !== "created_at") throw new Error(`fake Clerk: order_by ${orderBy}`);
  return [...users].sort((a, b) => sign * (a.created_at - b.created_at || (a.id < b.id ? -1 : 1)));
}

function send(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(body);
}

function clerkError(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message, long_message: message }] });
}

/**
 * The n-th user of a fake instance, created `n` seconds after `t0` and last updated at `t0 + n` seconds + 1 ms:
 * a whole Clerk User object with a verified primary email that is not the first address.
 */
export function fakeUser(n: number, overrides: Partial<FakeUser> = {}, t0 = 1_700_000_000_000): FakeUser {
  const created = t0 + n * 1000;
  const tag = String(n).padStart(8, "0");
  const email = (id: string, address: string) => ({
    created_at: created,
    email_address: address,
    id,
    linked_to: [],
    object: "email_address",
    reserved: false,
    updated_at: created,
    verification: { attempts: null, expire_at: null, status: "verified", strategy: "email_code" },
  });
  return {
    backup_code_enabled: false,
    banned: false,
    create_organization_enabled: true,
    created_at: created,
    delete_self_enabled: true,
    email_addresses: [
      email(`idn_old${tag}`, `old${n}@example.org`),
      email(`idn_${tag}`, `person${n}@example.org`),
    ],
    external_accounts: [],
    external_id: null,
    first_name: `First${n}`,
    has_image: true,
    id: `user_${tag}fake`,
    image_url: `https://img.clerk.com/eyJ0eXBlIjoicHJveHkiLCJzcmMiOiJodHRwczovL2ltYWdlcy5jbGVyay5kZXYv${n}`,
    last_active_at: created,
    last_name: `Last${n}`,
    last_sign_in_at: created,
    locked: false,
    lockout_expires_in_seconds: null,
    object: "user",
    passkeys: [],
    password_enabled: true,
    phone_numbers: [],
    primary_email_address_id: `idn_${tag}`,
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    private_metadata: {},
    profile_image_url: "https://www.gravatar.com/avatar?d=mp",
    public_metadata: { plan: "free" },
    saml_accounts: [],
    totp_enabled: false,
    two_factor_enabled: false,
    unsafe_metadata: {},
    updated_at: created + 1,
    username: null,
    verification_attempts_remaining: 100,
    web3_wallets: [],
    ...overrides,
  };
}

/** `count` fake users, numbered from `from`. */
export function fakeUsers(count: number, from = 0): FakeUser[] {
  return Array.from({ length: count }, (_, i) => fakeUser(from + i));
}

/** The n-th organization of a fake instance, created `n` seconds after `t0`. */
export function fakeOrganization(
  n: number,
  overrides: Partial<FakeObject> = {},
  t0 = 1_700_000_000_000,
): FakeObject {
  const created = t0 + n * 1000;
  return {
    object: "organization",
    id: `org_${String(n).padStart(8, "0")}fake`,
    name: `Org ${n}`,
    slug: n % 2 === 0 ? `org-${n}` : null,
    image_url: "https://img.clerk.com/org",
    has_image: false,
    max_allowed_memberships: 0,
    admin_delete_enabled: true,
    public_metadata: {},
    private_metadata: {},
    created_at: created,
    updated_at: created + 1,
    ...overrides,
  };
}

/** The n-th membership of a fake instance: of `org`'s organization and `user`'s user. */
export function fakeMembership(
  n: number,
  { org, user }: { org: FakeObject; user: { id: string } },
  overrides: Partial<FakeObject> = {},
  t0 = 1_700_000_000_000,
): FakeObject {
  const created = t0 + n * 1000;
  return {
    object: "organization_membership",
    id: `orgmem_${String(n).padStart(8, "0")}fake`,
    role: "org:member",
    role_name: "Member",
    permissions: [],
    public_metadata: {},
    private_metadata: {},
    organization: org,
    public_user_data: {
      user_id: user.id,
      first_name: null,
      last_name: null,
      identifier: "x",
      has_image: false,
    },
    created_at: created,
    updated_at: created + 1,
    ...overrides,
  };
}
