import type { Refusal } from "../sync.js";

/** A refusal as the console lists it: when, and what was known of the delivery. */
export interface RefusalEntry extends Refusal {
  /** ISO 8601. */
  at: string;
}

/** The last refusals, in memory: they are not in the delivery log, which holds only what was stored. */
export interface RefusalLog {
  /** The {@link Observer.refusal} hook that feeds it: pass it to `createClerkUserSync`. */
  record(refusal: Refusal): void;
  /** Newest first. */
  list(limit?: number): RefusalEntry[];
  /** The last refusal of each code, newest first, even when the ring has moved on. */
  lastByCode(): RefusalEntry[];
  /** How many were recorded at or after `since`, in buckets of `bucketMs`, by bucket start (ms). */
  countsSince(since: number, bucketMs: number): Map<number, number>;
}

/**
 * A ring of the last `size` refusals (500 by default), for the console. Holds no body and nothing personal: the
 * observer is given a code, a status, and the environment, type and svix-id when known.
 *
 * @example
 * ```ts
 * const refusals = createRefusalLog();
 * const sync = await createClerkUserSync({ secrets, observer: { refusal: refusals.record } });
 * ```
 */
export function createRefusalLog({
  size = 500,
  clock = () => new Date(),
}: {
  size?: number;
  clock?: () => Date;
} = {}): RefusalLog {
  const ring: RefusalEntry[] = [];
  let next = 0;
  const last = new Map<string, RefusalEntry>();
  const newestFirst = (): RefusalEntry[] =>
    ring.length < size
      ? ring.slice().reverse()
      : [...ring.slice(0, next).reverse(), ...ring.slice(next).reverse()];
  return {
    record(refusal) {
      const entry: RefusalEntry = { ...refusal, at: clock().toISOString() };
      if (ring.length < size) ring.push(entry);
      else ring[next] = entry;
      next = (next + 1) % size;
      last.delete(entry.code);
      last.set(entry.code, entry);
    },
    list(limit = size) {
      return newestFirst().slice(0, limit);
    },
    lastByCode() {
      return [...last.values()].reverse();
    },
    countsSince(since, bucketMs) {
      const counts = new Map<number, number>();
      for (const entry of ring) {
        const at = Date.parse(entry.at);
        if (at < since) continue;
        const bucket = Math.floor(at / bucketMs) * bucketMs;
        counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
      }
      return counts;
    },
  };
}
