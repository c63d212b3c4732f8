import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/database.js";
import { WEBHOOK_PATH } from "../src/index.js";
import { backends, pgliteDataDir, type TestDatabase } from "./support/backends.js";
import { clerkEvent, EXAMPLE_TYPES, userEvent } from "./support/fixtures.js";
import { killStarted, LISTENING, type Program, start, terminate, within } from "./support/program.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

const SECRET_ENV = {
  DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
  PROD_CLERK_WEBHOOK_SECRET: SECRETS.production,
};
const postgres = (await backends()).find((b) => b.name === "postgres");

/** `clerk-user-sync …` from the build, run to completion. */
async function cli(args: string[], env: Record<string, string>) {
  const program = start(process.execPath, ["dist/cli/main.js", ...args], env);
  const { code } = await program.exited;
  return { code, output: program.output() };
}

async function post(port: string, event: unknown, secret: string) {
  const { body, headers } = signedDelivery(event, { secret });
  const res = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, { method: "POST", headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("the built program", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "cus-e2e-"));
    dirs.push(dir);
    return dir;
  };
  /** An embedded database's directory that is not new: a copy of the run's template, so no initdb in the child. */
  const copiedDataDir = () => {
    const dir = pgliteDataDir();
    dirs.push(dir);
    return dir;
  };
  /** What `serve` runs with on an embedded database: both secrets, any free port, no pruning. */
  const freshEnv = (dataDir = copiedDataDir()) => ({
    ...SECRET_ENV,
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    PRUNE_INTERVAL: "off",
  });
  /** `serve` from the build on an embedded database; resolves once it listens. */
  const serveFresh = async () => {
    const server = start(process.execPath, ["dist/cli/main.js", "serve"], freshEnv());
    const [, port = ""] = await server.waitFor(LISTENING);
    return { server, port };
  };
  // The whole group: npm may be gone while the server it started still runs.
  afterEach(killStarted);
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("loses nothing it acknowledged on the embedded database when killed outright (SIGKILL) mid-stream", async () => {
    const env = freshEnv();
    const server = start(process.execPath, ["dist/cli/main.js", "serve"], env);
    const [, port = ""] = await server.waitFor(LISTENING);
    const acknowledged: string[] = [];
    let sent = 0;
    const worker = async () => {
      while (sent < 400) {
        const id = `user_kill_${sent++}`;
        const { body, headers } = signedDelivery(userEvent("user.created", { id }));
        try {
          const res = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, {
            method: "POST",
            headers,
            body,
          });
          if (res.status === 200) acknowledged.push(id);
        } catch {
          return; // the server is gone
        }
        if (acknowledged.length === 150) process.kill(server.child.pid as number, "SIGKILL");
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect((await server.exited).signal).toBe("SIGKILL");
    expect(acknowledged.length).toBeGreaterThanOrEqual(150);
    const db = await openDatabase(undefined, { dataDir: env.DATA_DIR });
    try {
      const rows = await db.query<{ clerk_user_id: string }>("select clerk_user_id from users");
      const stored = new Set(rows.map((r) => r.clerk_user_id));
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await db.close();
    }
  }, 120_000);

  it("`npm start` builds, listens, applies a signed Clerk event, and exits 0 on SIGTERM", async () => {
    const dataDir = copiedDataDir();
    const npm = start("npm", ["start"], { ...SECRET_ENV, PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir });
    const [, port = ""] = await npm.waitFor(LISTENING);

    const res = await post(port, clerkEvent("user.created.docs"), SECRETS.production);
    expect(res).toEqual({
      status: 200,
      body: { status: "applied", environment: "production", type: "user.created" },
    });
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    // What a process manager does: signal the process it started (npm), not its children.
    expect(await terminate(npm)).toEqual({ code: 0, signal: null });
    expect(npm.output()).toContain('"msg":"stopped"');

    const db = await openDatabase(undefined, { dataDir });
    try {
      const rows = await db.query("select clerk_user_id, environment, email from users");
      expect(rows).toEqual([
        {
          clerk_user_id: "user_29w83sxmDNGwOuEthce5gg56FcC",
          environment: "production",
          email: "example@example.org",
        },
      ]);
    } finally {
      await db.close();
    }
  }, 120_000);

  it("writes a quiet service's log lines within about a second, and its last lines before it exits", async () => {
    const { server, port } = await serveFresh();
    expect(server.output()).toContain('"msg":"ready"');

    expect((await post(port, clerkEvent("user.created.docs"), SECRETS.development)).status).toBe(200);
    // The log is written 4 KB at a time: this short line alone goes out only with the periodic flush.
    await within(5000, server.waitFor(/"msg":"delivery"/), () => `no delivery line:\n${server.output()}`);

    expect(await terminate(server)).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('"msg":"stopped"');
  }, 60_000);

  it("exits 0 on a SIGTERM sent as soon as it is ready, with nobody reading its output any more", async () => {
    const { server } = await serveFresh();
    server.child.stdout?.destroy();
    // Its last lines, still buffered, meet the closed pipe only as it exits.
    const exited = await within(10_000, terminate(server), () => "still running after SIGTERM");
    expect(exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it("of two serves started together on a new DATA_DIR, runs one and refuses the other", async () => {
    const env = freshEnv(tempDir());
    const servers = [0, 1].map(() => start(process.execPath, ["dist/cli/main.js", "serve"], env));
    const refused = await Promise.race(servers.map(async (server) => ({ server, ...(await server.exited) })));
    expect(refused.code).not.toBe(0);
    expect(refused.server.output()).toContain("is in use by `clerk-user-sync serve`");
    const running = servers.find((server) => server !== refused.server) as Program;
    await running.waitFor(LISTENING);
    expect(await terminate(running)).toEqual({ code: 0, signal: null });
  }, 60_000);

  it("with no configuration at all, generates a local secret that `trigger` signs with, on loopback, console open", async () => {
    const dataDir = copiedDataDir();
    // No HOST: a local run listens on 127.0.0.1 (LISTENING matches only that).
    const server = start(process.execPath, ["dist/cli/main.js", "serve"], { PORT: "0", DATA_DIR: dataDir });
    const [, port] = await server.waitFor(LISTENING);
    const secretFile = join(dataDir, "local-webhook-secret");
    const secret = readFileSync(secretFile, "utf8").trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(server.output()).toContain("generated local Development secret");

    const url = `http://127.0.0.1:${port}${WEBHOOK_PATH}`;
    const triggered = await cli(["trigger", "user.created", "--env", "development", "--url", url], {
      DATA_DIR: dataDir,
    });
    expect(triggered.output).toContain(
      '200 {"status":"applied","environment":"development","type":"user.created"}',
    );
    expect(triggered.code).toBe(0);

    // The console is open without a token, says so, and lists the delivery.
    expect(server.output()).toContain(`"url":"http://127.0.0.1:${port}/"`);
    const consoleApi = async (path: string) =>
      (await (await fetch(`http://127.0.0.1:${port}/console/api/${path}`)).json()) as Record<string, unknown>;
    expect(await consoleApi("setup")).toMatchObject({
      access: { mode: "local", host: "127.0.0.1", loopbackOnly: true },
      examples: EXAMPLE_TYPES,
    });
    expect((await consoleApi("deliveries")).deliveries).toEqual([
      expect.objectContaining({ type: "user.created", outcome: "applied", environment: "development" }),
    ]);

    // The embedded database is the server's while it runs: `status` asks the server, other commands refuse.
    const asked = await cli(["status", "--json"], { DATA_DIR: dataDir });
    expect(asked.code).toBe(0);
    expect(JSON.parse(asked.output).environments.development).toMatchObject({ users: 1 });
    const busy = await cli(["prune"], { DATA_DIR: dataDir });
    expect(busy.code).toBe(1);
    expect(busy.output).toContain(`is in use by \`clerk-user-sync serve\` (pid ${server.child.pid})`);

    expect(await terminate(server)).toEqual({ code: 0, signal: null });
    expect(server.output()).not.toContain(secret);
    expect(server.output()).not.toContain(secret.slice("whsec_".length));

    const status = await cli(["status", "--json"], { DATA_DIR: dataDir });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.output).environments.development).toMatchObject({
      users: 1,
      lastDelivery: { type: "user.created", outcome: "applied" },
    });
  }, 120_000);

  it.skipIf(!postgres)(
    "on SIGTERM under load, keeps every delivery it answered 2xx and exits 0 within SHUTDOWN_TIMEOUT",
    async () => {
      const db = (await postgres?.create()) as TestDatabase;
      try {
        const server = start(process.execPath, ["dist/cli/main.js", "serve"], {
          ...SECRET_ENV,
          ...db.env,
          PORT: "0",
          HOST: "127.0.0.1",
          SHUTDOWN_TIMEOUT: "10s",
          PRUNE_INTERVAL: "off",
        });
        const [, port = ""] = await server.waitFor(LISTENING);

        const total = 400;
        const results: { svixId: string; status: number | "network error"; code?: string }[] = [];
        let next = 0;
        let answered = 0;
        const worker = async () => {
          while (next < total) {
            const i = next++;
            const environment = i % 2 === 0 ? "development" : "production";
            const event = userEvent("user.created", { id: `user_load_${i}` });
            const { body, headers, svixId } = signedDelivery(event, { env: environment });
            try {
              const res = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, {
                method: "POST",
                headers,
                body,
              });
              const answer = (await res.json()) as { code?: string };
              results.push({ svixId, status: res.status, code: answer.code });
            } catch {
              results.push({ svixId, status: "network error" });
            }
            // Midway, the way an orchestrator stops a pod: SIGTERM while deliveries keep coming.
            if (++answered === total / 2) server.child.kill("SIGTERM");
          }
        };
        await Promise.all(Array.from({ length: 32 }, worker));
        expect(await server.exited).toEqual({ code: 0, signal: null });

        const ok = results.filter((r) => r.status === 200).map((r) => r.svixId);
        const other = results.filter((r) => r.status !== 200);
        expect(results).toHaveLength(total);
        expect(ok.length).toBeGreaterThanOrEqual(total / 2 - 32);
        expect(other.length).toBeGreaterThan(0);
        // Refused while closing: the catalogue's 503, shutting_down (or storage_unavailable for a write cut short).
        for (const r of other)
          if (r.status !== "network error")
            expect([r.status, r.code]).toEqual([
              503,
              expect.stringMatching(/^(shutting_down|storage_unavailable)$/),
            ]);

        const client = new pg.Client({ connectionString: db.database });
        await client.connect();
        try {
          const logged = await client.query<{ svix_id: string }>("select svix_id from webhook_deliveries");
          const stored = new Set(logged.rows.map((r) => r.svix_id));
          expect(ok.filter((id) => !stored.has(id))).toEqual([]);
          const users = await client.query<{ n: string }>("select count(*) as n from users");
          expect(Number(users.rows[0]?.n)).toBe(stored.size);
        } finally {
          await client.end();
        }
      } finally {
        await db.drop();
      }
    },
    120_000,
  );
});
