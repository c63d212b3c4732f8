import { applyOrganizations, applyUsers } from "../backfill/apply.js";
import type { ClerkOrganization, ClerkUser } from "../backfill/clerk-api.js";
import type { Database } from "../db/database.js";
import type { OrganizationRow, UserRow } from "../db/schema.js";
import { ConfigError } from "../errors.js";
import { LIMITS } from "../limits.js";
import type { Logger } from "../log.js";
import { getOrganization } from "../store/organizations.js";
import { getUser } from "../store/users.js";
import { ENVIRONMENTS, type Environment } from "../verify.js";
import { type FetchBounds, fetchObject } from "./fetch-object.js";

/**
 * Where `ensureUser` and `ensureOrganization` read what the table does not hold yet: Clerk's Backend API, with the
 * secret key of the instance asked. The environment of a row is the instance whose key fetched it, as for a
 * backfill.
 */
export interface ReadThroughOptions extends FetchBounds {
  /** Each instance's secret key: `sk_test_…` for Development, `sk_live_…` for Production. */
  secretKeys: Partial<Record<Environment, string | undefined>>;
  /**
   * The instance asked when a call names none. Needed only with both keys: with one, it is that key's instance.
   * Set it to the instance your app's own `CLERK_SECRET_KEY` belongs to: that is where `auth()`'s user ids come from.
   */
  environment?: Environment;
  /** `https://api.clerk.com`. */
  apiUrl?: string;
  /** What each key is called in messages (`PROD_CLERK_SECRET_KEY`); never the key itself. */
  keyNames?: Partial<Record<Environment, string>>;
}

/** What a call may say besides the id. */
export interface EnsureOptions {
  /** The instance to ask; see {@link ReadThroughOptions.environment} for the default. */
  environment?: Environment;
}

/** The read-through half of `createClerkUserSync`'s product. */
export interface ReadThrough {
  ensureUser(clerkUserId: string, options?: EnsureOptions): Promise<UserRow | null>;
  ensureOrganization(clerkOrgId: string, options?: EnsureOptions): Promise<OrganizationRow | null>;
}

const PREFIXES: Record<Environment, string> = { development: "sk_test_", production: "sk_live_" };

/** Every problem with read-through options, for the caller's ConfigError (keys are never echoed). */
export function readThroughProblems(options: ReadThroughOptions | undefined): string[] {
  if (!options) return [];
  const problems: string[] = [];
  for (const environment of ENVIRONMENTS) {
    const key = options.secretKeys?.[environment];
    const name = options.keyNames?.[environment] ?? `clerk.secretKeys.${environment}`;
    if (key !== undefined && !key.startsWith(PREFIXES[environment]))
      problems.push(`${name} is not a ${environment} secret key: expected ${PREFIXES[environment]}…`);
  }
  const { environment } = options;
  if (environment !== undefined && !ENVIRONMENTS.includes(environment))
    problems.push("clerk.environment must be development or production");
  else if (environment !== undefined && !options.secretKeys?.[environment])
    problems.push(`clerk.environment is ${environment}, but no ${environment} secret key is given`);
  return problems;
}

/** How one resource is read, judged and written: a user or an organization. */
interface Resource<Row> {
  kind: "users" | "organizations";
  tombstones: string;
  id: string;
  read(db: Database, environment: Environment, id: string): Promise<Row | null>;
  write(db: Database, environment: Environment, object: ClerkUser | ClerkOrganization): Promise<string>;
}

const USERS: Resource<UserRow> = {
  kind: "users",
  tombstones: "user_tombstones",
  id: "clerk_user_id",
  read: (db, environment, clerkUserId) => getUser(db, { clerkUserId, environment }),
  write: async (db, environment, user) => (await applyUsers(db, environment, [user]))[0] ?? "stale",
};

const ORGANIZATIONS: Resource<OrganizationRow> = {
  kind: "organizations",
  tombstones: "organization_tombstones",
  id: "clerk_org_id",
  read: (db, environment, clerkOrgId) => getOrganization(db, { clerkOrgId, environment }),
  write: async (db, environment, org) => (await applyOrganizations(db, environment, [org]))[0] ?? "stale",
};

