import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project's root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** What the CLI reads from the environment: never inherited from the developer's shell. */
export const CONFIG =
  /^(DEV_|PROD_)?CLERK_|^(DATABASE_URL|DATA_DIR|PORT|HOST|LOG_LEVEL|LOG_FORMAT|CONSOLE_TOKEN|METRICS_TOKEN|SHUTDOWN_TIMEOUT|PRUNE_.*)$/;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `clerk-user-sync …` in a child process, as an operator would, with only the given configuration (the rest of
 * this process's environment, less anything the CLI reads). It runs the build (`dist/`, as the published bin does),
 * built again first when a source is newer: compiling the sources in every child instead (tsx) cost about a second
 * of CPU a command.
 */
export function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  ensureBuilt();
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !CONFIG.test(name)));
  const child = spawn(process.execPath, ["dist/cli/main.js", ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

let built = false;

/** Builds `dist/` (`npm run build`) unless it is newer than every source, once per test file. */
function ensureBuilt(): void {
  if (built) return;
  const bin = join(ROOT, "dist/cli/main.js");
  const src = join(ROOT, "src");
  const newest = Math.max(
    ...readdirSync(src, { recursive: true, encoding: "utf8" }).map((f) => statSync(join(src, f)).mtimeMs),
  );
  if (!existsSync(bin) || statSync(bin).mtimeMs < newest) {
    execFileSync(
      process.execPath,
      [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
      {
        cwd: ROOT,
      },
    );
  }
  built = true;
}
