import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/database.js";
import { createMetrics, watchFreshness } from "../src/service/metrics.js";

/**
 * The shipped alert rules (deploy/prometheus), checked by Prometheus's own parser and rule tester. Skipped where
 * promtool is not installed; CI installs it (scripts/ensure-promtool.sh) and sets CLERK_USER_SYNC_TEST_PROMTOOL
 * (the command, or any value for `promtool` on the PATH), and then a missing promtool fails the suite.
 */
const REQUIRED = Boolean(process.env.CLERK_USER_SYNC_TEST_PROMTOOL);
const PROMTOOL = /\//.test(process.env.CLERK_USER_SYNC_TEST_PROMTOOL ?? "")
  ? (process.env.CLERK_USER_SYNC_TEST_PROMTOOL as string)
  : "promtool";
const DIR = new URL("../deploy/prometheus/", import.meta.url).pathname;
const RULES = `${DIR}clerk-user-sync.rules.yml`;
const run = promisify(execFile);

const available = await run(PROMTOOL, ["--version"]).then(
  () => true,
  (error: unknown) => {
    if (REQUIRED)
      throw new Error(`CLERK_USER_SYNC_TEST_PROMTOOL is set but ${PROMTOOL} does not run: ${error}`);
    return false;
  },
);

describe.runIf(available)("the alert rules, with promtool", () => {
  it("parse: promtool check rules", async () => {
    const { stdout } = await run(PROMTOOL, ["check", "rules", RULES]);
    expect(stdout).toMatch(/SUCCESS: 4 rules found/);
  });

  it("fire when they should and only then: promtool test rules", async () => {
    const { stdout } = await run(PROMTOOL, ["test", "rules", "clerk-user-sync.rules.test.yml"], { cwd: DIR });
    expect(stdout).toMatch(/SUCCESS/);
  });

  it("fail the check on a broken rule (the check can fail)", async () => {
    const broken = readFileSync(RULES, "utf8").replace(
      "max by (environment, kind)",
      "max by (environment, kind",
    );
    const dir = mkdtempSync(join(tmpdir(), "cus-rules-"));
    try {
      writeFileSync(join(dir, "broken.rules.yml"), broken);
      await expect(run(PROMTOOL, ["check", "rules", join(dir, "broken.rules.yml")])).rejects.toMatchObject({
        code: 1,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the alert rules and the service", () => {
  it("name only metrics the service exports", async () => {
    const named = new Set(readFileSync(RULES, "utf8").match(/clerk_user_sync_[a-z_]+/g));
    const db = await openDatabase(undefined, { dataDir: "memory://" });
    try {
      const metrics = createMetrics();
      watchFreshness(metrics.registry, db);
      const exported = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
      expect(named.size).toBeGreaterThan(3);
      for (const name of named) expect(exported, name).toContain(name);
    } finally {
      await db.close();
    }
  });
});
