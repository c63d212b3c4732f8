/**
 * The console's weight and time to first render, and the screenshots in docs/:
 *
 *   node --import tsx bench/console.ts [--shots]
 *
 * Runs the service in-process over an in-memory PGlite with the console on (CONSOLE_TOKEN mode), fills it with
 * real deliveries (Clerk's examples, varied, signed and sent through the webhook path, plus refusals), prints the
 * bytes of the page, its script and its styles (raw and gzipped), then opens Debian's chromium five times and
 * prints the median first contentful paint and the time until the first delivery row shows. With `--shots`,
 * writes docs/console.png (light) and docs/console-dark.png. The delivery log's received_at is spread over the
 * last hour afterwards, so that the chart has a past to draw: the rows themselves are as the pipeline stored them.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { pino } from "pino";
import { chromium } from "playwright-core";
import { Webhook } from "svix";
import { exampleEvent } from "../src/cli/example-delivery.js";
import { createRefusalLog } from "../src/console/refusals.js";
import { createMetrics } from "../src/service/metrics.js";
import { buildServer } from "../src/service/server.js";
import { createClerkUserSync } from "../src/sync.js";

const SECRETS = {
  development: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  production: "whsec_dGhpc2lzYXByb2R1Y3Rpb25zZWNyZXQxMjM0NTY=",
};
const TOKEN = "bench-console-token";
const { values: args } = parseArgs({ options: { shots: { type: "boolean", default: false } } });

const refusals = createRefusalLog();
const sync = await createClerkUserSync({
  dataDir: "memory://",
  secrets: SECRETS,
  logger: pino({ level: "silent" }),
  observer: { refusal: refusals.record },
});
const app = buildServer({
  sync,
  metrics: createMetrics(),
  logger: pino({ level: "silent" }),
  console: { access: { mode: "token", token: TOKEN }, refusals, instances: ["development", "production"] },
});
await app.listen({ port: 0, host: "127.0.0.1" });
const address = app.server.address();
if (!address || typeof address === "string") throw new Error("not listening");
const base = `http://127.0.0.1:${address.port}`;

const NAMES = [
  ["Ada", "Lovelace"],
  ["Grace", "Hopper"],
  ["Alan", "Turing"],
  ["Katherine", "Johnson"],
  ["Edsger", "Dijkstra"],
  ["Barbara", "Liskov"],
  ["Donald", "Knuth"],
  ["Margaret", "Hamilton"],
  ["Ken", "Thompson"],
  ["Frances", "Allen"],
  ["John", "Backus"],
  ["Radia", "Perlman"],
];

async function deliver(
  event: Record<string, unknown>,
  environment: "development" | "production",
  options: { svixId?: string; secret?: string } = {},
) {
  const now = new Date();
  const body = JSON.stringify(event);
  const svixId = options.svixId ?? `msg_2q${randomUUID().replaceAll("-", "").slice(0, 25)}`;
  const headers = {
    "content-type": "application/json",
    "svix-id": svixId,
    "svix-timestamp": String(Math.floor(now.getTime() / 1000)),
    "svix-signature": new Webhook(options.secret ?? SECRETS[environment]).sign(svixId, now, body),
  };
  await sync.handle({ body, headers });
  return svixId;
}

function user(type: "user.created" | "user.updated", i: number, updatedAt = Date.now()) {
  const [first, last] = NAMES[i % NAMES.length] as [string, string];
  const event = exampleEvent(type, {
    userId: `user_2q${(1e6 + i * 7919).toString(36)}Demo${i}`,
    now: new Date(),
  });
  Object.assign(event.data, {
    first_name: first,
    last_name: last,
    username: `${first}.${last}`.toLowerCase(),
    email_addresses: [
      {
        id: `idn_${i}`,
        email_address: `${first}.${last}${i < NAMES.length ? "" : i}@example.org`.toLowerCase(),
      },
    ],
    primary_email_address_id: `idn_${i}`,
    updated_at: updatedAt,
  });
  return event as unknown as Record<string, unknown>;
}

for (let i = 0; i < 48; i++)
  await deliver(user("user.created", i), i % 4 === 3 ? "production" : "development");
for (let i = 0; i < 14; i++)
  await deliver(user("user.updated", i * 3), i % 4 === 3 ? "production" : "development");
for (let i = 0; i < 6; i++) await deliver(user("user.updated", i * 5, 1_600_000_000_000), "development"); // stale
for (let i = 40; i < 44; i++) {
  await deliver(
    exampleEvent("user.deleted", {
      userId: `user_2q${(1e6 + i * 7919).toString(36)}Demo${i}`,
      now: new Date(),
    }) as unknown as Record<string, unknown>,
    "development",
  );
}
for (let i = 0; i < 5; i++)
  await deliver({ type: "session.created", object: "event", data: { id: `sess_${i}` } }, "development");
const again = await deliver(user("user.created", 100), "development");
await deliver(user("user.created", 100), "development", { svixId: again }); // duplicate: answered, not logged twice
for (let i = 0; i < 3; i++)
  await deliver(user("user.created", 200 + i), "production", {
    secret: "whsec_c3RyYW5nZXJzZWNyZXRub2JvZHlrbm93czEyMzQ=",
  });
await sync.handle({ body: "{}", headers: { "content-type": "application/json" } }); // missing_headers

// A past for the chart: every row but the newest dozen moved back to a random minute of the last hour.
await sync.database.query(
  `update webhook_deliveries set received_at = received_at - (random() * interval '58 minutes')
    where svix_id not in (select svix_id from webhook_deliveries order by received_at desc limit 12)`,
);
// The newest few, now: what a live list shows.
for (let i = 300; i < 304; i++) await deliver(user("user.created", i), i % 2 ? "production" : "development");
await deliver(user("user.updated", 300), "development");

const sizes: Record<string, { raw: number; gzip: number }> = {};
for (const path of ["/", "/console/app.js", "/console/app.css", "/console/icon.svg"]) {
  const body = Buffer.from(await (await fetch(base + path)).arrayBuffer());
  sizes[path] = { raw: body.length, gzip: gzipSync(body).length };
}
const total = (k: "raw" | "gzip") =>
  ["/", "/console/app.js", "/console/app.css"].reduce((s, p) => s + (sizes[p]?.[k] ?? 0), 0);
console.log(JSON.stringify({ sizes, htmlJsCss: { raw: total("raw"), gzip: total("gzip") } }));

const signIn = await fetch(`${base}/console/api/session`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ token: TOKEN }),
});
const session = String(signIn.headers.get("set-cookie")).split(";")[0]?.split("=")[1] ?? "";

// Each API call the page makes on load, alone: the median of 20.
const api: Record<string, number> = {};
for (const path of ["setup", "deliveries?limit=50", "refusals?limit=100", "summary?range=hour"]) {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    await (
      await fetch(`${base}/console/api/${path}`, { headers: { cookie: `cus_console=${session}` } })
    ).text();
    times.push(performance.now() - started);
  }
  api[path.split("?")[0] as string] = Math.round((times.sort((a, b) => a - b)[10] ?? 0) * 10) / 10;
}
console.log(JSON.stringify({ apiMedianMs: api }));

const profile = mkdtempSync(join(tmpdir(), "cus-bench-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1360, height: 900 },
  deviceScaleFactor: 1,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
await browser.addCookies([
  { name: "cus_console", value: session, url: base, httpOnly: true, sameSite: "Strict" },
]);

const runs: { fcp: number; rows: number; dcl: number }[] = [];
for (let i = 0; i < 6; i++) {
  const page = await browser.newPage();
  await page.goto(base);
  await page.locator("#delivery-rows tr[data-svix-id]").first().waitFor();
  const timing = (await page.evaluate(`(() => {
    const paint = performance.getEntriesByName("first-contentful-paint")[0];
    const nav = performance.getEntriesByType("navigation")[0];
    return { fcp: paint ? paint.startTime : -1, dcl: nav.domContentLoadedEventEnd, rows: performance.now() };
  })()`)) as { fcp: number; rows: number; dcl: number };
  if (i > 0) runs.push(timing); // the first warms the server's JIT
  await page.close();
}
const median = (k: "fcp" | "rows" | "dcl") => {
  const sorted = runs.map((r) => r[k]).sort((a, b) => a - b);
  return Math.round((sorted[Math.floor(sorted.length / 2)] ?? 0) * 10) / 10;
};
console.log(
  JSON.stringify({
    runs: runs.length,
    medianMs: {
      firstContentfulPaint: median("fcp"),
      domContentLoaded: median("dcl"),
      firstRows: median("rows"),
    },
  }),
);

if (args.shots) {
  for (const [scheme, file] of [
    ["light", "docs/console.png"],
    ["dark", "docs/console-dark.png"],
  ] as const) {
    const page = await browser.newPage();
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(base);
    await page.locator("#delivery-rows tr[data-svix-id]").first().waitFor();
    await page.locator("#lookup input[name=query]").fill("grace.hopper@example.org");
    await page.locator("#lookup button[type=submit]").click();
    await page.locator("#lookup-result article").waitFor();
    await page.locator("#chart svg").waitFor();
    await page.screenshot({ path: file, fullPage: true });
    await page.close();
  }
}

await browser.close();
rmSync(profile, { recursive: true, force: true });
await app.close();
await sync.close();
