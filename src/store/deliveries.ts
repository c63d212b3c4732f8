import { lt, sql } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { webhookDeliveries } from "../db/schema.js";

/** Deletes delivery-log rows received before `before`; returns how many. Tombstones stay. */
export async function pruneDeliveries(db: Database, before: Date): Promise<number> {
  const deleted = await db.orm
    .delete(webhookDeliveries)
    .where(lt(webhookDeliveries.receivedAt, before))
    .returning({ one: sql`1` });
  return deleted.length;
}
