import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The package as published: built, then packed with `npm pack`. */
    tarball: string;
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Builds and packs the package once for every app. */
export default async function setup(project: TestProject): Promise<() => void> {
  const run = promisify(execFile);
  const work = mkdtempSync(join(tmpdir(), "cus-tarball-"));
  await run("npm", ["run", "build", "--silent"], { cwd: ROOT });
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: ROOT });
  const [info] = JSON.parse(stdout) as { filename: string }[];
  project.provide("tarball", join(work, info?.filename ?? ""));
  return () => rmSync(work, { recursive: true, force: true });
}
