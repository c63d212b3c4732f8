import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import semver from "semver";
import { describe, expect, it } from "vitest";

/**
 * `engines.node` tells the truth: every package an install of clerk-user-sync brings (its production dependency
 * tree, as installed here) runs on every Node.js version the range admits, and the range admits the lowest one
 * they all run on. CI runs the whole suite on that lowest version.
 */

/**
 * What the dependencies' own `engines` do not say, found by running the suite on the lowest version they admit.
 * Each raises the floor; none may be added without the failure that proves it.
 */
const UNDECLARED: { range: string; why: string }[] = [
  {
    range: ">=22.12",
    why:
      "cookie@2 (engines >=22) is ESM only, and light-my-request (fastify's, CommonJS) require()s it: " +
      "require(esm) works without a flag from Node.js 22.12; on 22.0 the service's every request fails ERR_REQUIRE_ESM",
  },
];
const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Manifest {
  name: string;
  version: string;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;

/** Where Node.js finds `name` from `dir`: the nearest node_modules up the tree. */
function locate(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The installed production dependency tree of the package at `root`, each package once. */
function productionTree(root: string): Map<string, Manifest> {
  const found = new Map<string, Manifest>();
  const visit = (dir: string) => {
    const { dependencies = {}, optionalDependencies = {} } = manifest(dir);
    for (const name of Object.keys({ ...dependencies, ...optionalDependencies })) {
      const at = locate(name, dir);
      if (at === undefined) {
        if (name in optionalDependencies) continue;
        throw new Error(`${name}, a dependency of ${dir}, is not installed`);
      }
      if (found.has(at)) continue;
      found.set(at, manifest(at));
      visit(at);
    }
  };
  visit(root);
  return found;
}

describe("engines.node", () => {
  const declared = manifest(ROOT).engines?.node ?? "*";
  const tree = [...productionTree(ROOT).values()];
  const constrained = tree.filter((m) => m.engines?.node !== undefined);

  it("walks a real tree", () => {
    expect(tree.map((m) => m.name)).toEqual(expect.arrayContaining(["pg", "drizzle-orm", "fastify"]));
    expect(constrained.length).toBeGreaterThan(5);
  });

  it("is within what every runtime dependency declares", () => {
    const outside = constrained
      .filter((m) => !semver.subset(declared, m.engines?.node as string))
      .map((m) => `${m.name}@${m.version} wants ${m.engines?.node}`);
    expect(outside).toEqual([]);
  });

  it("admits the lowest version they all run on: it is not stricter than they and the known gaps are", () => {
    const lowest = [...constrained.map((m) => m.engines?.node as string), ...UNDECLARED.map((u) => u.range)]
      .map((range) => semver.minVersion(range)?.version ?? "0.0.0")
      .reduce((a, b) => (semver.gt(a, b) ? a : b));
    expect(semver.minVersion(declared)?.version).toBe(lowest);
  });
});
