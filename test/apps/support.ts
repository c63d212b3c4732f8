import { type ChildProcess, execFile, spawn } from "node:child_process";
import { cpSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { Webhook } from "svix";
import { ADMIN_URL, backends, type TestDatabase } from "../support/backends.js";
import { userEvent } from "../support/fixtures.js";

export const run = promisify(execFile);
export const WEBHOOK = "/api/user/webhook/clerk";

/** The only variables an app gets besides its own: no secret, no database, unless a test gives them. */
export const BASE_ENV = {
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "",
  NEXT_TELEMETRY_DISABLED: "1",
};

/**
 * A copy of test/apps/<name> in a temporary directory, its dependencies installed from the npm registry as its
 * lockfile pins them, then the packed clerk-user-sync on top (not saved: the tarball changes with every build).
 */
export async function installApp(name: string, tarball: string): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), `cus-app-${name}-`)), name);
  const source = fileURLToPath(new URL(`./${name}`, import.meta.url));
  cpSync(source, dir, { recursive: true, filter: (path) => !/\/(node_modules|\.next|\.data)$/.test(path) });
  const quiet = ["--no-audit", "--no-fund", "--loglevel=error"];
  await run("npm", ["ci", ...quiet], { cwd: dir, env: BASE_ENV });
  await run("npm", ["install", "--no-save", ...quiet, tarball], { cwd: dir, env: BASE_ENV });
  return dir;
}

/** A fresh PostgreSQL database (CI's, on 127.0.0.1:5432) and the rows an app stored in it. */
export async function freshDatabase(): Promise<TestDatabase & { url: string; users(): Promise<unknown[]> }> {
  const postgres = (await backends()).find((b) => b.name === "postgres");
  if (!postgres) throw new Error(`the apps need PostgreSQL at ${ADMIN_URL}`);
  const db = await postgres.create();
  const url = db.database as string;
  return {
    ...db,
    url,
    async users() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const sql = "select clerk_user_id, environment, email from users order by clerk_user_id";
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    },
  };
}

/** A TCP port nobody listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Running {
  base: string;
  output: string[];
  stop(): Promise<void>;
}

/** Starts a server and waits for the line that says it listens (`ready` gives its URL). */
export async function serve(
  command: string[],
  options: { cwd: string; env: Record<string, string>; ready: (line: string) => string | undefined },
): Promise<Running> {
  const [file, ...args] = command as [string, ...string[]];
  const child: ChildProcess = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: "pipe" });
  const output: string[] = [];
  child.stderr?.on("data", (chunk) => output.push(String(chunk)));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const base = await new Promise<string>((resolve, reject) => {
    lines.on("line", (line) => {
      output.push(line);
      const url = options.ready(line);
      if (url) resolve(url);
    });
    child.once("exit", (code) =>
      reject(new Error(`${command.join(" ")} exited ${code}: ${output.join("\n")}`)),
    );
  });
  return {
    base,
    output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill();
      await exited;
    },
  };
}

/** A `user.created` for `id`, signed the way Svix signs: with the official `svix` package's `Webhook.sign`. */
export function signedDelivery(
  id: string,
  secret: string,
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(userEvent("user.created", { id }));
  const msgId = `msg_${id}`;
  const now = new Date();
  return {
    body,
    headers: {
      "content-type": "application/json",
      "svix-id": msgId,
      "svix-timestamp": String(Math.floor(now.getTime() / 1000)),
      "svix-signature": new Webhook(secret).sign(msgId, now, body),
    },
  };
}

/** POSTs a signed delivery; the status, the JSON body and the Allow header. */
export async function deliver(base: string, id: string, secret: string) {
  const { body, headers } = signedDelivery(id, secret);
  return answer(await fetch(`${base}${WEBHOOK}`, { method: "POST", body, headers }));
}

export async function answer(response: Response) {
  return {
    status: response.status,
    allow: response.headers.get("allow"),
    body: (await response.json()) as Record<string, unknown>,
  };
}
