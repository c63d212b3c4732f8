import type { Database } from "../db/database.js";
import { lockedTransaction } from "../db/sql.js";
import { type Delivery, resourceOf, storableAsIs, type WriteTarget } from "../decode.js";
import { BILLING_APPLY } from "./billing.js";
import { billingLockKey } from "./locks.js";
import { lockKeys, SHAPES, STATEMENTS } from "./shapes.js";

/**
 * What a delivery did, part of the HTTP contract:
 * - `applied`: the table changed to this event's state;
 * - `duplicate`: this `svix-id` was taken before; nothing written;
 * - `stale`: the table already holds a newer state, or the object (or, for a membership, its organization or user)
 *   is deleted; nothing changed but the log;
 * - `ignored`: not an event this package writes; only logged.
 */
export type Outcome = "applied" | "duplicate" | "stale" | "ignored";

/**
 * A delivery to apply, with, when the caller has it, the exact JSON text it was decoded from: then its `data` goes
 * to PostgreSQL verbatim rather than serialised again (the largest part of a batch, and of its CPU).
 */
export type Applicable = Delivery & { readonly body?: string };

/**
 * Applies deliveries in one transaction and returns each one's outcome, in order. The result is the same as
 * applying them one by one in this order, whatever else commits concurrently:
 *
 * 1. Advisory locks, one per `svix-id` and per object an event can change or depends on, taken in sorted order
 *    (no deadlocks) in their own statement, so that the next statement's snapshot already sees whatever a
 *    competing transaction committed: a user event locks its user, an organization event its organization, a
 *    membership event the membership, its organization and its user (so it serialises with their deletes, which
 *    cascade to memberships), a Billing event every subscription, item and payment attempt it writes.
 * 2. The batch is cut into maximal runs of one resource (users, organizations, memberships, Billing; an ignored
 *    delivery joins the run it is in) and each run is one statement, in order, in the same transaction and round
 *    trip: a statement sees what the ones before it wrote. A statement decides every outcome of its run from its
 *    snapshot and the run itself (a delivery already logged is a duplicate; a tombstone or an earlier delete in
 *    the run makes an event stale; an upsert applies only when its `updated_at` is newer than the stored one and
 *    every earlier one in the run), then writes the final state of each object, the tombstones, the cascades and
 *    the delivery log. A batch of user events alone is one statement, as it always was.
 *
 * The whole transaction is one round trip: each run travels as one JSON document, the parameter of its statement
 * ({@link lockedTransaction}); the statements are built from each resource's shape (src/store/shapes.ts).
 */
export async function applyBatch(
  db: Database,
  batch: readonly Queued[],
  { timeoutMs }: { timeoutMs?: number } = {},
): Promise<Outcome[]> {
  const keys = [...new Set(batch.flatMap((q) => q.keys))];
  const steps = runs(batch).map(({ resource, rows }) => ({
    statement: resource === "billing" ? BILLING_APPLY : STATEMENTS[resource].apply,
    values: [`[${rows.join(",")}]`],
  }));
  const outcomes = (await lockedTransaction(db, keys, steps, { timeoutMs })) as {
    o: number;
    outcome: Outcome;
  }[];
  if (outcomes.length !== batch.length) throw new Error("apply: unexpected result shape");
  return outcomes.sort((a, b) => a.o - b.o).map((r) => r.outcome);
}

/**
 * A delivery as {@link applyBatch} sends it, made when the delivery is queued: its row and its lock keys are then
 * built while the transaction before it runs, not between two transactions, when PostgreSQL would wait for them.
 */
export interface Queued {
  readonly delivery: Applicable;
  /** The statement its row is for: its resource's, or the users' for an ignored delivery (see {@link runs}). */
  readonly resource: WriteTarget;
  /** Its row of the batch, JSON text without its place in the batch (`o`), which is known only when it goes. */
  readonly row: string;
  /** The advisory locks it needs. */
  readonly keys: readonly string[];
}

/** A delivery as {@link applyBatch} takes it. */
export function queued(delivery: Applicable): Queued {
  const resource = resourceOf(delivery) ?? "user";
  return { delivery, resource, row: ROWS[resource](delivery), keys: deliveryLockKeys(delivery) };
}

/** The advisory locks one delivery needs: its message, and every object it can change or depends on. */
function deliveryLockKeys(d: Applicable): string[] {
  const message = `${d.environment}:message:${d.svixId}`;
  switch (d.resource) {
    case "organization":
      return [message, ...lockKeys(SHAPES.organization, d.environment, { g: d.clerkOrgId })];
    case "billing": {
      const { subscriptions, items, paymentAttempts } = d.billing;
      const ids = [...subscriptions, ...items, ...paymentAttempts].map(({ id }) =>
        billingLockKey(d.environment, id),
      );
      return [message, ...ids];
    }
    case "membership":
      return [
        message,
        ...lockKeys(SHAPES.membership, d.environment, {
          m: d.clerkMembershipId,
          g: d.clerkOrgId,
          u: d.clerkUserId,
        }),
      ];
    default:
      return [message, ...lockKeys(SHAPES.user, d.environment, { u: d.clerkUserId })];
  }
}

