import { type ChildProcess, execFile, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clerkEvent, userEvent } from "./support/fixtures.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

/**
 * The package as a user gets it: built from a copy of the sources (so the shared dist/ of a running suite is
 * never rewritten under it), packed with `npm pack`, installed into a fresh project next to Express and Hono,
 * and mounted by small apps that import only the published entry points.
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);
const WEBHOOK = "/api/user/webhook/clerk";

const APPS: Record<string, string> = {
  "sync.mjs": `
import { createClerkUserSync } from "clerk-user-sync";
export const sync = await createClerkUserSync({
  dataDir: "memory://",
  secrets: { development: process.env.DEV_CLERK_WEBHOOK_SECRET, production: process.env.PROD_CLERK_WEBHOOK_SECRET },
});
export const user = (env, id) => sync.getUser({ clerkUserId: id, environment: env });
export const ready = (server) => console.log(JSON.stringify({ port: server.address().port }));
`,
  "express.mjs": `
import express from "express";
import { clerkUserSyncExpress } from "clerk-user-sync/express";
import { ready, sync, user } from "./sync.mjs";
const app = express();
app.use(clerkUserSyncExpress(sync));
app.use(express.json());
app.use(clerkUserSyncExpress(sync, { path: "/late/webhook" })); // after the parser, on purpose
app.get("/user/:env/:id", async (req, res) => res.json(await user(req.params.env, req.params.id)));
const server = app.listen(0, "127.0.0.1", () => ready(server));
`,
  "fastify.mjs": `
import Fastify from "fastify";
import { clerkUserSyncFastify } from "clerk-user-sync/fastify";
import { users } from "clerk-user-sync/schema";
import { sync, user } from "./sync.mjs";
const app = Fastify();
await app.register(clerkUserSyncFastify, { sync });
app.get("/user/:env/:id", (req) => user(req.params.env, req.params.id));
app.get("/emails", () => sync.database.orm.select({ email: users.email }).from(users));
await app.listen({ port: 0, host: "127.0.0.1" });
console.log(JSON.stringify({ port: app.server.address().port }));
`,
  "hono.mjs": `
import { createServer } from "node:http";
import { Readable } from "node:stream";
import { Hono } from "hono";
import { toWebHandler } from "clerk-user-sync/web";
import { ready, sync, user } from "./sync.mjs";
const app = new Hono();
const webhook = toWebHandler(sync);
app.post("${WEBHOOK}", (c) => webhook(c.req.raw));
app.get("/user/:env/:id", async (c) => c.json(await user(c.req.param("env"), c.req.param("id"))));
// The few lines of @hono/node-server this needs.
const server = createServer(async (req, res) => {
  const body = req.method === "GET" ? undefined : Readable.toWeb(req);
  const headers = Object.entries(req.headers).filter(([, v]) => typeof v === "string");
  const response = await app.fetch(new Request("http://localhost" + req.url, { method: req.method, headers, body, duplex: "half" }));
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
});
server.listen(0, "127.0.0.1", () => ready(server));
`,
  "types.ts": `
import { createClerkUserSync, type ClerkUserSync, WEBHOOK_PATH } from "clerk-user-sync";
import { clerkUserSyncExpress, type ClerkUserSyncMiddleware } from "clerk-user-sync/express";
import { clerkUserSyncFastify } from "clerk-user-sync/fastify";
import { users, type UserRow } from "clerk-user-sync/schema";
import { toWebHandler, type WebHandler } from "clerk-user-sync/web";
import { clerkUserSyncRoute, type ClerkUserSyncRouteHandlers } from "clerk-user-sync/next";
const route: ClerkUserSyncRouteHandlers = clerkUserSyncRoute({ dataDir: "./.data" });
export const { POST, GET, PUT, PATCH, DELETE } = route;
const sync: ClerkUserSync = await createClerkUserSync({ secrets: { development: "whsec_x" } });
const middleware: ClerkUserSyncMiddleware = clerkUserSyncExpress(sync, { path: WEBHOOK_PATH });
const handler: WebHandler = toWebHandler(sync);
const row: UserRow | null = await sync.getUser({ clerkUserId: "user_1", environment: "production" });
export { clerkUserSyncFastify, handler, middleware, row, users };
`,
  ...Object.fromEntries(
    (
      [
        ["node16", { module: "Node16", moduleResolution: "Node16" }],
        ["bundler", { module: "ESNext", moduleResolution: "Bundler" }],
      ] as const
    ).map(([name, resolution]) => [
      `tsconfig.${name}.json`,
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          ...resolution,
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules/@types")],
        },
        files: ["types.ts"],
      }),
    ]),
  ),
  "package.json": JSON.stringify({ name: "my-app", private: true, type: "module" }),
};

interface App {
  base: string;
  stderr: string[];
  child: ChildProcess;
}

describe("the packed package, installed in another project", () => {
  const work = mkdtempSync(join(tmpdir(), "cus-pack-"));
  const project = join(work, "my-app");
  const apps: Record<string, App> = {};
  let packed: string[] = [];

  beforeAll(async () => {
    const checkout = join(work, "checkout");
    mkdirSync(checkout);
    for (const entry of [
      "package.json",
      "README.md",
      "tsconfig.json",
      "tsconfig.build.json",
      "LICENSE",
      "src",
    ]) {
      cpSync(join(ROOT, entry), join(checkout, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, "node_modules"), join(checkout, "node_modules"), "dir");
    await run("npm", ["run", "build", "--silent"], { cwd: checkout });
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: checkout });
    const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    packed = info?.files.map((f) => f.path) ?? [];

    mkdirSync(project);
    for (const [name, text] of Object.entries(APPS)) writeFileSync(join(project, name), text);
    const install = [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--ignore-scripts",
      "--loglevel=error",
    ];
    await run("npm", [...install, join(work, info?.filename ?? ""), "express@5", "hono"], { cwd: project });
    await Promise.all(["express", "fastify", "hono"].map(async (name) => (apps[name] = await start(name))));
  }, 120_000);

  afterAll(() => {
    for (const app of Object.values(apps)) app.child.kill();
    rmSync(work, { recursive: true, force: true });
  });

  async function start(name: string): Promise<App> {
    const child = spawn(process.execPath, [`${name}.mjs`], {
      cwd: project,
      env: {
        PATH: process.env.PATH,
        DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
        PROD_CLERK_WEBHOOK_SECRET: SECRETS.production,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stderr: string[] = [];
    child.stderr?.on("data", (chunk) => stderr.push(String(chunk)));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const port = await new Promise<number>((resolve, reject) => {
      lines.once("line", (line) => resolve((JSON.parse(line) as { port: number }).port));
      child.once("exit", (code) => reject(new Error(`${name}.mjs exited ${code}: ${stderr.join("")}`)));
    });
    return { base: `http://127.0.0.1:${port}`, stderr, child };
  }

  async function post(app: string, event: unknown, options: { secret?: string; path?: string } = {}) {
    const { body, headers } = signedDelivery(event, { secret: options.secret });
    const response = await fetch(`${apps[app]?.base}${options.path ?? WEBHOOK}`, {
      method: "POST",
      body,
      headers,
    });
    return { status: response.status, body: await response.json() };
  }

  const getUser = async (app: string, env: string, id: string) =>
    (await fetch(`${apps[app]?.base}/user/${env}/${id}`)).json();

  it("ships the built entry points, the README and the LICENSE, and nothing else: no sources, tests or migrations folder", () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        "package.json",
        "README.md",
        "LICENSE",
        ...[
          "index",
          "db/schema",
          "adapters/express",
          "adapters/fastify",
          "adapters/web",
          "adapters/next",
        ].flatMap((m) => [`dist/${m}.js`, `dist/${m}.d.ts`]),
      ]),
    );
    expect(
      packed.filter((path) => !/^(dist\/.+\.(js|d\.ts)|package\.json|README\.md|LICENSE)$/.test(path)),
    ).toEqual([]);
  });

  it.each(["node16", "bundler"])(
    "type-checks an app importing every entry point, with moduleResolution %s",
    async (resolution) => {
      const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
      // tsc exits non-zero on a type error (run rejects) and prints nothing when the app type-checks.
      await expect(
        run(process.execPath, [tsc, "-p", `tsconfig.${resolution}.json`], { cwd: project }),
      ).resolves.toEqual({ stdout: "", stderr: "" });
    },
  );

  it.each([
    ["express", "development"],
    ["fastify", "production"],
    ["hono", "development"],
  ] as const)("%s: a signed delivery verifies and its row appears", async (app, env) => {
    const id = `user_packed_${app}`;
    const answer = await post(app, userEvent("user.created", { id }), { secret: SECRETS[env] });
    expect(answer).toEqual({
      status: 200,
      body: { status: "applied", environment: env, type: "user.created" },
    });
    expect(await getUser(app, env, id)).toMatchObject({
      clerkUserId: id,
      environment: env,
      email: "example@example.org",
    });
  });

  it("fastify: the Drizzle schema export queries the same table", async () => {
    await post("fastify", userEvent("user.created", { id: "user_schema" }));
    const emails = (await (await fetch(`${apps.fastify?.base}/emails`)).json()) as unknown[];
    expect(emails).toContainEqual({ email: "example@example.org" });
  });

  it("express after express.json(): 500 raw_body_unavailable, nothing written, one warning", async () => {
    const event = clerkEvent("user.updated.openapi");
    for (let i = 0; i < 2; i++) {
      expect(await post("express", event, { path: "/late/webhook" })).toEqual({
        status: 500,
        body: { code: "raw_body_unavailable", message: expect.stringContaining("express.json") },
      });
    }
    expect(await getUser("express", "development", String(event.data.id))).toBeNull();
    const warnings = apps.express?.stderr.join("").match(/body parser read the request/g);
    expect(warnings).toHaveLength(1);
  });
});
