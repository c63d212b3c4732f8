import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { backends, pgliteDataDir } from "./support/backends.js";
import { userEvent } from "./support/fixtures.js";
import { SECRETS, signedDelivery } from "./support/sign.js";

/**
 * What an app loads with each library entry: the built entry points (dist/, as published), imported in a child
 * process whose module loader records every module it resolves. An app on PostgreSQL never loads PGlite, and no
 * library entry loads the service's Fastify, prom-client or pino.
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const exportsMap = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).exports as Record<
  string,
  { default: string }
>;
const work = mkdtempSync(join(tmpdir(), "cus-loading-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const HOOKS = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.LOADED_LOG, resolved.url + "\\n");
  return resolved;
}`;

/** Each entry imported, then used as an app would: one signed delivery through it. */
const PROGRAM = `
import { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(${JSON.stringify(HOOKS)}));
const entry = await import(process.env.ENTRY);
const { body, headers } = JSON.parse(process.env.DELIVERY);
const secrets = { development: process.env.DEV_CLERK_WEBHOOK_SECRET };
const database = process.env.DATABASE_URL;
const dataDir = process.env.DATA_DIR ?? "memory://";
let status = "imported";
if (process.env.USE === "core") {
  const sync = await entry.createClerkUserSync({ database, dataDir, secrets });
  status = (await sync.handle({ body, headers })).status;
  await sync.close();
} else if (process.env.USE === "next") {
  const route = entry.clerkUserSyncRoute({ database, dataDir });
  const request = new Request("http://localhost/", { method: "POST", body, headers });
  status = (await route.POST(request)).status;
  await entry.closeClerkUserSyncRoutes();
}
console.log(status);
`;

const FORBIDDEN = /\/node_modules\/(@electric-sql\/pglite|fastify|prom-client|pino)\//;
const packagesOf = (urls: string[]) => [
  ...new Set(urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean)),
];

/** `entry` imported in a child on PostgreSQL (`database`), or else on a copy of the run's empty PGlite template. */
async function load(entry: string, use: "import" | "core" | "next", database: string | undefined) {
  const url = pathToFileURL(join(ROOT, exportsMap[entry]?.default ?? "")).href;
  const log = join(work, `${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(log, "");
  const dataDir = database !== undefined || use === "import" ? undefined : pgliteDataDir();
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", PROGRAM], {
    cwd: work,
    env: {
      PATH: process.env.PATH,
      LOADED_LOG: log,
      ENTRY: url,
      USE: use,
      DELIVERY: JSON.stringify(signedDelivery(userEvent("user.created", { id: `user_loading_${use}` }))),
      DEV_CLERK_WEBHOOK_SECRET: SECRETS.development,
      ...(database ? { DATABASE_URL: database } : {}),
      ...(dataDir ? { DATA_DIR: dataDir } : {}),
    },
  }).finally(() => dataDir && rmSync(dataDir, { recursive: true, force: true }));
  const urls = readFileSync(log, "utf8").split("\n").filter(Boolean);
  return {
    status: stdout.trim(),
    // The recorder works: it saw the entry itself.
    recorded: urls.includes(url),
    packages: packagesOf(urls),
    forbidden: urls.filter((u) => FORBIDDEN.test(u)),
  };
}

const postgres = (await backends()).find((b) => b.name === "postgres");

describe("what each library entry loads", () => {
  it.each([".", "./web", "./express", "./next", "./schema"])(
    "%s, imported: no PGlite, Fastify, prom-client or pino",
    async (entry) => {
      const loaded = await load(entry, "import", undefined);
      expect(loaded.status).toBe("imported");
      expect(loaded.recorded).toBe(true);
      expect(loaded.forbidden).toEqual([]);
    },
  );

  it.runIf(postgres).each([
    [".", "core"],
    ["./next", "next"],
  ] as const)(
    "%s on PostgreSQL, taking a delivery: no PGlite, Fastify, prom-client or pino",
    async (entry, use) => {
      const db = await postgres?.create();
      try {
        const loaded = await load(entry, use, db?.database);
        expect(loaded.status).toBe("200");
        expect(loaded.packages).toEqual(expect.arrayContaining(["pg", "drizzle-orm"]));
        expect(loaded.forbidden).toEqual([]);
      } finally {
        await db?.drop();
      }
    },
  );

  it("the embedded database, chosen, is what loads PGlite (and still no Fastify)", async () => {
    const loaded = await load(".", "core", undefined);
    expect(loaded.status).toBe("200");
    expect(loaded.packages).toContain("@electric-sql/pglite");
    expect(loaded.forbidden.filter((u) => !u.includes("/@electric-sql/pglite/"))).toEqual([]);
  });
});
