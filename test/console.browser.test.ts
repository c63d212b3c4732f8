import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends } from "./support/backends.js";
import { userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { SECRETS } from "./support/sign.js";

/**
 * The console in a real browser: Debian's chromium driven by playwright-core. Skipped, saying so, where chromium is
 * not installed; CI installs it (scripts/ensure-chromium.sh) and sets CLERK_USER_SYNC_TEST_CHROMIUM, and then a
 * missing browser fails the suite instead.
 */
const CHROMIUM = process.env.CLERK_USER_SYNC_TEST_CHROMIUM || "/usr/bin/chromium";
const REQUIRED = Boolean(process.env.CLERK_USER_SYNC_TEST_CHROMIUM || process.env.CI);
const present = existsSync(CHROMIUM);
if (!present && REQUIRED) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-chromium.sh`);
if (!present)
  console.warn(`console browser tests skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);

const TOKEN = "browser-console-token-31d9";
const [backend] = await backends();

/** A fresh chromium profile, headless, nothing reaching out to the network on its own. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), "cus-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function listen(h: Harness): Promise<string> {
  await h.app.listen({ port: 0, host: "127.0.0.1" });
  const address = h.app.server.address();
  if (!address || typeof address === "string") throw new Error("not listening");
  return `http://127.0.0.1:${address.port}/`;
}

/** Errors the page reports: a CSP violation, a script error, a failed request. */
function problems(page: Page): string[] {
  const seen: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") seen.push(m.text());
  });
  page.on("pageerror", (e) => seen.push(e.message));
  return seen;
}

function event(id: string, email = `${id}@example.org`) {
  return userEvent("user.created", {
    id,
    email_addresses: [{ id: "idn_b", email_address: email, object: "email_address" }],
    primary_email_address_id: "idn_b",
    first_name: "Browser",
    updated_at: Date.now(),
  });
}

