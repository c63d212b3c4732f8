import { randomUUID } from "node:crypto";
import type { SyncRequest } from "../sync.js";
import { sign } from "../verify.js";
import { type ClerkExampleEvent, EXAMPLES, type ExampleType } from "./examples.js";

/** The event types `trigger` and the console's example buttons can send. */
export const EXAMPLE_TYPES = Object.keys(EXAMPLES) as ExampleType[];

/** Whether `value` names one of the examples. */
export function isExampleType(value: unknown): value is ExampleType {
  return (EXAMPLE_TYPES as unknown[]).includes(value);
}

/**
 * The example event of `type`, made new: aimed at the given user and organization (a Billing example's payer), a
 * fresh envelope timestamp (in the example's own unit: the OpenAPI examples use seconds, the docs milliseconds) and,
 * for every type but a delete, `data.updated_at` = now so that the receiver sees a newer version of the object.
 *
 * @example
 * ```ts
 * const body = JSON.stringify(exampleEvent("user.updated", { userId: "user_123", now: new Date() }));
 * ```
 */
export function exampleEvent(
  type: ExampleType,
  { userId, orgId, now }: { userId?: string | undefined; orgId?: string | undefined; now: Date },
): ClerkExampleEvent {
  const event = structuredClone(EXAMPLES[type]) as ClerkExampleEvent;
  event.timestamp = event.timestamp < 1e11 ? Math.floor(now.getTime() / 1000) : now.getTime();
  const data = event.data;
  if (type.startsWith("user.") && userId) data.id = userId;
  if (type.startsWith("organization.") && orgId) data.id = orgId;
  if (type.startsWith("organizationMembership.")) {
    const { public_user_data: member, organization } = data as Record<string, Record<string, unknown>>;
    if (userId && member) member.user_id = userId;
    if (orgId && organization) organization.id = orgId;
  }
  if (isBilling(type)) aimBilling(type, data, { userId, orgId, now });
  if (!type.endsWith(".deleted")) data.updated_at = now.getTime();
  return event;
}

function isBilling(type: string): boolean {
  return /^(subscription|subscriptionItem|paymentAttempt)\./.test(type);
}

/**
 * A Billing example paid for by the given organization, else the given user: its payer, and its subscription,
 * item and payer ids made that payer's own (`csub_<payer>`, `csub_item_<payer>`, `cpayer_<payer>`), so that
 * examples aimed at one payer act on one subscription and item, and never move another payer's. A subscription's
 * nested items are made new too, so that a repeated trigger applies them again.
 */
function aimBilling(
  type: string,
  data: Record<string, unknown>,
  { userId, orgId, now }: { userId?: string | undefined; orgId?: string | undefined; now: Date },
): void {
  const items = (list: unknown) => (Array.isArray(list) ? (list as Record<string, unknown>[]) : []);
  if (type.startsWith("subscription.")) for (const item of items(data.items)) item.updated_at = now.getTime();
  const key = orgId ?? userId;
  if (!key) return;
  const ids = { subscription: `csub_${key}`, item: `csub_item_${key}`, payer: `cpayer_${key}` };
  const payer = (data.payer ?? {}) as Record<string, unknown>;
  data.payer = Object.assign(payer, {
    id: ids.payer,
    user_id: orgId ? "" : key,
    organization_id: orgId ?? "",
  });
  if ("payer_id" in data) data.payer_id = ids.payer;
  if (type.startsWith("subscription.")) {
    data.id = ids.subscription;
    for (const item of items(data.items)) item.id = ids.item;
  } else if (type.startsWith("subscriptionItem.")) {
    data.id = ids.item;
    data.subscription_id = ids.subscription;
  } else {
    for (const item of items(data.subscription_items)) item.id = ids.item;
  }
}

/** A signed example delivery: what Svix would POST. */
export interface SignedExample extends SyncRequest {
  body: string;
  headers: Record<string, string>;
  svixId: string;
  /** The `data.id` of the event. */
  userId: string;
}

/**
 * The example event of `type`, new (see {@link exampleEvent}) and signed with `secret` the way Svix signs, with a
 * fresh svix-id: what `clerk-user-sync trigger` sends over HTTP and the console's buttons hand to the core.
 *
 * @example
 * ```ts
 * const signed = signedExample("user.created", { secret: "whsec_…", now: new Date() });
 * await fetch(url, { method: "POST", headers: signed.headers, body: signed.body });
 * ```
 */
export function signedExample(
  type: ExampleType,
  {
    secret,
    userId,
    orgId,
    now,
  }: { secret: string; userId?: string | undefined; orgId?: string | undefined; now: Date },
): SignedExample {
  const event = exampleEvent(type, { userId, orgId, now });
  const body = JSON.stringify(event);
  const svixId = `msg_${randomUUID().replaceAll("-", "")}`;
  return {
    body,
    svixId,
    userId: String(event.data.id),
    headers: {
      "content-type": "application/json",
      "svix-id": svixId,
      "svix-timestamp": String(Math.floor(now.getTime() / 1000)),
      "svix-signature": sign(secret, svixId, Math.floor(now.getTime() / 1000), body),
    },
  };
}
