import type { Outcome } from "../../src/store/apply.js";
import { type ClerkEvent, deletedEvent, userEvent } from "./fixtures.js";
import { type Env, type ExpectedTombstone, type ExpectedUser, expectedUser } from "./histories.js";

/** One delivery of a case: what is sent, under which `svix-id`, and the outcome it must get. */
export interface Step {
  event: ClerkEvent;
  outcome: Outcome;
  env?: Env;
  /** Steps sharing an id are the same Svix message; a step without one is a new message. */
  id?: string;
}

export const U = "user_guarantees";
export const T = 1_700_000_000_000;
export const v1 = userEvent("user.created", { id: U, created_at: T, updated_at: T, first_name: "One" });
export const v2 = userEvent("user.updated", {
  id: U,
  created_at: T,
  updated_at: T + 1000,
  first_name: "Two",
});
const v2again = userEvent("user.updated", {
  id: U,
  created_at: T,
  updated_at: T + 1000,
  first_name: "Rival",
});
export const v3 = userEvent("user.updated", {
  id: U,
  created_at: T,
  updated_at: T + 2000,
  first_name: "Three",
});
export const gone = deletedEvent(U, T + 3000);
export const goneLater = deletedEvent(U, T + 9000);
export const session = { type: "session.created", object: "event", timestamp: T, data: { id: "sess_1" } };

const dev = (e: ClerkEvent) => expectedUser(e, "development");
const tomb = (environment: Env, at: number): ExpectedTombstone => ({
  clerk_user_id: U,
  environment,
  deleted_at: new Date(at),
});

/** The ordering cases: [what it shows, the deliveries in arrival order, the users and tombstones left at the end] */
export const CASES: [string, Step[], ExpectedUser[], ExpectedTombstone[]][] = [
  [
    "a re-sent message (same svix-id, same body) is a duplicate",
    [
      { event: v1, id: "msg_a", outcome: "applied" },
      { event: v1, id: "msg_a", outcome: "duplicate" },
    ],
    [dev(v1)],
    [],
  ],
  [
    "a svix-id seen before is a duplicate even with another body: the first body stays",
    [
      { event: v1, id: "msg_a", outcome: "applied" },
      { event: v3, id: "msg_a", outcome: "duplicate" },
    ],
    [dev(v1)],
    [],
  ],
  [
    "a svix-id is per instance: the same id from Production is a new message",
    [
      { event: v1, id: "msg_a", outcome: "applied" },
      { event: v1, id: "msg_a", env: "production", outcome: "applied" },
    ],
    [dev(v1), expectedUser(v1, "production")],
    [],
  ],
  [
    "an older update after a newer one is stale",
    [
      { event: v1, outcome: "applied" },
      { event: v3, outcome: "applied" },
      { event: v2, outcome: "stale" },
    ],
    [dev(v3)],
    [],
  ],
  [
    "an update with an equal updated_at is stale: the first one stays",
    [
      { event: v1, outcome: "applied" },
      { event: v2, outcome: "applied" },
      { event: v2again, outcome: "stale" },
    ],
    [dev(v2)],
    [],
  ],
  [
    "an update before its create creates the row; the late create is stale",
    [
      { event: v2, outcome: "applied" },
      { event: v1, outcome: "stale" },
    ],
    [dev(v2)],
    [],
  ],
  [
    "after a delete, a late update and a late create are stale: no row, the tombstone stays",
    [
      { event: v1, outcome: "applied" },
      { event: gone, outcome: "applied" },
      { event: v3, outcome: "stale" },
      { event: v1, outcome: "stale" },
    ],
    [],
    [tomb("development", T + 3000)],
  ],
  [
    "a delete that overtakes the create and the updates wins",
    [
      { event: gone, outcome: "applied" },
      { event: v3, outcome: "stale" },
      { event: v1, outcome: "stale" },
    ],
    [],
    [tomb("development", T + 3000)],
  ],
  [
    "a delete of a user never seen leaves a tombstone",
    [{ event: gone, outcome: "applied" }],
    [],
    [tomb("development", T + 3000)],
  ],
  [
    "a re-sent delete is a duplicate",
    [
      { event: v1, outcome: "applied" },
      { event: gone, id: "msg_d", outcome: "applied" },
      { event: gone, id: "msg_d", outcome: "duplicate" },
    ],
    [],
    [tomb("development", T + 3000)],
  ],
  [
    "a second delete under a new svix-id is stale and keeps the first tombstone",
    [
      { event: gone, outcome: "applied" },
      { event: goneLater, outcome: "stale" },
    ],
    [],
    [tomb("development", T + 3000)],
  ],
  [
    "a delete in one instance leaves the other instance's row",
    [
      { event: v1, outcome: "applied" },
      { event: v2, env: "production", outcome: "applied" },
      { event: gone, outcome: "applied" },
    ],
    [expectedUser(v2, "production")],
    [tomb("development", T + 3000)],
  ],
  [
    "another event type is ignored, and its re-send a duplicate",
    [
      { event: session as ClerkEvent, id: "msg_s", outcome: "ignored" },
      { event: session as ClerkEvent, id: "msg_s", outcome: "duplicate" },
    ],
    [],
    [],
  ],
];