/**
 * The batch as maximal runs of one resource, each delivery as its row with `o`, its index in the batch, put first.
 * An ignored delivery joins the run it falls in (the first run, when it leads), so that ignored events never cut a
 * run in two, and its row is rebuilt for that run's statement when it is not the users'; a batch of ignored
 * deliveries alone is one run of users.
 */
function runs(batch: readonly Queued[]): { resource: WriteTarget; rows: string[] }[] {
  const first = batch.map((p) => resourceOf(p.delivery)).find((r) => r !== null) ?? "user";
  const list: { resource: WriteTarget; rows: string[] }[] = [];
  batch.forEach(({ delivery, resource: own, row }, o) => {
    const resource = resourceOf(delivery) ?? list.at(-1)?.resource ?? first;
    const text = `{"o":${o},${(resource === own ? row : ROWS[resource](delivery)).slice(1)}`;
    const last = list.at(-1);
    if (last?.resource === resource) last.rows.push(text);
    else list.push({ resource, rows: [text] });
  });
  return list;
}

/** The fields every statement reads: the message, and the event's time. */
function envelope(d: Applicable) {
  return { e: d.environment, s: d.svixId, t: d.type, k: d.kind, ts: d.eventTime };
}

/**
 * An upsert's object goes either as `d`, or inside `b`, the whole event exactly as received: `decode` parsed that
 * text, so it is JSON, and PostgreSQL reads `data` from it. A body PostgreSQL would refuse goes as `decode`
 * cleaned it.
 */
function withData(row: string, d: Applicable): string {
  if (d.kind !== "upsert") return row;
  const verbatim = d.body !== undefined && storableAsIs(d.body);
  const data = verbatim ? `"b":${d.body}` : `"d":${JSON.stringify(d.data)}`;
  return `${row.slice(0, -1)},${data}}`;
}

/**
 * One delivery as each statement below reads it, as JSON text (short keys: a run is one JSON document), without
 * its place in the batch: {@link runs} puts `o` first.
 */
const ROWS: Record<WriteTarget, (d: Applicable) => string> = {
  user(d) {
    // The hot path (every user event): one object literal, keys in the statement's order.
    const user = d.kind === "upsert" && (d.resource === undefined || d.resource === "user") ? d.user : null;
    const row = JSON.stringify({
      e: d.environment,
      s: d.svixId,
      t: d.type,
      k: d.kind,
      u: d.resource === "organization" || d.resource === "billing" ? null : d.clerkUserId,
      ts: d.eventTime,
      v: user?.clerkUpdatedAt ?? null,
      c: user?.clerkCreatedAt ?? null,
      em: user?.email ?? null,
      fn: user?.firstName ?? null,
      ln: user?.lastName ?? null,
      un: user?.username ?? null,
      im: user?.imageUrl ?? null,
    });
    return withData(row, d);
  },
  organization(d) {
    const org = d.resource === "organization" && d.kind === "upsert" ? d.organization : null;
    const row = JSON.stringify({
      ...envelope(d),
      g: d.resource === "organization" ? d.clerkOrgId : null,
      v: org?.clerkUpdatedAt ?? null,
      c: org?.clerkCreatedAt ?? null,
      nm: org?.name ?? null,
      sl: org?.slug ?? null,
      im: org?.imageUrl ?? null,
    });
    return withData(row, d);
  },
  membership(d) {
    const ids = d.resource === "membership" ? d : null;
    const fields = d.resource === "membership" && d.kind === "upsert" ? d.membership : null;
    const row = JSON.stringify({
      ...envelope(d),
      m: ids?.clerkMembershipId ?? null,
      g: ids?.clerkOrgId ?? null,
      u: ids?.clerkUserId ?? null,
      v: fields?.clerkUpdatedAt ?? null,
      c: fields?.clerkCreatedAt ?? null,
      r: fields?.role ?? null,
    });
    return withData(row, d);
  },
  billing(d) {
    // Each object carries its own payload (`raw`), so the event's `data` is not sent again.
    const billing = d.resource === "billing" ? d : null;
    return JSON.stringify({
      ...envelope(d),
      u: billing?.clerkUserId ?? null,
      g: billing?.clerkOrgId ?? null,
      x: billing?.billing ?? null,
    });
  },
};