/**
 * The stored row, or, when there is none and no tombstone, the object fetched from Clerk and stored through the
 * backfill's guarded statement (the webhook's locks, ordering by `updated_at`, tombstones win, one transaction).
 * Concurrent calls for one id share one fetch; calls for an id Clerk does not have, or that was deleted, return null.
 */
export function createReadThrough(
  db: Database,
  options: ReadThroughOptions | undefined,
  logger: Logger,
): ReadThrough {
  const flights = new Map<string, Promise<unknown>>();

  function environmentOf(asked: Environment | undefined): Environment {
    const keyed = ENVIRONMENTS.filter((e) => options?.secretKeys?.[e]);
    const environment = asked ?? options?.environment ?? (keyed.length === 1 ? keyed[0] : undefined);
    if (environment && ENVIRONMENTS.includes(environment)) return environment;
    throw new ConfigError([
      keyed.length === 0
        ? "ensureUser/ensureOrganization need an instance: give clerk.secretKeys (or, in Next.js, set CLERK_SECRET_KEY)"
        : "both secret keys are given: set clerk.environment (in Next.js, CLERK_SECRET_KEY picks it) or pass { environment }",
    ]);
  }

  async function ensure<Row>(resource: Resource<Row>, id: string, asked: Environment | undefined) {
    if (typeof id !== "string") throw new TypeError(`ensure: the id must be a string, not ${typeof id}`);
    const environment = environmentOf(asked);
    // Not an id Clerk issues (and `.`/`..` would walk the URL's path): Clerk has no such object.
    if (!/^[A-Za-z0-9_-]+$/.test(id) || Buffer.byteLength(id) > LIMITS.clerkId) return null;
    const stored = await resource.read(db, environment, id);
    if (stored) return stored;
    const key = `${environment}:${resource.kind}:${id}`;
    let flight = flights.get(key) as Promise<Row | null> | undefined;
    if (!flight) {
      flight = readThrough(resource, environment, id).finally(() => flights.delete(key));
      flights.set(key, flight);
    }
    return flight;
  }

  async function readThrough<Row>(resource: Resource<Row>, environment: Environment, id: string) {
    // Again, inside the one flight: a call that read before the previous flight stored the row must not fetch twice.
    const stored = await resource.read(db, environment, id);
    if (stored) return stored;
    if (await tombstoned(resource, environment, id)) return null;
    const secretKey = options?.secretKeys?.[environment];
    if (!secretKey) {
      throw new ConfigError([
        `no ${environment} secret key is given: the row is missing and Clerk cannot be asked`,
      ]);
    }
    const source = {
      baseUrl: options?.apiUrl ?? "https://api.clerk.com",
      secretKey,
      keyName: options?.keyNames?.[environment] ?? `the ${environment} secret key`,
    };
    const object = await fetchObject(source, resource.kind, id, options ?? {});
    if (!object) {
      logger.info({ environment, resource: resource.kind, result: "not_found" }, "read-through");
      return null;
    }
    const result = await resource.write(db, environment, object);
    logger.info({ environment, resource: resource.kind, result }, "read-through");
    // `stale` or `unchanged`: a webhook stored this state or a newer one meanwhile; the row says which.
    return result === "tombstoned" ? null : resource.read(db, environment, id);
  }

  async function tombstoned(
    resource: Resource<unknown>,
    environment: Environment,
    id: string,
  ): Promise<boolean> {
    const rows = await db.query<{ one: number }>(
      `select 1 as one from ${resource.tombstones} where environment = $1 and ${resource.id} = $2`,
      [environment, id],
    );
    return rows.length > 0;
  }

  return {
    ensureUser: (clerkUserId, call) => ensure(USERS, clerkUserId, call?.environment),
    ensureOrganization: (clerkOrgId, call) => ensure(ORGANIZATIONS, clerkOrgId, call?.environment),
  };
}