describe.runIf(present && backend)("the console in chromium", () => {
  let h: Harness;
  let local: Harness;
  let url: string;
  let localUrl: string;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  beforeAll(async () => {
    const b = backend as NonNullable<typeof backend>;
    [h, local, browser] = await Promise.all([
      openHarness(b, { console: { access: { mode: "token", token: TOKEN }, host: "0.0.0.0" } }),
      openHarness(b, {
        console: { access: { mode: "local" }, host: "127.0.0.1", exampleSecret: SECRETS.development },
      }),
      launchChromium(),
    ]);
    [url, localUrl] = await Promise.all([listen(h), listen(local)]);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([h?.close(), local?.close()]);
  });

  it("refuses a wrong token, lets the right one in, shows a delivery within 2 s, filters, looks a user up", async () => {
    const page = await browser.context.newPage();
    const errors = problems(page);
    await page.goto(url);
    // Keyboard only: the token field has the focus, Enter submits.
    await page.locator("#token").waitFor();
    expect(await page.evaluate("document.activeElement.id")).toBe("token");
    await page.keyboard.type("not-the-token");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#sign-in-error").textContent()).toContain("not the console token");
    expect(await page.locator("#app").isHidden()).toBe(true);

    await page.locator("#token").fill(TOKEN);
    await page.keyboard.press("Enter");
    await page.locator("#app").waitFor();
    expect(await page.locator("#access").textContent()).toContain("Signed in with CONSOLE_TOKEN");
    expect(await page.locator("#webhook-url").inputValue()).toBe(`${url}api/user/webhook/clerk`);
    const cookies = await browser.context.cookies(url);
    expect(cookies.find((c) => c.name === "cus_console")).toMatchObject({
      httpOnly: true,
      sameSite: "Strict",
    });

    // Live: a delivery the test sends shows up without a reload, within 2 s.
    const dev = await h.post(event("user_browser_dev", "grace.browser@example.org"));
    const posted = Date.now();
    await page.locator(`tr[data-svix-id="${dev.svixId}"]`).waitFor({ timeout: 2000 });
    expect(Date.now() - posted).toBeLessThan(2000);
    const row = await page.locator(`tr[data-svix-id="${dev.svixId}"]`).textContent();
    expect(row).toContain("development");
    expect(row).toContain("user.created");
    expect(row).toContain("applied");
    expect(row).toContain("user_browser_dev");
    expect(await page.locator("#live-status").textContent()).toContain("New delivery");

    // Filters: production only.
    const prod = await h.post(event("user_browser_prod"), { env: "production" });
    await page.locator(`tr[data-svix-id="${prod.svixId}"]`).waitFor({ timeout: 2000 });
    await page.locator("#filters select[name=environment]").selectOption("production");
    await page.locator(`tr[data-svix-id="${dev.svixId}"]`).waitFor({ state: "detached", timeout: 2000 });
    expect(await page.locator(`tr[data-svix-id="${prod.svixId}"]`).count()).toBe(1);
    expect(await page.locator("#delivery-rows tr").allInnerTexts()).toEqual([
      expect.stringContaining("production"),
    ]);
    await page.locator("#filters select[name=outcome]").selectOption("stale");
    await expect.poll(() => page.locator("#delivery-rows").textContent()).toContain("No delivery matches");
    await page.locator("#filters select[name=environment]").selectOption("");
    await page.locator("#filters select[name=outcome]").selectOption("");
    await page.locator(`tr[data-svix-id="${dev.svixId}"]`).waitFor({ timeout: 2000 });

    // A user, by email, with its columns and raw_payload.
    await page.locator("#lookup input[name=query]").fill("grace.browser@example.org");
    await page.locator("#lookup button[type=submit]").click();
    const found = page.locator("#lookup-result article");
    await found.waitFor();
    expect(await found.textContent()).toContain("user_browser_dev");
    await found.locator("summary").click();
    expect(JSON.parse((await found.locator("pre").textContent()) ?? "")).toMatchObject({
      id: "user_browser_dev",
      first_name: "Browser",
    });

    // The chart and the counts (refreshed every 5 s) come from the same service.
    const slow = { timeout: 7000 };
    await expect.poll(() => page.locator("#chart svg").getAttribute("aria-label"), slow).toMatch(/2 applied/);
    await expect.poll(() => page.locator("#counts dd").first().textContent(), slow).toBe("1");

    await page.locator("#sign-out").click();
    await page.locator("#sign-in").waitFor();
    expect(await browser.context.cookies(url)).toEqual([]);
    // The only errors: the refused sign-in and the refused requests after signing out (401s).
    expect(errors.filter((e) => !/401/.test(e))).toEqual([]);
    await page.close();
  });

  it("in a local run: open, says it listens on loopback, and its button sends an example that appears", async () => {
    const page = await browser.context.newPage();
    const errors = problems(page);
    await page.goto(localUrl);
    await page.locator("#app").waitFor();
    expect(await page.locator("#access").textContent()).toContain("listening on 127.0.0.1 only");
    expect(await page.locator("#sign-in").isHidden()).toBe(true);
    await page.locator("#example-user").fill("user_browser_example");
    await page.getByRole("button", { name: "Send user.created" }).click();
    await expect.poll(() => page.locator("#example-result").textContent()).toContain("200 applied");
    const svixId = /\((msg_\w+)\)/.exec((await page.locator("#example-result").textContent()) ?? "")?.[1];
    await page.locator(`tr[data-svix-id="${svixId}"]`).waitFor({ timeout: 2000 });
    expect((await local.users()).map((u) => u.clerk_user_id)).toContain("user_browser_example");

    // Billing's example, paid for by that user: its lookup shows the plan in force and the item.
    await page.getByRole("button", { name: "Send subscription.created" }).click();
    await expect
      .poll(() => page.locator("#example-result").textContent())
      .toMatch(/^subscription\.created .*200 applied/);
    await page.locator("#lookup input[name=query]").fill("user_browser_example");
    await page.locator("#lookup button[type=submit]").click();
    const billing = page.locator('#lookup-result article[aria-label="User user_browser_example"] .billing');
    await billing.waitFor();
    expect(await billing.locator(".plan").textContent()).toContain("Plan in force: pro-plan (active)");
    expect(await billing.locator("tbody tr").allInnerTexts()).toEqual([
      expect.stringMatching(/csub_item_\w+\s+pro-plan\s+active/),
    ]);
    await expect
      .poll(() => page.locator("#counts").textContent(), { timeout: 7000 })
      .toContain("Billing subscriptions1");
    expect(errors).toEqual([]);
    await page.close();
  });
});
