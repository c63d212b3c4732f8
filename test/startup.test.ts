import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { logFormatFor } from "../src/cli/log-output.js";
import { consoleAccess, unreachableFromClerk } from "../src/console/access.js";
import { CONTROL_STATUS_PATH } from "../src/service/local-control.js";
import { pgliteDataDir } from "./support/backends.js";
import { BIN, cli } from "./support/cli.js";
import { killStarted, start, terminate } from "./support/program.js";
import { SECRETS } from "./support/sign.js";

const SECRET_ENV = {
  DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
  PROD_CLERK_WEBHOOK_SECRET: SECRETS.production,
};
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cus-startup-"));
  dirs.push(dir);
  return dir;
};
/** An embedded database's directory that is not new (a copy of the run's template: no initdb in the child). */
const copiedDataDir = () => {
  const dir = pgliteDataDir();
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
afterEach(killStarted);

/** A port something listens on, held until `close`. */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { port: typeof address === "object" && address ? address.port : 0, server };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const { port, server } = await occupiedPort();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The status of a GET sent with this Host header (fetch sets its own). */
function statusWithHost(port: number, path: string, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: "127.0.0.1", path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Any line announcing where the service listens, JSON or pretty. */
const LISTENING_ANY = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/;

describe("errors that name the cause, before anything is created", () => {
  it("an unreachable DATABASE_URL is named by host and port, never its password, with every other problem", async () => {
    const port = await closedPort();
    const url = `postgres://app:hunter2@127.0.0.1:${port}/app`;
    const alone = await cli(["serve"], { DATA_DIR: tempDir(), DATABASE_URL: url, ...SECRET_ENV });
    expect(alone.stderr).toBe(
      `clerk-user-sync serve: DATABASE_URL (127.0.0.1:${port}) cannot be used: nothing accepts connections ` +
        "there (ECONNREFUSED): is PostgreSQL running, on this host and port?\n",
    );
    expect(alone.code).toBe(69);

    const withOthers = await cli(["serve"], { DATA_DIR: tempDir(), DATABASE_URL: url, LOG_LEVEL: "loud" });
    expect(withOthers.code).toBe(78);
    const problems = withOthers.stderr.split("\n").filter((l) => l.startsWith("  - "));
    expect(problems).toEqual([
      expect.stringContaining("no webhook secret configured"),
      expect.stringContaining('LOG_LEVEL="loud" is invalid'),
      expect.stringMatching(
        new RegExp(
          `^ {2}- DATABASE_URL \\(127\\.0\\.0\\.1:${port}\\) cannot be used: .*\\(database_unreachable\\)$`,
        ),
      ),
    ]);
    for (const run of [alone, withOthers]) expect(run.stdout + run.stderr).not.toContain("hunter2");
  });

  it.each([["status"], ["migrate"], ["prune"]])(
    "%s names an unreachable DATABASE_URL and exits 69",
    async (command) => {
      const run = await cli([command], { DATABASE_URL: "postgres://app:hunter2@db.invalid:6543/app" });
      expect(run.stderr).toBe(
        `clerk-user-sync ${command}: DATABASE_URL (db.invalid:6543) cannot be used: the host name does not resolve (ENOTFOUND)\n`,
      );
      expect(run.code).toBe(69);
    },
  );

  it("a busy port says to set PORT, and is found before the embedded database is created", async () => {
    const { port, server } = await occupiedPort();
    try {
      const dataDir = tempDir();
      const run = await cli(["serve"], {
        ...SECRET_ENV,
        DATA_DIR: dataDir,
        HOST: "127.0.0.1",
        PORT: String(port),
      });
      expect(run.stderr).toBe(
        `clerk-user-sync serve: PORT=${port} is in use on 127.0.0.1 (EADDRINUSE): another process listens on ` +
          `127.0.0.1:${port} (another \`npm start\`?); stop it, or set PORT to a free port, e.g. PORT=${port + 1}\n`,
      );
      expect(run.code).toBe(69);
      expect(existsSync(join(dataDir, "PG_VERSION"))).toBe(false);
    } finally {
      server.close();
    }
  });
});

describe("the console on this machine", () => {
  it.each([
    { host: "127.0.0.1", localRun: false, token: undefined, mode: "local" },
    { host: "localhost", localRun: false, token: undefined, mode: "local" },
    { host: "::1", localRun: false, token: undefined, mode: "local" },
    { host: "0.0.0.0", localRun: false, token: undefined, mode: "off" },
    { host: "192.168.1.20", localRun: false, token: undefined, mode: "off" },
    { host: "0.0.0.0", localRun: true, token: undefined, mode: "local" },
    { host: "127.0.0.1", localRun: false, token: "a-console-token-0123", mode: "token" },
    { host: "0.0.0.0", localRun: false, token: "a-console-token-0123", mode: "token" },
  ])("HOST=$host, local run $localRun, token $token: $mode", ({ host, localRun, token, mode }) => {
    expect(consoleAccess({ host, localRun, consoleToken: token }).mode).toBe(mode);
  });

  it.each([
    ["http://127.0.0.1:3000/api/user/webhook/clerk", "127.0.0.1"],
    ["http://localhost:3000/api/user/webhook/clerk", "localhost"],
    ["http://[::1]:3000/api/user/webhook/clerk", "::1"],
    ["http://192.168.1.20:3000/api/user/webhook/clerk", "192.168.1.20"],
    ["http://10.0.0.7/api/user/webhook/clerk", "10.0.0.7"],
    ["http://172.20.0.2:3000/api/user/webhook/clerk", "172.20.0.2"],
    ["http://laptop.local:3000/api/user/webhook/clerk", "laptop.local"],
    ["http://devbox:3000/api/user/webhook/clerk", "devbox"],
  ])("says Clerk cannot reach %s, and what to do", (url, host) => {
    const note = unreachableFromClerk(url);
    expect(note).toContain(`Clerk cannot reach ${host}:`);
    expect(note).toContain("cloudflared tunnel --url http://localhost:");
    expect(note).toContain("clerk webhooks listen --forward-to http://localhost:");
    expect(note).toContain("docs/local-development.md");
  });

  it.each([
    "https://sync.example.com/api/user/webhook/clerk",
    "https://abc-def.trycloudflare.com/api/user/webhook/clerk",
    "http://203.0.113.9:3000/api/user/webhook/clerk",
    "http://172.32.0.1/api/user/webhook/clerk",
  ])("says nothing of %s, which may be public", (url) => {
    expect(unreachableFromClerk(url)).toBeUndefined();
  });

  it("is open without a token when the service listens on loopback with real secrets; other host names are refused", async () => {
    const server = start(process.execPath, [BIN, "serve"], {
      ...SECRET_ENV,
      HOST: "127.0.0.1",
      PORT: "0",
      DATA_DIR: copiedDataDir(),
      PRUNE_INTERVAL: "off",
    });
    const [, port] = await server.waitFor(LISTENING_ANY);
    const setup = await fetch(`http://127.0.0.1:${port}/console/api/setup`);
    expect(setup.status).toBe(200);
    expect(await setup.json()).toMatchObject({
      access: { mode: "local", host: "127.0.0.1", loopbackOnly: true },
      instances: [
        { environment: "development", configured: true },
        { environment: "production", configured: true },
      ],
      examples: [],
      webhookUrlNote: expect.stringContaining("Clerk cannot reach 127.0.0.1"),
    });
    // A page elsewhere whose name was rebound to 127.0.0.1 reads nothing.
    expect(await statusWithHost(Number(port), "/console/api/summary", `attacker.example:${port}`)).toBe(401);
    expect(await statusWithHost(Number(port), "/console/api/summary", `localhost:${port}`)).toBe(200);
    expect(server.output()).toContain("console open without a token (listening on this machine only)");
    expect((await terminate(server)).code).toBe(0);
  }, 180_000);
});

describe("a terminal that reads well; status while serve runs", () => {
  it("chooses pretty lines for a terminal and JSON otherwise, unless LOG_FORMAT says", () => {
    expect(logFormatFor(undefined, true)).toBe("pretty");
    expect(logFormatFor(undefined, false)).toBe("json");
    expect(logFormatFor("json", true)).toBe("json");
    expect(logFormatFor("pretty", false)).toBe("pretty");
  });

  it("status asks a serve that holds the embedded database, with the output it gives once serve stops", async () => {
    const dataDir = tempDir();
    const server = start(process.execPath, [BIN, "serve"], {
      DATA_DIR: dataDir,
      PORT: "0",
      PRUNE_INTERVAL: "off",
      LOG_FORMAT: "pretty",
    });
    const [, port] = await server.waitFor(LISTENING_ANY);
    await server.waitFor(/INFO: ready/);
    // Pretty lines, not JSON, and still no secret in them.
    expect(server.output()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: ready \{"database":"pglite"/m);
    expect(server.output()).not.toContain('{"level"');
    // Created by a child process, whose initdb memory goes with it.
    expect(server.output()).toContain("INFO: creating the embedded database (first start)");
    const sent = await fetch(`http://127.0.0.1:${port}/console/api/examples/user.created`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(sent.status).toBe(200);
    // The route answers the control token only.
    expect((await fetch(`http://127.0.0.1:${port}${CONTROL_STATUS_PATH}`)).status).toBe(404);

    const [whileRunning, tableWhileRunning] = [
      await cli(["status", "--json"], { DATA_DIR: dataDir }),
      await cli(["status"], { DATA_DIR: dataDir }),
    ];
    expect(whileRunning.stderr).toBe("");
    expect(whileRunning.code).toBe(0);
    const report = JSON.parse(whileRunning.stdout);
    expect(report).toMatchObject({
      database: "pglite",
      environments: { development: { users: 1, last24h: { applied: 1 } }, production: { users: 0 } },
    });
    expect(tableWhileRunning.code).toBe(0);

    expect((await terminate(server)).code).toBe(0);
    const afterwards = await cli(["status", "--json"], { DATA_DIR: dataDir });
    expect(afterwards.code).toBe(0);
    expect(JSON.parse(afterwards.stdout)).toEqual(report);
    expect((await cli(["status"], { DATA_DIR: dataDir })).stdout).toBe(tableWhileRunning.stdout);
    expect(existsSync(join(dataDir, "serve.control.json"))).toBe(false);
  }, 180_000);
});
