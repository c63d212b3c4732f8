import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BadRequestError } from "../src/errors.js";
import { type ClerkUserSyncOptions, createClerkUserSync, type SyncEvent } from "../src/index.js";
import { errorResponse } from "../src/response.js";
import { backends } from "./support/backends.js";
import { userEvent } from "./support/fixtures.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

/** The core without any framework: `handle`, `listUsers`, `close`. */
describe.each(await backends())("the core on $name", (backend) => {
  async function open(options: Partial<ClerkUserSyncOptions>) {
    const db = await backend.create();
    const sync = await createClerkUserSync({
      database: db.database,
      dataDir: db.dataDir,
      secrets: SECRETS,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      ...options,
    });
    return { sync, drop: () => db.drop() };
  }

  it("answers 200 for a committed delivery even when the metrics observer and the logger throw", async () => {
    const boom = () => {
      throw new Error("observer down");
    };
    const { sync, drop } = await open({
      observer: { delivery: boom, write: boom, signatureFailure: boom },
      logger: { debug: boom, info: boom, warn: boom, error: boom },
    });
    try {
      const res = await sync.handle(signedDelivery(userEvent("user.created", { id: "user_observed" })));
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ status: "applied" });
      expect(await sync.getUser({ clerkUserId: "user_observed", environment: "development" })).toMatchObject({
        clerkUserId: "user_observed",
      });
      const refused = await sync.handle(
        signedDelivery(userEvent("user.created", {}), { secret: "whsec_c3RyYW5nZXI=" }),
      );
      expect(refused.status).toBe(401);
    } finally {
      await sync.close();
      await drop();
    }
  });

  it("close() waits for deliveries in flight, their onEvent hook included", async () => {
    let release = () => {};
    let entered = () => {};
    const hookEntered = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const seen: SyncEvent[] = [];
    const { sync, drop } = await open({
      onEvent: async (event) => {
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        entered();
        await held;
        seen.push(event);
      },
    });
    const answer = sync.handle(signedDelivery(userEvent("user.created", { id: "user_in_flight" })));
    await hookEntered;
    const closed = sync.close();
    const late = await sync.handle(signedDelivery(userEvent("user.created", { id: "user_late" })));
    expect(late.status).toBe(503);
    expect(JSON.parse(late.body)).toEqual({ code: "shutting_down", message: expect.any(String) });
    let finished = false;
    void closed.then(() => {
      finished = true;
    });
    // The hook still holds its delivery: close() has not closed the database, which answers a query meanwhile.
    expect((await sync.listUsers()).users.map((u) => u.clerkUserId)).toEqual(["user_in_flight"]);
    expect(finished).toBe(false);
    release();
    await closed;
    expect((await answer).status).toBe(200);
    expect(seen).toMatchObject([{ outcome: "applied", user: { clerkUserId: "user_in_flight" } }]);
    await drop();
  });

  it("lists users page by page with a cursor, per environment or all", async () => {
    const { sync, drop } = await open({});
    try {
      for (const [id, secret] of [
        ["user_a", SECRETS.development],
        ["user_b", SECRETS.development],
        ["user_c", SECRETS.development],
        ["user_a", SECRETS.production],
      ] as const) {
        expect(
          (await sync.handle(signedDelivery(userEvent("user.created", { id }), { secret }))).status,
        ).toBe(200);
      }
      const ids = (page: { users: { environment: string; clerkUserId: string }[] }) =>
        page.users.map((u) => `${u.environment}:${u.clerkUserId}`);
      const first = await sync.listUsers({ limit: 3 });
      expect(ids(first)).toEqual(["development:user_a", "development:user_b", "development:user_c"]);
      const second = await sync.listUsers({ limit: 3, cursor: first.nextCursor });
      expect(ids(second)).toEqual(["production:user_a"]);
      expect(second.nextCursor).toBeNull();
      const dev = await sync.listUsers({ environment: "development", limit: 2 });
      expect(ids(dev)).toEqual(["development:user_a", "development:user_b"]);
      const rest = await sync.listUsers({ environment: "development", limit: 2, cursor: dev.nextCursor });
      expect(ids(rest)).toEqual(["development:user_c"]);
      // A cursor it did not make is the catalogue's bad_request (400 when a route passes it on), never a bare error.
      const made = (position: unknown) => Buffer.from(JSON.stringify(position)).toString("base64url");
      for (const cursor of [
        "garbage",
        made(["staging", "user_a"]),
        made(["user_a"]),
        made(["development", 1]),
      ]) {
        const refused = await sync.listUsers({ cursor }).catch((error: unknown) => error);
        expect(refused, cursor).toBeInstanceOf(BadRequestError);
        expect(errorResponse(refused)).toMatchObject({ status: 400, code: "bad_request" });
      }
    } finally {
      await sync.close();
      await drop();
    }
  });

  it("updates a user within its page, which keeps room for the new version (HOT: no index entries written)", async () => {
    const { sync, drop } = await open({});
    // About 1.5 kB a row: five fill a page to the brim, three fill 70 % of it.
    const event = (n: number, version: number) =>
      userEvent("user.updated", {
        id: `user_page_${n}`,
        updated_at: version,
        public_metadata: { note: "x".repeat(1000) },
      });
    const page = async () => {
      const [row] = await sync.database.query<{ ctid: string }>(
        "select ctid::text from users where clerk_user_id = 'user_page_0'",
      );
      return row?.ctid.replace(/^\((\d+),\d+\)$/, "$1");
    };
    try {
      for (let n = 0; n < 10; n++) {
        expect(JSON.parse((await sync.handle(signedDelivery(event(n, 1)))).body)).toMatchObject({
          status: "applied",
        });
      }
      const before = await page();
      expect(before).toBe("0");
      expect(JSON.parse((await sync.handle(signedDelivery(event(0, 2)))).body)).toMatchObject({
        status: "applied",
      });
      expect(await page()).toBe(before);
    } finally {
      await sync.close();
      await drop();
    }
  });
});

describe("options", () => {
  it("refuses a bodyLimit or statementTimeout that is not a positive integer, naming every problem", async () => {
    const created = createClerkUserSync({ secrets: SECRETS, bodyLimit: -1, statementTimeout: 0.5 });
    await expect(created).rejects.toMatchObject({
      code: "invalid_config",
      problems: [
        "bodyLimit must be a positive integer",
        "statementTimeout must be a positive integer (milliseconds)",
      ],
    });
  });
});

describe("a database that accepts connections but never answers", () => {
  it("fails the delivery with 503 storage_unavailable instead of holding it", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    const sync = await createClerkUserSync({
      database: `postgres://postgres@127.0.0.1:${port}/none`,
      secrets: SECRETS,
      migrate: false,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    try {
      const res = await sync.handle(signedDelivery(userEvent("user.created", {})));
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body)).toMatchObject({ code: "storage_unavailable" });
    } finally {
      for (const socket of sockets) socket.destroy();
      await sync.close();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe("an embedded database that cannot be created", () => {
  it("fails createClerkUserSync with a message naming its directory", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cus-broken-"));
    // A file where initdb makes a directory: PGlite's own error would print as "[object Object]".
    writeFileSync(join(dataDir, "global"), "");
    try {
      await expect(createClerkUserSync({ dataDir, secrets: SECRETS })).rejects.toThrow(
        `opening the embedded database in ${dataDir} failed: file system error`,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
